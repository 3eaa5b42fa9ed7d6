import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainCore, type TrainHeartbeat } from '../../activities/train.ts';
import type { ArtifactRef, StageResult } from '../../src/core/plan.ts';
import { loadModel } from '../../src/ml/train/checkpoint.ts';
import { stageInput, tempDir, testEnv } from '../support/data.ts';
import { storedBothWays, threeClassRows } from '../support/chunks.ts';
import { ref } from '../support/pipelines.ts';
import { imageDataset } from '../../src/ml/data/dataset.ts';
import { Rng } from '../../src/ml/data/rng.ts';

const env = testEnv();
const mlp = (extra: Record<string, unknown> = {}) => ({
  model: {
    layers: [
      { type: 'dense', units: 12, activation: 'relu' },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.02 },
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
  epochs: 3,
  batchSize: 16,
  seed: 4,
  ...extra,
});

async function weights(t: StageResult): Promise<Float32Array[]> {
  const { model } = await loadModel(await env.store.get(ref(t, 'model')));
  const out = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return out;
}

const train = (dataset: ArtifactRef, cfg: Record<string, unknown>) => trainCore(stageInput('train', cfg, { dataset }), env);
const history = async (t: StageResult) =>
  JSON.parse((await env.store.get(ref(t, 'history'))).toString()).history as { epoch: number; logs: Record<string, number> }[];

describe('train over a chunked dataset', () => {
  let stored: { chunked: ArtifactRef; whole: ArtifactRef };
  beforeAll(async () => {
    process.env.MLPIPE_HOME = join(tempDir(), 'home');
    // 1000 rows in chunks of 200: 5 chunks, each with rows of every split; 700 training rows
    stored = await storedBothWays(threeClassRows(1000), 200, env);
  });

  it('without shuffle, 5 chunks train the very batches of the gathered dataset: the same weights and logs', async () => {
    const a = await train(stored.chunked, mlp({ shuffle: false }));
    const b = await train(stored.whole, mlp({ shuffle: false }));
    const [wa, wb] = [await weights(a), await weights(b)];
    expect(wa.length).toBe(4);
    wa.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(wb[i]!)));
    const [ha, hb] = [await history(a), await history(b)];
    expect(ha.map((h) => h.logs)).toEqual(hb.map((h) => h.logs));
    expect(ha[0]!.logs.val_loss).toBeGreaterThan(0);
    expect(a.outputs).toMatchObject({ epochs: 3 });
  });

  it('with shuffle, it learns (loss falls, validation accuracy high) and the same seed gives the same model', async () => {
    const cfg = mlp({ epochs: 8 });
    const a = await train(stored.chunked, cfg);
    const b = await train(stored.chunked, cfg);
    const h = await history(a);
    expect(h.at(-1)!.logs.loss).toBeLessThan(h[0]!.logs.loss! * 0.7);
    expect(a.outputs.val_accuracy as number).toBeGreaterThan(0.85);
    const [wa, wb] = [await weights(a), await weights(b)];
    wa.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(wb[i]!)));
    // the shuffled order is not the file order: the weights differ from an unshuffled run's
    const c = await weights(await train(stored.chunked, { ...cfg, shuffle: false }));
    expect(Array.from(c[0]!)).not.toEqual(Array.from(wa[0]!));
  });

  it('validationSplit takes the last training rows over all chunks, as in memory; balanced class weights agree', async () => {
    const noVal = threeClassRows(600, 3);
    delete noVal.splits!.validation;
    const s = await storedBothWays(noVal, 150, env);
    const cfg = mlp({ shuffle: false, validationSplit: 0.2, classWeights: 'balanced', epochs: 2 });
    const [ha, hb] = [await history(await train(s.chunked, cfg)), await history(await train(s.whole, cfg))];
    expect(ha.map((h) => h.logs)).toEqual(hb.map((h) => h.logs));
    expect(ha[0]!.logs.val_loss).toBeGreaterThan(0);
    // the counting pass over the chunks heartbeats (a long read does not look like a dead worker)
    expect(env.beats.some((b) => (b as { progress?: { message?: string } }).progress?.message === 'reading the dataset')).toBe(true);
  });

  it('a NaN in chunk 3 names its source line and column, and no model is written', async () => {
    const ds = threeClassRows(1000);
    const row = 2 * 200 + 21; // a training row of the third chunk (row 421, line 423)
    (ds.columns[1] as { data: Float32Array }).data[row] = Number.NaN;
    const s = await storedBothWays(ds, 200, env);
    const input = stageInput('train', mlp(), { dataset: s.chunked }, 'test/nan-run');
    await expect(trainCore(input, env)).rejects.toThrow(
      /d\.csv line 423, column "f1": the feature is missing \(NaN\) when it reaches training/,
    );
    expect((await env.store.list('test/nan-run')).filter((r) => r.ref.kind === 'model')).toEqual([]);
  });

  it('augment: image batches augmented per (seed, epoch, batch), chunked or in memory alike; tabular features refused', async () => {
    // 6×6 images: a bright bar in the top half (class 0) or the bottom half (class 1); flips left-right keep the class
    const n = 240;
    const rng = new Rng(9);
    const images = new Float32Array(n * 36);
    const labels = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      const row = (i % 2 ? 3 : 0) + rng.int(3);
      for (let c = 0; c < 6; c++) images[i * 36 + row * 6 + c] = 0.6 + 0.4 * rng.next();
    }
    const ds = imageDataset(6, images, labels);
    ds.splits = { train: Uint32Array.from({ length: 200 }, (_, i) => i), validation: Uint32Array.from({ length: 40 }, (_, i) => 200 + i) };
    const s = await storedBothWays(ds, 60, env);
    const cnn = mlp({
      model: {
        layers: [{ type: 'flatten' }, { type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 2, activation: 'softmax' }],
      },
      shuffle: false,
      epochs: 4,
      augment: { flipHorizontal: true, shiftPixels: 1, brightness: 0.1, seed: 3 },
    });
    const [a, b] = [await train(s.chunked, cnn), await train(s.whole, cnn)];
    const [wa, wb] = [await weights(a), await weights(b)];
    // the same batches (no shuffle) get the same augmentations whether the rows came in chunks or not
    wa.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(wb[i]!)));
    const plain = await weights(await train(s.chunked, { ...cnn, augment: undefined }));
    expect(Array.from(plain[0]!)).not.toEqual(Array.from(wa[0]!));
    expect(a.outputs.val_accuracy as number).toBeGreaterThan(0.9);
    await expect(train(stored.chunked, mlp({ augment: { flipHorizontal: true } }))).rejects.toThrow(
      /augment needs image features of shape \[h, w\] or \[h, w, c\]; these are \[3\]/,
    );
  });

  it('a run cancelled after its epoch-2 checkpoint resumes there and ends with the weights of an uninterrupted run', async () => {
    const cfg = mlp({ epochs: 4, checkpoint: { everyEpochs: 2 } });
    const whole = await weights(await trainCore(stageInput('train', cfg, { dataset: stored.chunked }, 'test/resume-a'), env));
    const ac = new AbortController();
    const beats: TrainHeartbeat[] = [];
    const first = {
      ...env,
      signal: ac.signal,
      heartbeat: (d: unknown) => {
        beats.push(d as TrainHeartbeat);
        if ((d as TrainHeartbeat).checkpoint?.epoch === 2) ac.abort();
      },
    };
    await expect(trainCore(stageInput('train', cfg, { dataset: stored.chunked }, 'test/resume-b'), first)).rejects.toThrow(/cancelled/);
    const again = { ...env, attempt: 2, heartbeatDetails: beats.at(-1) };
    const r = await trainCore(stageInput('train', cfg, { dataset: stored.chunked }, 'test/resume-b'), again);
    expect(JSON.parse((await env.store.get(ref(r, 'history'))).toString()).resumedFromEpoch).toBe(2);
    const resumed = await weights(r);
    resumed.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(whole[i]!)));
  });

  it('reads each chunk once per epoch for training and once for validation when the manifest names the classes and splits', async () => {
    const reads: string[] = [];
    const store = new Proxy(env.store, {
      get(target, prop, receiver) {
        if (prop === 'get') {
          return (r: ArtifactRef) => {
            reads.push(r.digest);
            return target.get(r);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await trainCore(stageInput('train', mlp({ epochs: 1 }), { dataset: stored.chunked }), { ...env, store });
    // the manifest, the first chunk (the features' shape), 5 chunks of training and 5 of validation rows; no survey pass
    const chunkReads = reads.filter((d) => d !== stored.chunked.digest);
    expect(chunkReads.length).toBe(11);
    expect(new Set(chunkReads).size).toBe(5);
  });
});

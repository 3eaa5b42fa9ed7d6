import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { heartbeatCheckpoint, trainCore, type TrainHeartbeat } from '../../activities/train.ts';
import { reportPath } from '../../src/ml/report/report.ts';
import { stageInput } from '../support/data.ts';
import { irisSchema, prepared, ref, trainAndEvaluate } from '../support/pipelines.ts';

const irisSteps = [
  { type: 'labelEncode', columns: ['species'] },
  { type: 'standardize' },
  { type: 'split', train: 0.8, test: 0.2, seed: 7, stratify: true },
];
const irisTrain = {
  model: {
    layers: [
      { type: 'dense', units: 16, activation: 'relu' },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.02 },
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
  epochs: 40,
  batchSize: 16,
  seed: 1,
};

describe('train + evaluate: tabular', () => {
  it('Iris MLP reaches ≥ 93% mean test accuracy over three stratified splits; outputs, gates and the report are there', async () => {
    // 30 test flowers per split: one flower is 3.3 points, so a single split says little; the
    // mean over three seeded splits is the bar (scikit-learn's MLPClassifier lands in the same range).
    const accs: number[] = [];
    for (const seed of [1, 2, 3]) {
      const steps = irisSteps.map((s) => (s.type === 'split' ? { ...s, seed } : s));
      const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, steps, `iris/run-${seed}`);
      const { t, e } = await trainAndEvaluate(prep, irisTrain, {
        metrics: ['accuracy', 'f1Macro', 'confusionMatrix', 'rocAuc'],
        gates: [{ metric: 'accuracy', min: 0.8 }],
      });
      accs.push(e.outputs.accuracy as number);
      console.log(
        `iris split ${seed}: test accuracy ${e.outputs.accuracy}, f1Macro ${e.outputs.f1Macro}, rocAuc ` +
          `${e.outputs.rocAuc}, backend ${t.outputs.backend}`,
      );
      expect(t.outputs).toMatchObject({ epochs: 40, model: { kind: 'model' }, history: { kind: 'metrics' } });
      expect(typeof t.outputs.accuracy).toBe('number');
      expect(t.outputs.backend).toMatch(/^(tensorflow|tensorflow-gpu|cpu-js)$/);
      expect(t.outputs.engine).toBe(t.outputs.backend === 'cpu-js' ? 'eager' : 'graph');
      expect(e.outputs.passed).toBe(true);
      expect((e.outputs.confusionMatrix as number[][]).flat().reduce((a, b) => a + b)).toBe(30);
      expect(e.outputs.rocAuc as number).toBeGreaterThan(0.95);
      const html = readFileSync(reportPath(`iris/run-${seed}`), 'utf8');
      expect(html).toContain('<svg');
      expect(html).toContain('confusion matrix');
      expect(html).toContain('Lineage');
      expect(html).toContain(t.outputs.engine === 'graph' ? 'graph training step' : 'eager ops');
      expect(html).toContain('versicolor');
    }
    const mean = accs.reduce((a, b) => a + b) / accs.length;
    console.log(`iris: mean test accuracy ${mean.toFixed(4)}`);
    expect(mean).toBeGreaterThanOrEqual(0.93);
  });

  it('a regression MLP reaches R² ≥ 0.95 on synthetic data (noise 0.5)', async () => {
    const prep = await prepared(
      { source: { type: 'synthetic', generator: 'regression', samples: 600, features: 4, noise: 0.5, seed: 3 } },
      [{ type: 'split', train: 0.8, test: 0.2, seed: 1 }],
      'reg/run-1',
    );
    const { e } = await trainAndEvaluate(
      prep,
      {
        model: {
          layers: [
            { type: 'dense', units: 16, activation: 'relu' },
            { type: 'dense', units: 1 },
          ],
        },
        optimizer: { type: 'adam', learningRate: 0.01 },
        loss: 'meanSquaredError',
        metrics: ['mae'],
        epochs: 40,
        batchSize: 32,
        seed: 1,
      },
      { metrics: ['r2', 'mse', 'mae'], gates: [{ metric: 'r2', min: 0.95 }] },
    );
    console.log(`regression: test R² ${e.outputs.r2}, mse ${e.outputs.mse}`);
    expect(e.outputs.r2 as number).toBeGreaterThanOrEqual(0.95);
    expect(e.outputs.passed).toBe(true);
  });

  it('refuses a last layer that does not fit the classes, naming the fix', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps);
    const bad = { ...irisTrain, model: { layers: [{ type: 'dense', units: 2, activation: 'softmax' }] } };
    await expect(trainCore(stageInput('train', bad, { dataset: prep.dataset }), prep.env)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/last layer has 2 units.*needs 3 \(3 classes\)/),
    });
  });
});

describe('train: checkpoints, resume, cancellation', () => {
  const cfg: Record<string, unknown> = { ...irisTrain, epochs: 6, checkpoint: { everyEpochs: 2, keepLast: 2 } };

  it('a retry resumes from the checkpoint in the heartbeat details, not from epoch 0', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'ckpt/run-1');
    // First attempt: cancelled once epoch 4's checkpoint is written (as a killed worker would stop).
    const ac = new AbortController();
    const beats: TrainHeartbeat[] = [];
    const env1 = {
      ...prep.env,
      signal: ac.signal,
      heartbeat: (d: unknown) => {
        beats.push(d as TrainHeartbeat);
        if ((d as TrainHeartbeat).checkpoint?.epoch === 4) ac.abort();
      },
    };
    await expect(trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-1'), env1)).rejects.toMatchObject({
      name: 'CancelledFailure',
      message: expect.stringMatching(/last checkpoint \(epoch 4\) is kept/),
    });
    const last = beats.at(-1)!;
    expect(last).toMatchObject({ progress: { epoch: 4, epochs: 6 }, checkpoint: { epoch: 4 } });
    expect(last.checkpoint?.ref.digest).toMatch(/^sha256:/);
    expect(typeof last.progress.loss).toBe('number');
    expect(await prep.env.store.stat(last.checkpoint!.ref)).not.toBeNull();
    // Second attempt with the last heartbeat's details.
    const beats2: TrainHeartbeat[] = [];
    const env2 = { ...prep.env, attempt: 2, heartbeatDetails: last, heartbeat: (d: unknown) => beats2.push(d as TrainHeartbeat) };
    const r = await trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-1'), env2);
    expect(beats2[0]).toMatchObject({ progress: { epoch: 4 }, checkpoint: { epoch: 4 } });
    const epochEnds = beats2.filter((b) => b.progress.batch === undefined).map((b) => b.progress.epoch);
    expect(Math.min(...epochEnds)).toBe(4);
    expect(epochEnds).toContain(6);
    expect(r.outputs.epochs).toBe(6);
    const history = JSON.parse((await prep.env.store.get(ref(r, 'history'))).toString()) as {
      resumedFromEpoch: number;
      history: { epoch: number }[];
    };
    expect(history.resumedFromEpoch).toBe(4);
    expect(history.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3, 4, 5]);
    // keepLast 2: only the newest two checkpoints stay recorded.
    const cps = (await prep.env.store.list('ckpt/run-1')).filter((x) => x.lineage.name?.startsWith('checkpoint-'));
    expect(cps.map((x) => x.lineage.name)).toEqual(['checkpoint-epoch-4', 'checkpoint-epoch-6']);
    const cp2 = beats.find((b) => b.checkpoint?.epoch === 2)!.checkpoint!.ref;
    expect(await prep.env.store.stat(cp2)).toBeNull(); // its bytes are gone too
  });

  it("without heartbeat details a retry falls back to the run's latest checkpoint of the stage", async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'ckpt/run-2');
    const ac = new AbortController();
    const env1 = {
      ...prep.env,
      signal: ac.signal,
      heartbeat: (d: unknown) => {
        if ((d as TrainHeartbeat).checkpoint?.epoch === 2) ac.abort();
      },
    };
    await expect(trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-2'), env1)).rejects.toThrow(/cancelled/);
    const beats: TrainHeartbeat[] = [];
    const r = await trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-2'), {
      ...prep.env,
      attempt: 2,
      heartbeatDetails: undefined,
      heartbeat: (d: unknown) => beats.push(d as TrainHeartbeat),
    });
    expect(beats[0]).toMatchObject({ progress: { epoch: 2 }, checkpoint: { epoch: 2 } });
    expect(r.outputs.epochs).toBe(6);
  });

  it('a retry resumes from the flat heartbeat an older worker sent (a worker upgraded mid-run)', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'ckpt/run-4');
    const ac = new AbortController();
    const beats: TrainHeartbeat[] = [];
    const env1 = {
      ...prep.env,
      signal: ac.signal,
      heartbeat: (d: unknown) => {
        beats.push(d as TrainHeartbeat);
        if ((d as TrainHeartbeat).checkpoint?.epoch === 4) ac.abort();
      },
    };
    await expect(trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-4'), env1)).rejects.toThrow(/cancelled/);
    // The old worker's last heartbeat named epoch 2's checkpoint; the run's newest (the fallback) is epoch 4's.
    const cp2 = beats.find((b) => b.checkpoint?.epoch === 2)!.checkpoint!.ref;
    const flat = { stage: 'train', epoch: 2, epochs: 6, checkpoint: cp2, checkpointEpoch: 2, metrics: { loss: 0.5 } };
    expect(heartbeatCheckpoint(flat)).toEqual(cp2);
    expect(heartbeatCheckpoint({ ...flat, checkpoint: null, checkpointEpoch: null })).toBeUndefined();
    const beats2: TrainHeartbeat[] = [];
    const r = await trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-4'), {
      ...prep.env,
      attempt: 2,
      heartbeatDetails: flat,
      heartbeat: (d: unknown) => beats2.push(d as TrainHeartbeat),
    });
    expect(beats2[0]).toMatchObject({ progress: { epoch: 2 }, checkpoint: { epoch: 2, ref: { digest: cp2.digest } } });
    expect(r.outputs.epochs).toBe(6);
  });

  it('a corrupt checkpoint is skipped for the previous one', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'ckpt/run-3');
    const ac = new AbortController();
    const beats: TrainHeartbeat[] = [];
    const env1 = {
      ...prep.env,
      signal: ac.signal,
      heartbeat: (d: unknown) => {
        beats.push(d as TrainHeartbeat);
        if ((d as TrainHeartbeat).checkpoint?.epoch === 4) ac.abort();
      },
    };
    await expect(trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-3'), env1)).rejects.toThrow(/cancelled/);
    const last = beats.at(-1)!;
    writeFileSync(fileURLToPath(last.checkpoint!.ref.uri), 'garbage');
    const beats2: TrainHeartbeat[] = [];
    const r = await trainCore(stageInput('train', cfg, { dataset: prep.dataset }, 'ckpt/run-3'), {
      ...prep.env,
      attempt: 2,
      heartbeatDetails: last,
      heartbeat: (d: unknown) => beats2.push(d as TrainHeartbeat),
    });
    expect(beats2[0]).toMatchObject({ progress: { epoch: 2 }, checkpoint: { epoch: 2 } });
    expect(r.outputs.epochs).toBe(6);
  });
});

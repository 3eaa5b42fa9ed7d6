// evaluate and predict over a chunked dataset: a chunk at a time, with the results of the same
// stages over the gathered dataset, bit for bit; a NaN in a chunk names its source line.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateCore } from '../../activities/evaluate.ts';
import { openDataset, readDataset } from '../../activities/lib/stage.ts';
import { predictCore } from '../../activities/predict.ts';
import { trainCore } from '../../activities/train.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { isNumeric } from '../../src/ml/data/dataset.ts';
import { storedBothWays, threeClassRows } from '../support/chunks.ts';
import { stageInput, tempDir, testEnv } from '../support/data.ts';
import { ref } from '../support/pipelines.ts';

const env = testEnv();
let stored: { chunked: ArtifactRef; whole: ArtifactRef };
let model: ArtifactRef;

const metrics = ['accuracy', 'f1Macro', 'precisionMacro', 'confusionMatrix', 'rocAuc'];

beforeAll(async () => {
  process.env.MLPIPE_HOME = join(tempDir(), 'home');
  stored = await storedBothWays(threeClassRows(1300, 5), 250, env); // 6 chunks, the last one short
  const t = await trainCore(
    stageInput(
      'train',
      {
        model: {
          layers: [
            { type: 'dense', units: 8, activation: 'relu' },
            { type: 'dense', units: 3, activation: 'softmax' },
          ],
        },
        optimizer: { type: 'adam', learningRate: 0.03 },
        loss: 'sparseCategoricalCrossentropy',
        epochs: 3,
        batchSize: 32,
        seed: 2,
      },
      { dataset: stored.whole },
    ),
    env,
  );
  model = ref(t, 'model');
}, 120_000);

describe('evaluate over chunks', () => {
  it('gives exactly the metrics of evaluate over the gathered dataset (test and train splits)', async () => {
    expect((await openDataset(env.store, stored.chunked)).chunkRows).toEqual([250, 250, 250, 250, 250, 50]);
    for (const split of ['test', 'train']) {
      const run = (dataset: ArtifactRef) => evaluateCore(stageInput('evaluate', { metrics, split }, { model, dataset }), env);
      const [a, b] = [await run(stored.chunked), await run(stored.whole)];
      const { metrics: _a, ...va } = a.outputs;
      const { metrics: _b, ...vb } = b.outputs;
      expect(va).toEqual(vb);
      expect(va.accuracy as number).toBeGreaterThan(0.7);
      expect((va.confusionMatrix as number[][]).flat().reduce((x, y) => x + y)).toBe(split === 'test' ? 195 : 910);
    }
  });

  it('a NaN in the fourth chunk names its source line and column', async () => {
    const ds = threeClassRows(1300, 5);
    (ds.columns[2] as { data: Float32Array }).data[3 * 250 + 7] = Number.NaN; // row 757, a test row (757 % 20 = 17): line 759
    const s = await storedBothWays(ds, 250, env);
    await expect(evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { model, dataset: s.chunked }), env)).rejects.toThrow(
      /d\.csv line 759, column "f2": the feature is missing \(NaN\) when it reaches evaluation/,
    );
  });
});

describe('predict over chunks', () => {
  it('writes the predictions chunk by chunk, equal to predict over the gathered dataset', async () => {
    const run = async (dataset: ArtifactRef, batchRows: number) =>
      predictCore(stageInput('predict', { batchRows }, { model, dataset }), env);
    const columns = async (r: Awaited<ReturnType<typeof run>>) => {
      const ds = await readDataset(env.store, ref(r, 'predictions'));
      return { ds, values: ds.columns.map((c) => (isNumeric(c) ? Array.from(c.data) : c.values)) };
    };
    // Batches of 50 rows: every batch lies inside a chunk of 250, so the model sees the very
    // batches of the in-memory run and every value is equal.
    const a = await run(stored.chunked, 50);
    expect(a.outputs.rows).toBe(1300);
    expect((await openDataset(env.store, ref(a, 'predictions'))).chunkRows).toEqual([250, 250, 250, 250, 250, 50]);
    const [ca, cb] = [await columns(a), await columns(await run(stored.whole, 50))];
    expect(ca.ds.columns.map((c) => c.name)).toEqual(['y', 'prediction', 'probability_a', 'probability_b', 'probability_c']);
    expect(ca.values).toEqual(cb.values);
    expect(Array.from(ca.ds.splits!.test!)).toEqual(Array.from(cb.ds.splits!.test!));
    // Batches of 100: the short last chunk is its own batch of 50 where memory scores rows
    // 1200-1299 together; the matmul rounds differently with the batch size, so the
    // probabilities agree to float32 rounding and the labels exactly.
    const [cc, cd] = [await columns(await run(stored.chunked, 100)), await columns(await run(stored.whole, 100))];
    expect(cc.values[1]).toEqual(cd.values[1]);
    for (const j of [2, 3, 4]) {
      (cc.values[j] as number[]).forEach((v, i) =>
        expect(Math.abs(v - (cd.values[j] as number[])[i]!)).toBeLessThan(1e-6 + 1e-5 * Math.abs(v)),
      );
    }
    // the predictions evaluate as the model does (predict kept the label and splits)
    const e = await evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { predictions: ref(a, 'predictions') }), env);
    const m = await evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { model, dataset: stored.chunked }), env);
    expect(e.outputs.accuracy).toBe(m.outputs.accuracy);
  });

  it('a split is scored chunk by chunk; a NaN in its input names the source line (not the model)', async () => {
    const t = await predictCore(stageInput('predict', { split: 'test' }, { model, dataset: stored.chunked }), env);
    expect(t.outputs.rows).toBe(195);
    const ds = threeClassRows(1300, 5);
    (ds.columns[0] as { data: Float32Array }).data[2 * 250 + 7] = Number.NaN; // row 507: line 509
    const s = await storedBothWays(ds, 250, env);
    await expect(predictCore(stageInput('predict', {}, { model, dataset: s.chunked }), env)).rejects.toThrow(
      /d\.csv line 509, column "f0": the feature is missing \(NaN\) when it reaches prediction/,
    );
  });
});

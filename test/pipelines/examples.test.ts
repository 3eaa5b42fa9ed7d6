// The example pipelines, compiled by the real compiler and run stage by stage through the
// activities' cores (no Temporal; the runtime's tests cover that path).
import { describe, expect, it } from 'vitest';
import { runPlanFile } from '../support/run-plan.ts';
import { readDataset } from '../../activities/lib/stage.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { tempDir, testEnv } from '../support/data.ts';

describe('example pipelines through the activities', () => {
  it('pipelines/iris-mlp.yaml passes its accuracy gate (≥ 0.93)', { timeout: 120_000 }, async () => {
    process.env.MLPIPE_HOME = tempDir();
    const r = await runPlanFile('pipelines/iris-mlp.yaml', {}, testEnv(), 'examples/iris');
    console.log(`iris-mlp.yaml: test accuracy ${r.evaluate!.outputs.accuracy}, epochs ${r.train!.outputs.epochs}`);
    expect(r.data!.outputs.rows).toBe(150);
    expect(r.evaluate!.outputs.accuracy as number).toBeGreaterThanOrEqual(0.93);
    expect(r.evaluate!.outputs.passed).toBe(true);
  });

  it('pipelines/regression.yaml passes its R² gate (≥ 0.9)', { timeout: 120_000 }, async () => {
    process.env.MLPIPE_HOME = tempDir();
    const r = await runPlanFile('pipelines/regression.yaml', { epochs: '20' }, testEnv(), 'examples/regression');
    console.log(`regression.yaml: test R² ${r.evaluate!.outputs.r2}`);
    expect(r.evaluate!.outputs.r2 as number).toBeGreaterThanOrEqual(0.9);
    expect(r.evaluate!.outputs.passed).toBe(true);
  });

  it('docs/examples/stages/predict.yaml scores every raw row, keeping the label beside the prediction; grade scores them', {
    timeout: 120_000,
  }, async () => {
    process.env.MLPIPE_HOME = tempDir();
    const env = testEnv();
    const r = await runPlanFile('docs/examples/stages/predict.yaml', {}, env, 'examples/predict');
    expect(r.score!.outputs.rows).toBe(150);
    const ds = await readDataset(env.store, r.score!.outputs.predictions as unknown as ArtifactRef);
    expect(ds.columns.map((c) => c.name)).toEqual([
      'species',
      'prediction',
      'probability_setosa',
      'probability_versicolor',
      'probability_virginica',
    ]);
    const [truth, pred] = [ds.columns[0]!, ds.columns[1]!] as { values: string[] }[];
    const right = truth!.values.filter((v, i) => v === pred!.values[i]).length;
    expect(right / 150).toBeGreaterThan(0.9);
    // The evaluate stage on the predictions: every row (the raw rows have no splits), the same count.
    expect(r.grade!.outputs.accuracy).toBeCloseTo(right / 150, 12);
  });

  it('docs/examples/stages/expect.yaml checks the standardized train split and trains on it', { timeout: 120_000 }, async () => {
    process.env.MLPIPE_HOME = tempDir();
    const r = await runPlanFile('docs/examples/stages/expect.yaml', {}, testEnv(), 'examples/expect');
    expect(r.checked!.outputs).toMatchObject({ rows: 120, expectations: { passed: 4, failed: 0 } });
    expect(r.checked!.outputs.dataset).toEqual(r.prep!.outputs.dataset);
    expect(r.train!.outputs.epochs).toBe(20);
  });
});

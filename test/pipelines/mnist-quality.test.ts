// End-to-end quality: pipelines/mnist-lenet.yaml (the seed's LeNet-style CNN on the 10,000 real
// MNIST digits) must reach ≥ 98% test accuracy in its default 10 epochs on the native TensorFlow
// backend (about 80 s on 2 cores). Pure JS is about 250x slower: the test refuses it instead of
// passing a weaker bar.
import { describe, expect, it } from 'vitest';
import { backendInfo, selectBackend } from '../../src/ml/runtime/backend.ts';
import { tempDir, testEnv } from '../support/data.ts';
import { runPlanFile } from '../support/run-plan.ts';

describe('MNIST LeNet quality', () => {
  it('pipelines/mnist-lenet.yaml reaches ≥ 98% test accuracy on real digits (native backend required)', { timeout: 300_000 }, async () => {
    selectBackend();
    const backend = backendInfo();
    expect(
      backend.backend,
      'the native TensorFlow backend is required for this test (pure JS is ~250x slower); run `npm run setup` ' +
        '(scripts/setup-native.sh) so that @tensorflow/tfjs-node loads',
    ).not.toBe('cpu-js');
    process.env.MLPIPE_HOME = tempDir();
    const timings: Record<string, number> = {};
    const r = await runPlanFile('pipelines/mnist-lenet.yaml', {}, testEnv(), 'mnist/quality', (stage, ms) => (timings[stage] = ms));
    console.log(
      `mnist-lenet.yaml: test accuracy ${r.evaluate!.outputs.accuracy} (1,000 digits), f1Macro ${r.evaluate!.outputs.f1Macro}, ` +
        `train ${(timings.train! / 1000).toFixed(1)} s on ${backend.backend} (TF ${backend.tfVersion})`,
    );
    expect(r.data!.outputs.rows).toBe(10_000);
    expect(r.train!.outputs.backend).toBe(backend.backend);
    // the whole LeNet step runs as one TensorFlow function on the native backend
    expect(r.train!.outputs.engine).toBe(backend.backend === 'cpu-js' ? 'eager' : 'graph');
    expect(r.train!.outputs.epochs).toBe(10);
    expect(r.evaluate!.outputs.accuracy as number).toBeGreaterThanOrEqual(0.98);
    expect(r.evaluate!.outputs.passed).toBe(true);
  });
});

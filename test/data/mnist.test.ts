// End-to-end quality: a LeNet-style CNN on the 10,000 real MNIST digits must reach ≥ 98% test
// accuracy in 10 epochs on the native TensorFlow backend (about 80 s on 2 cores). Pure JS is
// about 250x slower: the test refuses it instead of passing a weaker bar.
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import { evaluateCore } from '../../activities/evaluate.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import { backendInfo, selectBackend } from '../../src/ml/backend.ts';
import { stageInput, tempDir, testEnv } from './helpers.ts';
import { ref } from './pipeline-helpers.ts';

export const LENET = {
  layers: [
    { type: 'conv2d', filters: 6, kernelSize: 5, activation: 'relu', padding: 'same' },
    { type: 'maxPooling2d', poolSize: 2 },
    { type: 'conv2d', filters: 16, kernelSize: 5, activation: 'relu' },
    { type: 'maxPooling2d', poolSize: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 120, activation: 'relu' },
    { type: 'dense', units: 84, activation: 'relu' },
    { type: 'dense', units: 10, activation: 'softmax' },
  ],
};

describe('MNIST LeNet quality', () => {
  it('reaches ≥ 98% test accuracy on real digits in 10 epochs (native backend required)', { timeout: 300_000 }, async () => {
    selectBackend();
    const backend = backendInfo();
    expect(
      backend.backend,
      'the native TensorFlow backend is required for this test (pure JS is ~250x slower); run `npm run setup` ' +
        '(scripts/setup-native.sh) so that @tensorflow/tfjs-node loads',
    ).not.toBe('cpu-js');
    process.env.MLPIPE_HOME = tempDir();
    const env = testEnv();
    const wf = 'mnist/quality';
    const c = await collectCore(stageInput('collect', { source: { type: 'mnist' } }, {}, wf), env);
    expect(c.outputs.rows).toBe(10_000);
    const p = await preprocessCore(
      stageInput('preprocess', {
        steps: [
          { type: 'split', train: 0.85, validation: 0.05, test: 0.1, seed: 7, stratify: true },
          { type: 'augment', shiftPixels: 2, copies: 1, seed: 3 },
        ],
      }, { dataset: ref(c, 'dataset') }, wf),
      env,
    );
    const t0 = Date.now();
    const t = await trainCore(
      stageInput('train', {
        model: LENET,
        optimizer: { type: 'adam', learningRate: 0.001 },
        learningRateSchedule: { type: 'cosine', minLearningRate: 0.00005 },
        loss: 'sparseCategoricalCrossentropy',
        metrics: ['accuracy'],
        epochs: 10,
        batchSize: 32,
        seed: 42,
      }, { dataset: ref(p, 'dataset') }, wf),
      env,
    );
    const trainSeconds = (Date.now() - t0) / 1000;
    const e = await evaluateCore(
      stageInput('evaluate', { metrics: ['accuracy', 'f1Macro', 'confusionMatrix'], gates: [{ metric: 'accuracy', min: 0.98 }] },
        { dataset: ref(p, 'dataset'), model: ref(t, 'model') }, wf),
      env,
    );
    console.log(`mnist lenet: test accuracy ${e.outputs.accuracy} (1,000 digits), f1Macro ${e.outputs.f1Macro}, ` +
      `train ${trainSeconds.toFixed(1)} s on ${backend.backend} (TF ${backend.tfVersion})`);
    expect(t.outputs.backend).toBe(backend.backend);
    expect(t.outputs.epochs).toBe(10);
    expect(e.outputs.accuracy as number).toBeGreaterThanOrEqual(0.98);
    expect(e.outputs.passed).toBe(true);
  });
});

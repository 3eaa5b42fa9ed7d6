// The training engine (src/ml/train/fit.ts) on the native backend: early stopping, resume, cancel,
// class weights, schedules, losses, and that it yields to the event loop between batches.
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import { evaluate, fit, scheduledLearningRate, type TrainingState } from '../../../src/ml/train/fit.ts';
import { perSampleLoss } from '../../../src/ml/train/losses.ts';
import { buildModel } from '../../../src/ml/train/model.ts';
import type { TrainModelSpec } from '../../../src/ml/train/model-spec.ts';
import { expectNativeBackend, maxAbs, randoms, separable } from '../../support/ml.ts';

let tf: typeof TfModule;
beforeAll(() => {
  tf = expectNativeBackend().tf;
});

const MLP: TrainModelSpec = {
  model: {
    inputShape: [4],
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: 2 },
    ],
  },
  optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0.9 },
  loss: 'categoricalCrossentropy',
  metrics: ['accuracy', 'precision', 'recall'],
};

const weightsOf = (m: TfModule.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('fit', () => {
  it('learns a separable problem and logs loss, metrics, validation and learning rate', async () => {
    const { x, y } = separable(256);
    const val = separable(64, 4, 9);
    const { model } = buildModel(MLP, { seed: 1 });
    const seen: number[] = [];
    const r = await fit(model, MLP, x, y, {
      epochs: 8,
      batchSize: 32,
      validation: { x: val.x, y: val.y },
      onEpochEnd: (e) => void seen.push(e),
    });
    expect(r.stopReason).toBe('completed');
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const last = r.history.at(-1)!.logs;
    expect(Object.keys(last).sort()).toEqual(
      ['accuracy', 'learningRate', 'loss', 'precision', 'recall', 'val_accuracy', 'val_loss', 'val_precision', 'val_recall'].sort(),
    );
    expect(last.val_accuracy).toBeGreaterThan(0.85);
    expect(r.history[0]!.logs.loss).toBeGreaterThan(last.loss!);
    expect(r.backend.backend).toBe('tensorflow');
    expect(r.backend.tfVersion).toMatch(/^2\.21/);
  });

  it('early stopping stops after `patience` epochs without improvement and restores the best weights', async () => {
    const { x, y } = separable(64);
    // learning rate 0: the loss never improves after the first epoch
    const spec: TrainModelSpec = { ...MLP, optimizer: { type: 'sgd', learningRate: 0 } };
    const { model } = buildModel(spec, { seed: 1 });
    const r = await fit(model, spec, x, y, {
      epochs: 50,
      batchSize: 16,
      earlyStopping: { monitor: 'loss', patience: 3, restoreBestWeights: true },
    });
    expect(r.stopReason).toBe('earlyStopping');
    expect(r.epochsRun).toBe(4);
    expect(r.bestEpoch).toBe(0);
    expect(r.finalEpoch).toBe(0);
  });

  it('early stopping with minDelta on val_accuracy (mode max) and an unknown monitor is named', async () => {
    const { x, y } = separable(64);
    const { model } = buildModel(MLP, { seed: 1 });
    const r = await fit(model, MLP, x, y, {
      epochs: 30,
      batchSize: 16,
      validation: { x, y },
      earlyStopping: { monitor: 'val_accuracy', patience: 2, minDelta: 0.5 },
    });
    expect(r.stopReason).toBe('earlyStopping');
    expect(r.epochsRun).toBe(3); // nothing improves accuracy by 0.5 after the first epoch
    await expect(fit(model, MLP, x, y, { epochs: 2, batchSize: 16, earlyStopping: { monitor: 'val_auc' } })).rejects.toThrow(
      /val_auc.*available: loss/,
    );
  });

  it('resumes from a checkpoint at epoch k and ends with the same weights as an uninterrupted run', async () => {
    const { x, y } = separable(96);
    const spec = { ...MLP, learningRateSchedule: { type: 'step' as const, stepEpochs: 2, gamma: 0.5 } };
    const full = buildModel(spec, { seed: 4 }).model;
    let ckpt: TrainingState | undefined;
    await fit(full, spec, x, y, {
      epochs: 6,
      batchSize: 16,
      seed: 2,
      checkpointEvery: 3,
      onCheckpoint: (s) => void (s.nextEpoch === 3 && (ckpt = s)),
    });
    expect(ckpt?.nextEpoch).toBe(3);

    const resumed = buildModel(spec, { seed: 99 }).model; // different init: the checkpoint must overwrite it
    const epochs: number[] = [];
    const r = await fit(resumed, spec, x, y, {
      epochs: 6,
      batchSize: 16,
      seed: 2,
      resumeFrom: ckpt,
      onEpochEnd: (e) => void epochs.push(e),
    });
    expect(epochs).toEqual([3, 4, 5]);
    expect(r.history[0]!.logs.learningRate).toBeCloseTo(0.1 * 0.5, 10); // epoch 3 under step(2, 0.5)
    const a = weightsOf(full).flat();
    const b = weightsOf(resumed).flat();
    expect(maxAbs(a.map((v, i) => v - b[i]!))).toBeLessThan(1e-5);
  });

  it('cancel: an abort stops training before the next batch', async () => {
    const { x, y } = separable(256);
    const { model } = buildModel(MLP, { seed: 1 });
    const ac = new AbortController();
    const batches: string[] = [];
    const r = await fit(model, MLP, x, y, {
      epochs: 5,
      batchSize: 16,
      signal: ac.signal,
      // one batch per call: with several, the call's remaining batches have run and report too
      // (graph-step.test.ts, "checks cancellation between calls")
      stepsPerCall: 1,
      onBatch: (e, b) => {
        batches.push(`${e}:${b}`);
        if (e === 1 && b === 2) ac.abort();
      },
    });
    expect(r.stopReason).toBe('cancelled');
    expect(batches.at(-1)).toBe('1:2');
    expect(batches.length).toBe(16 + 3);
    expect(r.epochsRun).toBe(1);
  });

  it('yields to the event loop between batches, so a timer can cancel a long run', async () => {
    const { x, y } = separable(512);
    const { model } = buildModel(MLP, { seed: 1 });
    const ac = new AbortController();
    let ticks = 0;
    let interval: ReturnType<typeof setInterval> | undefined;
    // the window opens once the step functions are compiled (the first calls block for that)
    let batches = 0;
    const onBatch = () => {
      if (++batches !== 200) return;
      interval = setInterval(() => ticks++, 1);
      setTimeout(() => ac.abort(), 100);
    };
    const t0 = performance.now();
    const r = await fit(model, MLP, x, y, { epochs: 100_000, batchSize: 8, signal: ac.signal, onBatch });
    clearInterval(interval);
    expect(r.stopReason).toBe('cancelled');
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(ticks).toBeGreaterThan(5);
  });

  it('class weights scale the loss: all-zero weights leave the model unchanged', async () => {
    const { x, y } = separable(64);
    const { model } = buildModel(MLP, { seed: 1 });
    const before = weightsOf(model);
    await fit(model, MLP, x, y, { epochs: 2, batchSize: 16, classWeight: { 0: 0, 1: 0 } });
    expect(weightsOf(model)).toEqual(before);
    await fit(model, MLP, x, y, { epochs: 1, batchSize: 16, classWeight: { 0: 0, 1: 2 } });
    expect(weightsOf(model)).not.toEqual(before);
  });

  it('a layer with trainable: false keeps its weights', async () => {
    const { x, y } = separable(64);
    const spec: TrainModelSpec = {
      ...MLP,
      model: {
        ...MLP.model,
        layers: [
          { type: 'dense', units: 8, activation: 'relu', trainable: false },
          { type: 'dense', units: 2 },
        ],
      },
    };
    const { model } = buildModel(spec, { seed: 1 });
    const [frozenBefore, headBefore] = [
      model.layers[0]!.getWeights().map((w) => Array.from(w.dataSync())),
      model.layers[1]!.getWeights().map((w) => Array.from(w.dataSync())),
    ];
    await fit(model, spec, x, y, { epochs: 2, batchSize: 16 });
    expect(model.layers[0]!.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(frozenBefore);
    expect(model.layers[1]!.getWeights().map((w) => Array.from(w.dataSync()))).not.toEqual(headBefore);
  });

  it('learning-rate schedules', () => {
    expect(scheduledLearningRate(0.1, { type: 'step', stepEpochs: 10, gamma: 0.5 }, 25, 30)).toBeCloseTo(0.025);
    expect(scheduledLearningRate(0.1, { type: 'exponential', decayRate: 0.5, decayEpochs: 2 }, 4, 30)).toBeCloseTo(0.025);
    expect(scheduledLearningRate(0.1, { type: 'cosine', minLearningRate: 0.01 }, 0, 10)).toBeCloseTo(0.1);
    expect(scheduledLearningRate(0.1, { type: 'cosine', minLearningRate: 0.01 }, 10, 10)).toBeCloseTo(0.01);
    expect(scheduledLearningRate(0.1, undefined, 7, 10)).toBe(0.1);
  });

  it('leaks no tensors across fit, evaluate and a checkpoint', async () => {
    const { x, y } = separable(64);
    const { model } = buildModel(
      { ...MLP, model: { ...MLP.model, layers: [{ type: 'batchNormalization' }, ...MLP.model.layers] } },
      { seed: 1 },
    );
    const opts = {
      epochs: 2,
      batchSize: 16,
      validation: { x, y },
      checkpointEvery: 1,
      onCheckpoint: () => {},
      earlyStopping: { patience: 5, restoreBestWeights: true },
    };
    await fit(model, MLP, x, y, opts); // first run creates tfjs's cached scalars
    const before = tf.memory().numTensors;
    await fit(model, MLP, x, y, opts);
    await evaluate(model, MLP, x, y);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects mismatched data with the place and the numbers', async () => {
    const { model } = buildModel(MLP, { seed: 1 });
    await expect(
      fit(
        model,
        MLP,
        { data: new Float32Array(8), shape: [2, 4] },
        { data: new Float32Array(6), shape: [3, 2] },
        { epochs: 1, batchSize: 2 },
      ),
    ).rejects.toThrow(/training data: x has 2 samples but y has 3/);
  });
});

describe('losses', () => {
  const logits = () =>
    tf.tensor2d(
      Array.from(randoms(12), (v) => v * 6 - 3),
      [4, 3],
    );
  const labels = [2, 0, 1, 1];

  it('sparse and one-hot categorical cross-entropy agree, on logits and on probabilities', () => {
    const z = logits();
    const sparse = perSampleLoss(tf, 'sparseCategoricalCrossentropy', z, tf.tensor1d(labels, 'int32'), 'logits').dataSync();
    const dense = perSampleLoss(tf, 'categoricalCrossentropy', z, tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'logits').dataSync();
    const probs = perSampleLoss(
      tf,
      'categoricalCrossentropy',
      tf.softmax(z),
      tf.oneHot(tf.tensor1d(labels, 'int32'), 3),
      'probabilities',
    ).dataSync();
    const ref = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), z, undefined, 0, tf.Reduction.NONE).dataSync();
    for (const got of [sparse, dense, probs]) expect(maxAbs(got.map((v, i) => v - ref[i]!))).toBeLessThan(1e-4);
    // float labels of shape [B, 1] (as datasets often give them) work too
    const col = perSampleLoss(tf, 'sparseCategoricalCrossentropy', z, tf.tensor2d(labels, [4, 1]), 'logits').dataSync();
    expect(maxAbs(col.map((v, i) => v - ref[i]!))).toBeLessThan(1e-4);
  });

  it('binary cross-entropy on logits equals it on sigmoid probabilities', () => {
    const z = tf.tensor2d([[-3], [0.5], [2], [8]]);
    const y = tf.tensor2d([[0], [1], [1], [0]]);
    const a = perSampleLoss(tf, 'binaryCrossentropy', z, y, 'logits').dataSync();
    const b = perSampleLoss(tf, 'binaryCrossentropy', tf.sigmoid(z), y, 'probabilities').dataSync();
    expect(maxAbs(a.map((v, i) => v - b[i]!))).toBeLessThan(1e-3);
  });

  it('sparse labels train end to end, and regression losses/metrics work', async () => {
    const { x, labels: l } = separable(128);
    const spec: TrainModelSpec = { ...MLP, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] };
    const { model } = buildModel(spec, { seed: 1 });
    const yy = { data: l, shape: [128] };
    const r = await fit(model, spec, x, yy, { epochs: 10, batchSize: 16 });
    expect(r.history.at(-1)!.logs.accuracy).toBeGreaterThan(0.8);

    const reg: TrainModelSpec = {
      model: { inputShape: [4], layers: [{ type: 'dense', units: 1 }] },
      optimizer: { type: 'adam', learningRate: 0.05 },
      loss: 'meanSquaredError',
      metrics: ['meanAbsoluteError', 'meanSquaredError'],
    };
    const target = { data: Float32Array.from({ length: 128 }, (_, i) => x.data[i * 4]! * 2 - x.data[i * 4 + 1]!), shape: [128, 1] };
    const m = buildModel(reg, { seed: 1 }).model;
    const before = await evaluate(m, reg, x, target);
    await fit(m, reg, x, target, { epochs: 20, batchSize: 16 });
    const after = await evaluate(m, reg, x, target);
    expect(after.loss).toBeLessThan(before.loss!);
    expect(after.meanSquaredError).toBeCloseTo(after.loss!, 4);
  });
});

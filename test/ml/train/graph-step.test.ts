// The graph training step (src/ml/train/graph/): one TensorFlow function per batch must train exactly
// as the eager loop does (same weights, losses and metrics after several steps) for every layer,
// activation, loss, optimizer and option it accepts; it must say why when it cannot run, and
// resume from the other engine's checkpoints.
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import { evaluate, fit, type ArrayData, type FitOptions, type TrainingState } from '../../../src/ml/train/fit.ts';
import { compileTrainStep } from '../../../src/ml/train/graph/train-step.ts';
import { buildModel } from '../../../src/ml/train/model.ts';
import type { TrainModelSpec } from '../../../src/ml/train/model-spec.ts';
import { expectNativeBackend, randoms } from '../../support/ml.ts';

let tf: typeof TfModule;
beforeAll(() => {
  tf = expectNativeBackend().tf;
});

function classes(n: number, k: number, seed: number): Int32Array {
  return Int32Array.from(randoms(n, seed), (r) => Math.floor(r * k));
}
function oneHot(labels: Int32Array, k: number): Float32Array {
  const out = new Float32Array(labels.length * k);
  labels.forEach((l, i) => (out[i * k + l] = 1));
  return out;
}
const weightsOf = (m: TfModule.LayersModel) => m.getWeights().map((w) => Float32Array.from(w.dataSync()));

/** Train the same model (same seed, same data order) on both engines. */
async function both(spec: TrainModelSpec, x: ArrayData, y: ArrayData, opts: Partial<FitOptions> = {}) {
  const run = async (engine: 'graph' | 'eager') => {
    const { model } = buildModel(spec, { seed: 7 });
    const r = await fit(model, spec, x, y, { epochs: 3, batchSize: 16, seed: 3, ...opts, engine });
    const w = weightsOf(model);
    model.dispose();
    return { r, w };
  };
  return { graph: await run('graph'), eager: await run('eager') };
}

function expectSameWeights(a: Float32Array[], b: Float32Array[], tol = 2e-4) {
  expect(a.length).toBe(b.length);
  a.forEach((wa, i) => {
    const wb = b[i]!;
    let worst = 0;
    let scale = 1e-3;
    for (let j = 0; j < wa.length; j++) {
      worst = Math.max(worst, Math.abs(wa[j]! - wb[j]!));
      scale = Math.max(scale, Math.abs(wb[j]!));
    }
    expect(worst / scale, `weight tensor ${i}: max difference ${worst} (scale ${scale})`).toBeLessThan(tol);
  });
}

function expectSameLogs(graph: Awaited<ReturnType<typeof both>>['graph'], eager: Awaited<ReturnType<typeof both>>['eager']) {
  expect(graph.r.engine).toEqual({ engine: 'graph' });
  expect(eager.r.engine.engine).toBe('eager');
  expect(graph.r.history.length).toBe(eager.r.history.length);
  graph.r.history.forEach((h, e) => {
    const other = eager.r.history[e]!.logs;
    expect(Object.keys(h.logs).sort()).toEqual(Object.keys(other).sort());
    for (const [k, v] of Object.entries(h.logs)) expect(v, `epoch ${e} ${k}`).toBeCloseTo(other[k]!, 4);
  });
}

const N = 96;

describe('graph training step: same results as the eager loop', () => {
  it('CNN: conv2d same/valid, strides, dilation, max/average pooling, flatten; categorical cross-entropy on softmax; adam', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [12, 12, 2],
        layers: [
          { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
          { type: 'maxPooling2d', poolSize: 2 },
          { type: 'conv2d', filters: 5, kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'tanh' },
          { type: 'averagePooling2d', poolSize: 2, padding: 'same' },
          { type: 'conv2d', filters: 3, kernelSize: 1, dilationRate: 1, activation: 'sigmoid' },
          { type: 'flatten' },
          { type: 'dense', units: 6, activation: 'elu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.01 },
      loss: 'categoricalCrossentropy',
      metrics: ['accuracy', 'precision', 'recall'],
    };
    const labels = classes(N, 3, 5);
    const { graph, eager } = await both(
      spec,
      { data: randoms(N * 288, 4), shape: [N, 12, 12, 2] },
      { data: oneHot(labels, 3), shape: [N, 3] },
    );
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
  });

  it('a strided max pool with same padding, relu6', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [10, 10, 1],
        layers: [
          { type: 'conv2d', filters: 3, kernelSize: 3, activation: 'relu6' },
          { type: 'maxPooling2d', poolSize: 3, strides: 2, padding: 'same' },
          { type: 'flatten' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.05 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    };
    const { graph, eager } = await both(spec, { data: randoms(N * 100, 8), shape: [N, 10, 10, 1] }, { data: classes(N, 2, 9), shape: [N] });
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
  });

  it('MLP: every graph activation, no-bias layer, l1/l2 regularizers, class weights, sparse labels as floats; Nesterov momentum', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [5],
        layers: [
          { type: 'dense', units: 8, activation: 'relu6', kernelRegularizer: { l1: 0.001, l2: 0.01 } },
          { type: 'dense', units: 8, activation: 'selu', useBias: false },
          { type: 'dense', units: 8, activation: 'softplus', biasRegularizer: { l2: 0.02 } },
          { type: 'dense', units: 6, activation: 'softsign' },
          { type: 'dense', units: 6, activation: 'softmax' },
          { type: 'dense', units: 7, activation: 'hardSigmoid' },
          { type: 'dense', units: 7, activation: 'swish' },
          { type: 'dense', units: 7, activation: 'mish' },
          { type: 'dense', units: 7, activation: 'gelu' },
          { type: 'dense', units: 3 },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.8, nesterov: true },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    };
    const labels = Float32Array.from(classes(N, 3, 11));
    const { graph, eager } = await both(
      spec,
      { data: randoms(N * 5, 10), shape: [N, 5] },
      { data: labels, shape: [N, 1] },
      { classWeight: { 0: 1, 1: 2.5, 2: 0.5 } },
    );
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
  });

  it('binary cross-entropy on logits and on a sigmoid output; rmsprop with momentum', async () => {
    for (const activation of ['linear', 'sigmoid'] as const) {
      const spec: TrainModelSpec = {
        model: {
          inputShape: [4],
          layers: [
            { type: 'dense', units: 6, activation: 'tanh' },
            { type: 'dense', units: 1, activation },
          ],
        },
        optimizer: { type: 'rmsprop', learningRate: 0.01, momentum: 0.5 },
        loss: 'binaryCrossentropy',
        metrics: ['accuracy', 'precision', 'recall'],
      };
      const { graph, eager } = await both(
        spec,
        { data: randoms(N * 4, 12), shape: [N, 4] },
        { data: Float32Array.from(classes(N, 2, 13)), shape: [N, 1] },
      );
      expectSameLogs(graph, eager);
      expectSameWeights(graph.w, eager.w);
    }
  });

  it('integer labels and targets where the loss and metrics read them as floats', async () => {
    const binary: TrainModelSpec = {
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 4, activation: 'relu' },
          { type: 'dense', units: 1 },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.1 },
      loss: 'binaryCrossentropy',
      metrics: ['accuracy', 'recall'],
    };
    let r = await both(binary, { data: randoms(N * 4, 56), shape: [N, 4] }, { data: classes(N, 2, 57), shape: [N, 1] });
    expectSameLogs(r.graph, r.eager);
    expectSameWeights(r.graph.w, r.eager.w);
    const counts: TrainModelSpec = {
      ...binary,
      loss: 'meanSquaredError',
      metrics: ['meanSquaredError', 'meanAbsoluteError'],
      optimizer: { type: 'sgd', learningRate: 0.01 },
    };
    r = await both(counts, { data: randoms(N * 4, 58), shape: [N, 4] }, { data: classes(N, 5, 59), shape: [N, 1] });
    expectSameLogs(r.graph, r.eager);
    expectSameWeights(r.graph.w, r.eager.w);
  });

  it('regression: mean squared and absolute error losses and metrics; adagrad and plain sgd', async () => {
    for (const [loss, optimizer] of [
      ['meanSquaredError', { type: 'adagrad', learningRate: 0.1 }],
      ['meanAbsoluteError', { type: 'sgd', learningRate: 0.05 }],
    ] as const) {
      const spec: TrainModelSpec = {
        model: {
          inputShape: [3],
          layers: [
            { type: 'dense', units: 8, activation: 'relu' },
            { type: 'dense', units: 2 },
          ],
        },
        optimizer,
        loss,
        metrics: ['meanSquaredError', 'meanAbsoluteError'],
      };
      const { graph, eager } = await both(
        spec,
        { data: randoms(N * 3, 14), shape: [N, 3] },
        { data: randoms(N * 2, 15), shape: [N, 2] },
        { batchSize: 20 },
      );
      expectSameLogs(graph, eager);
      expectSameWeights(graph.w, eager.w);
    }
  });

  it('batch normalization on images and on vectors: trained scale/offset and moving statistics', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [8, 8, 2],
        layers: [
          { type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu' },
          { type: 'batchNormalization', momentum: 0.9 },
          { type: 'maxPooling2d', poolSize: 2 },
          { type: 'flatten' },
          { type: 'dense', units: 6, activation: 'relu' },
          { type: 'batchNormalization', epsilon: 0.01 },
          { type: 'dense', units: 3 },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.01 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    };
    const { graph, eager } = await both(spec, { data: randoms(N * 128, 26), shape: [N, 8, 8, 2] }, { data: classes(N, 3, 27), shape: [N] });
    expectSameLogs(graph, eager);
    // getWeights() holds gamma, beta, moving mean and moving variance of both layers
    expect(graph.w.length).toBe(14);
    expectSameWeights(graph.w, eager.w);
    const movingVar = graph.w[5]!;
    expect(Math.max(...movingVar.map((v) => Math.abs(v - 1)))).toBeGreaterThan(1e-3); // it moved
  });

  it('embeddings of token ids with a regularizer, and regularizers on both sides of a batch norm', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [5],
        layers: [
          { type: 'embedding', inputDim: 20, outputDim: 4, embeddingsRegularizer: { l2: 0.01 } },
          { type: 'flatten' },
          { type: 'dense', units: 8, activation: 'relu', kernelRegularizer: { l1: 0.002 } },
          { type: 'batchNormalization' },
          { type: 'dense', units: 2, kernelRegularizer: { l2: 0.05 }, biasRegularizer: { l1: 0.01 } },
        ],
      },
      optimizer: { type: 'rmsprop', learningRate: 0.01 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    };
    // token 3 anywhere in the sequence means class 1; ids repeat within a batch (the gradient sums them)
    const ids = Float32Array.from(randoms(N * 5, 28), (r) => Math.floor(r * 20));
    const labels = Int32Array.from({ length: N }, (_, i) => (ids.subarray(i * 5, i * 5 + 5).includes(3) ? 1 : 0));
    const { graph, eager } = await both(spec, { data: ids, shape: [N, 5] }, { data: labels, shape: [N] });
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
  });

  it('frozen layers (spec trainable: false, or frozen after building as warm start does) stay put; regularizers still count in the loss', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [6, 6, 1],
        layers: [
          { type: 'conv2d', filters: 3, kernelSize: 3, activation: 'relu', trainable: false, kernelRegularizer: { l2: 0.1 } },
          { type: 'flatten' },
          { type: 'dense', units: 5, activation: 'tanh' },
          { type: 'dense', units: 4, activation: 'relu' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0.5 },
      loss: 'sparseCategoricalCrossentropy',
    };
    const x = { data: randoms(N * 36, 29), shape: [N, 6, 6, 1] };
    const y = { data: classes(N, 2, 30), shape: [N] };
    const run = async (engine: 'graph' | 'eager') => {
      const { model } = buildModel(spec, { seed: 7 });
      model.layers[3]!.trainable = false; // as activities/train.ts's warmStart.freezeLayers does
      const before = weightsOf(model);
      const r = await fit(model, spec, x, y, { epochs: 2, batchSize: 16, seed: 3, engine });
      const w = weightsOf(model);
      model.dispose();
      return { r, w, before };
    };
    const graph = await run('graph');
    const eager = await run('eager');
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
    // getWeights: trainable first (dense 2, dense 4), then the frozen conv and dense 3
    expect(graph.w.length).toBe(8);
    for (const k of [4, 5, 6, 7]) expect(graph.w[k]).toEqual(graph.before[k]);
    expect(graph.w[0]).not.toEqual(graph.before[0]);
  });

  it('recurrent layers unrolled over time: stacked LSTMs (sequences, then last step) and a GRU, default and chosen activations', async () => {
    const seq = { data: randoms(N * 6 * 3, 31), shape: [N, 6, 3] };
    const labels = { data: classes(N, 3, 32), shape: [N] };
    const lstm: TrainModelSpec = {
      model: {
        inputShape: [6, 3],
        layers: [
          { type: 'lstm', units: 5, returnSequences: true, kernelRegularizer: { l2: 0.01 } },
          { type: 'lstm', units: 4, activation: 'relu', recurrentActivation: 'sigmoid' },
          { type: 'dense', units: 3 },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.02 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    };
    let r = await both(lstm, seq, labels);
    expectSameLogs(r.graph, r.eager);
    expectSameWeights(r.graph.w, r.eager.w);
    const gru: TrainModelSpec = {
      ...lstm,
      model: {
        inputShape: [6, 3],
        layers: [{ type: 'gru', units: 5, returnSequences: true }, { type: 'flatten' }, { type: 'dense', units: 3 }],
      },
      optimizer: { type: 'rmsprop', learningRate: 0.01 },
    };
    r = await both(gru, seq, labels);
    expectSameLogs(r.graph, r.eager);
    expectSameWeights(r.graph.w, r.eager.w);
    const gruLast: TrainModelSpec = {
      ...gru,
      model: {
        inputShape: [6, 3],
        layers: [
          { type: 'gru', units: 4, activation: 'softsign' },
          { type: 'dense', units: 3 },
        ],
      },
    };
    r = await both(gruLast, seq, labels);
    expectSameLogs(r.graph, r.eager);
    expectSameWeights(r.graph.w, r.eager.w);
  });

  it('a dense layer and a batch norm on every step of a sequence, and a frozen batch norm (statistics still move, scale and offset do not)', async () => {
    const seqSpec: TrainModelSpec = {
      model: {
        inputShape: [5, 3],
        layers: [
          { type: 'gru', units: 4, returnSequences: true },
          { type: 'dense', units: 6, activation: 'relu' },
          { type: 'batchNormalization' },
          { type: 'flatten' },
          { type: 'dense', units: 2 },
        ],
      },
      // (sgd: Adam's g/√v turns float-rounding differences in near-zero gradients into whole steps)
      optimizer: { type: 'sgd', learningRate: 0.1 },
      loss: 'sparseCategoricalCrossentropy',
    };
    const r = await both(seqSpec, { data: randoms(N * 15, 52), shape: [N, 5, 3] }, { data: classes(N, 2, 53), shape: [N] });
    expectSameLogs(r.graph, r.eager);
    expectSameWeights(r.graph.w, r.eager.w);

    const bnSpec: TrainModelSpec = {
      model: {
        inputShape: [6, 6, 2],
        layers: [
          { type: 'conv2d', filters: 3, kernelSize: 3, activation: 'relu' },
          { type: 'batchNormalization', momentum: 0.8 },
          { type: 'flatten' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.05 },
      loss: 'sparseCategoricalCrossentropy',
    };
    const x = { data: randoms(N * 72, 54), shape: [N, 6, 6, 2] };
    const y = { data: classes(N, 2, 55), shape: [N] };
    const run = async (engine: 'graph' | 'eager') => {
      const { model } = buildModel(bnSpec, { seed: 7 });
      model.layers[1]!.trainable = false;
      const before = Object.fromEntries(
        model.layers[1]!.weights.map((w) => [w.originalName.split('/').pop(), Float32Array.from(w.read().dataSync())]),
      );
      const res = await fit(model, bnSpec, x, y, { epochs: 2, batchSize: 16, seed: 3, engine });
      const after = Object.fromEntries(
        model.layers[1]!.weights.map((w) => [w.originalName.split('/').pop(), Float32Array.from(w.read().dataSync())]),
      );
      const w = weightsOf(model);
      model.dispose();
      return { r: res, w, before, after };
    };
    const graph = await run('graph');
    const eager = await run('eager');
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
    expect(graph.after.gamma).toEqual(graph.before.gamma);
    expect(graph.after.beta).toEqual(graph.before.beta);
    expect(graph.after.moving_mean).not.toEqual(graph.before.moving_mean);
  });

  it('a learning-rate schedule and a last batch smaller than the rest', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 5, activation: 'relu' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.02 },
      learningRateSchedule: { type: 'cosine', minLearningRate: 0.001 },
      loss: 'sparseCategoricalCrossentropy',
    };
    const { graph, eager } = await both(
      spec,
      { data: randoms(90 * 4, 16), shape: [90, 4] },
      { data: classes(90, 2, 17), shape: [90] },
      { batchSize: 32, epochs: 4 },
    );
    expectSameLogs(graph, eager);
    expectSameWeights(graph.w, eager.w);
  });
});

describe('graph training step: dropout, dilation, fallback and resume', () => {
  it('trains dilated convolutions, which the eager loop cannot (tfjs has no dilated conv gradient)', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [12, 12, 1],
        layers: [
          { type: 'conv2d', filters: 4, kernelSize: 3, dilationRate: 2, activation: 'relu' },
          { type: 'flatten' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.01 },
      loss: 'sparseCategoricalCrossentropy',
    };
    // label: is the image's left half brighter than its right half
    const n = 128;
    const data = randoms(n * 144, 30);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let p = 0; p < 144; p++) d += (p % 12 < 6 ? 1 : -1) * data[i * 144 + p]!;
      labels[i] = d > 0 ? 1 : 0;
    }
    const x = { data, shape: [n, 12, 12, 1] };
    const y = { data: labels, shape: [n] };
    const { model } = buildModel(spec, { seed: 1 });
    const r = await fit(model, spec, x, y, { epochs: 15, batchSize: 16, engine: 'graph' });
    expect(r.engine.engine).toBe('graph');
    expect(r.history.at(-1)!.logs.loss).toBeLessThan(r.history[0]!.logs.loss! * 0.7);
    await expect(fit(model, spec, x, y, { epochs: 1, batchSize: 16, engine: 'eager' })).rejects.toThrow(/dilation/);
    model.dispose();
  });

  const DROPOUT: TrainModelSpec = {
    model: {
      inputShape: [6],
      layers: [
        { type: 'dense', units: 16, activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 2 },
      ],
    },
    optimizer: { type: 'adam', learningRate: 0.01 },
    loss: 'sparseCategoricalCrossentropy',
  };

  it('dropout masks come from the run seed: the same seed trains the same weights, another seed others', async () => {
    const x = { data: randoms(N * 6, 18), shape: [N, 6] };
    const y = { data: classes(N, 2, 19), shape: [N] };
    const run = async (seed: number) => {
      const { model } = buildModel(DROPOUT, { seed: 1 });
      const r = await fit(model, DROPOUT, x, y, { epochs: 2, batchSize: 16, seed, engine: 'graph' });
      const w = weightsOf(model);
      model.dispose();
      return { r, w };
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(a.r.engine.engine).toBe('graph');
    expectSameWeights(a.w, b.w, 1e-7);
    expect(Math.max(...a.w[0]!.map((v, i) => Math.abs(v - c.w[0]![i]!)))).toBeGreaterThan(1e-4);
    // Dropout changes training: the same run without dropout ends elsewhere.
    const noDrop: TrainModelSpec = {
      ...DROPOUT,
      model: { ...DROPOUT.model, layers: DROPOUT.model.layers.map((l) => (l.type === 'dropout' ? { ...l, rate: 0 } : l)) },
    };
    const { model } = buildModel(noDrop, { seed: 1 });
    await fit(model, noDrop, x, y, { epochs: 2, batchSize: 16, seed: 1, engine: 'graph' });
    expect(Math.max(...weightsOf(model)[0]!.map((v, i) => Math.abs(v - a.w[0]![i]!)))).toBeGreaterThan(1e-4);
    model.dispose();
  });

  it('recurrent dropout: gradients agree with finite differences through the masks, and masks follow the seed', async () => {
    for (const type of ['lstm', 'gru'] as const) {
      const spec: TrainModelSpec = {
        model: {
          inputShape: [4, 3],
          layers: [
            { type, units: 3, dropout: 0.3, recurrentDropout: 0.4, returnSequences: true },
            { type: 'flatten' },
            { type: 'dense', units: 2 },
          ],
        },
        optimizer: { type: 'sgd', learningRate: 1 },
        loss: 'meanSquaredError',
      };
      const n = 8;
      const x = { data: randoms(n * 12, 50), shape: [n, 4, 3] };
      const y = { data: randoms(n * 2, 51), shape: [n, 2] };
      // one full-batch step, unshuffled, seed 9: the masks come from [9, 0] every time
      const lossAt = async (weights: Float32Array[], lr: number) => {
        const s2: TrainModelSpec = { ...spec, optimizer: { type: 'sgd', learningRate: lr } };
        const { model } = buildModel(s2, { seed: 2 });
        model.setWeights(weights.map((w, k) => tf.tensor(w, model.getWeights()[k]!.shape)));
        const r = await fit(model, s2, x, y, { epochs: 1, batchSize: n, shuffle: false, seed: 9, engine: 'graph' });
        const after = weightsOf(model);
        model.dispose();
        return { loss: r.history[0]!.logs.loss!, after };
      };
      const { model } = buildModel(spec, { seed: 2 });
      const w0 = weightsOf(model);
      model.dispose();
      const step = await lossAt(w0, 1); // sgd with lr 1: w1 = w0 - gradient
      // directional derivatives along random directions over every weight: (L(w + εv) − L(w − εv)) / 2ε = ∇L·v
      for (const dirSeed of [60, 61, 62]) {
        const v = w0.map((w, k) => Float32Array.from(randoms(w.length, dirSeed * 10 + k), (r) => r - 0.5));
        let analytic = 0;
        w0.forEach((w, k) => w.forEach((wj, j) => (analytic += (wj - step.after[k]![j]!) * v[k]![j]!)));
        const eps = 1e-2;
        const shifted = (sign: number) => w0.map((w, k) => w.map((wj, j) => wj + sign * eps * v[k]![j]!));
        const numeric = ((await lossAt(shifted(1), 0)).loss - (await lossAt(shifted(-1), 0)).loss) / (2 * eps);
        expect(Math.abs(analytic - numeric), `${type}, direction ${dirSeed}: ${analytic} vs ${numeric}`).toBeLessThan(
          1e-3 + 0.01 * Math.abs(numeric),
        );
      }
      // the masks matter and follow the seed
      const other = await (async () => {
        const { model: m } = buildModel(spec, { seed: 2 });
        const r = await fit(m, spec, x, y, { epochs: 1, batchSize: n, shuffle: false, seed: 10, engine: 'graph' });
        m.dispose();
        return r.history[0]!.logs.loss!;
      })();
      expect(Math.abs(other - step.loss)).toBeGreaterThan(1e-6);
      expect((await lossAt(w0, 1)).loss).toBe(step.loss);
    }
  });

  it('a dropout mask keeps about 1 - rate of the units and scales them by 1 / (1 - rate)', async () => {
    // One step of plain sgd with lr 1 on a linear model: the first layer's kernel gradient is
    // zero exactly where the mask dropped a unit, so the changed columns count the kept units.
    const spec: TrainModelSpec = {
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 400, useBias: false },
          { type: 'dropout', rate: 0.25 },
          { type: 'dense', units: 1, useBias: false },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 1 },
      loss: 'meanSquaredError',
    };
    const { model } = buildModel(spec, { seed: 2 });
    const before = weightsOf(model)[0]!;
    await fit(
      model,
      spec,
      { data: Float32Array.of(1, 1, 1, 1), shape: [1, 4] },
      { data: Float32Array.of(5), shape: [1, 1] },
      { epochs: 1, batchSize: 1, engine: 'graph' },
    );
    const after = weightsOf(model)[0]!;
    let kept = 0;
    for (let u = 0; u < 400; u++) if (Math.abs(after[u]! - before[u]!) > 0) kept++;
    expect(kept).toBeGreaterThan(260);
    expect(kept).toBeLessThan(340);
    model.dispose();
  });

  it('falls back to the eager loop, saying why, for models it does not compile; engine graph then fails with the reason', async () => {
    const spec: TrainModelSpec = {
      // a cross-entropy model whose logits pass through dropout: the graph step fuses the loss
      // into the last dense/conv layer, so it does not compile this
      model: { inputShape: [5, 3], layers: [{ type: 'flatten' }, { type: 'dense', units: 2 }, { type: 'dropout', rate: 0.1 }] },
      optimizer: { type: 'adam' },
      loss: 'sparseCategoricalCrossentropy',
    };
    const x = { data: randoms(32 * 15, 20), shape: [32, 5, 3] };
    const y = { data: classes(32, 2, 21), shape: [32] };
    const { model } = buildModel(spec, { seed: 1 });
    const r = await fit(model, spec, x, y, { epochs: 1, batchSize: 16 });
    expect(r.engine.engine).toBe('eager');
    expect(r.engine.reason).toBe('a sparseCategoricalCrossentropy model must end in a dense or conv2d layer here');
    await expect(fit(model, spec, x, y, { epochs: 1, batchSize: 16, engine: 'graph' })).rejects.toThrow(
      /engine 'graph' is not possible here: a sparseCategoricalCrossentropy model must end in a dense/,
    );
    model.dispose();
    const long: TrainModelSpec = {
      ...spec,
      model: {
        inputShape: [200, 2],
        layers: [
          { type: 'gru', units: 2, returnSequences: true },
          { type: 'lstm', units: 2 },
          { type: 'dense', units: 2 },
        ],
      },
    };
    const longModel = buildModel(long, { seed: 1 });
    expect(compileTrainStep(longModel.model, long, { xDtype: 'float32', yDtype: 'int32', sampleWeights: false })).toEqual({
      unsupported:
        'model.layers[1] (lstm): 400 unrolled time steps in all, over 256 (compiling the unrolled graph would block for many seconds)',
    });
    longModel.model.dispose();
    const channelsFirst: TrainModelSpec = {
      ...spec,
      model: { inputShape: [3, 4, 4], layers: [{ type: 'batchNormalization', axis: 1 }, { type: 'flatten' }, { type: 'dense', units: 2 }] },
    };
    const built = buildModel(channelsFirst, { seed: 1 });
    const program = compileTrainStep(built.model, channelsFirst, { xDtype: 'float32', yDtype: 'int32', sampleWeights: false });
    expect(program).toEqual({ unsupported: 'model.layers[0] (batchNormalization) over axis 1; only the last axis compiles' });
    built.model.dispose();
  });

  it('MLPIPE_TF_GRAPH=0 forces the eager loop', async () => {
    const spec: TrainModelSpec = {
      model: { inputShape: [2], layers: [{ type: 'dense', units: 1 }] },
      optimizer: { type: 'sgd' },
      loss: 'meanSquaredError',
    };
    const { model } = buildModel(spec, { seed: 1 });
    process.env.MLPIPE_TF_GRAPH = '0';
    try {
      const r = await fit(
        model,
        spec,
        { data: randoms(8, 1), shape: [4, 2] },
        { data: randoms(4, 2), shape: [4, 1] },
        { epochs: 1, batchSize: 4 },
      );
      expect(r.engine).toEqual({ engine: 'eager', reason: 'MLPIPE_TF_GRAPH=0' });
    } finally {
      delete process.env.MLPIPE_TF_GRAPH;
      model.dispose();
    }
  });

  it('resumes across engines: a checkpoint from one continues on the other to the same weights', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 6, activation: 'relu' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.02 },
      loss: 'sparseCategoricalCrossentropy',
    };
    const x = { data: randoms(64 * 4, 22), shape: [64, 4] };
    const y = { data: classes(64, 2, 23), shape: [64] };
    const full = async (engine: 'graph' | 'eager') => {
      const { model } = buildModel(spec, { seed: 4 });
      let state: TrainingState | undefined;
      await fit(model, spec, x, y, { epochs: 4, batchSize: 16, engine, checkpointEvery: 2, onCheckpoint: (s) => void (state ??= s) });
      const w = weightsOf(model);
      model.dispose();
      return { w, state: state! };
    };
    const graph = await full('graph');
    const eager = await full('eager');
    // same slots in the same order (layer names differ: each build numbers its layers anew)
    const slotKinds = (st: TrainingState) => st.optimizer.map((s) => s.name.replace(/^dense_Dense\d+\//, 'dense/'));
    expect(slotKinds(graph.state)).toEqual(slotKinds(eager.state));
    expect(slotKinds(graph.state)).toContain('dense/kernel/v');
    expect(graph.state.optimizer[0]).toMatchObject({ name: 'iter', data: Int32Array.of(8) });
    for (const [from, to, expected] of [
      [graph.state, 'eager', graph.w],
      [eager.state, 'graph', eager.w],
    ] as const) {
      const { model } = buildModel(spec, { seed: 99 });
      const r = await fit(model, spec, x, y, { epochs: 4, batchSize: 16, engine: to, resumeFrom: from });
      expect(r.engine.engine).toBe(to);
      expect(r.epochsRun).toBe(2);
      expectSameWeights(weightsOf(model), expected as Float32Array[]);
      model.dispose();
    }
  });

  it('leaves no tensors or registered functions behind', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [3],
        layers: [
          { type: 'dense', units: 4, activation: 'relu' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'adam' },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy', 'recall'],
    };
    const { model } = buildModel(spec, { seed: 1 });
    const x = { data: randoms(40 * 3, 24), shape: [40, 3] };
    const y = { data: classes(40, 2, 25), shape: [40] };
    await fit(model, spec, x, y, { epochs: 1, batchSize: 8 }); // first run allocates tfjs's own caches
    const before = tf.memory().numTensors;
    const r = await fit(model, spec, x, y, { epochs: 2, batchSize: 8 });
    expect(r.engine.engine).toBe('graph');
    expect(tf.memory().numTensors).toBe(before);
    const binding = (tf.backend() as unknown as { binding: { hasFunction(n: string): boolean } }).binding;
    expect(binding.hasFunction(`mlpipe_train_step_${process.pid}_1`)).toBe(false);
    model.dispose();
  });
});

describe('graph training step: bad data', () => {
  it("a label outside the classes fails with TensorFlow's message and the step number, leaving nothing behind", async () => {
    const spec: TrainModelSpec = {
      model: { inputShape: [3], layers: [{ type: 'dense', units: 3 }] },
      optimizer: { type: 'sgd' },
      loss: 'sparseCategoricalCrossentropy',
    };
    const { model } = buildModel(spec, { seed: 1 });
    const before = tf.memory().numTensors;
    const labels = Int32Array.of(0, 1, 2, 0, 1, 7, 0, 1);
    await expect(
      fit(
        model,
        spec,
        { data: randoms(24, 3), shape: [8, 3] },
        { data: labels, shape: [8] },
        { epochs: 1, batchSize: 4, shuffle: false, engine: 'graph' },
      ),
    ).rejects.toThrow(/^training step 2 failed in TensorFlow: .*label value of 7 which is outside the valid range of \[0, 3\)/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('graph inference pass (validation, evaluate, serving)', () => {
  it("gives model.apply(x, { training: false })'s outputs: batch norm on moving statistics, dropout off, recurrent, conv, embedding", async () => {
    const { GraphPredictor } = await import('../../../src/ml/train/graph/forward.ts');
    const cases: Array<[TrainModelSpec, ArrayData, ArrayData]> = [
      [
        {
          model: {
            inputShape: [8, 8, 2],
            layers: [
              { type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu', padding: 'same' },
              { type: 'batchNormalization', momentum: 0.5 },
              { type: 'maxPooling2d', poolSize: 2 },
              { type: 'dropout', rate: 0.5 },
              { type: 'flatten' },
              { type: 'dense', units: 3, activation: 'softmax' },
            ],
          },
          optimizer: { type: 'adam', learningRate: 0.01 },
          loss: 'sparseCategoricalCrossentropy',
        },
        { data: randoms(64 * 128, 40), shape: [64, 8, 8, 2] },
        { data: classes(64, 3, 41), shape: [64] },
      ],
      [
        {
          model: {
            inputShape: [6, 3],
            layers: [
              { type: 'gru', units: 5, returnSequences: true },
              { type: 'lstm', units: 4 },
              { type: 'dense', units: 2 },
            ],
          },
          optimizer: { type: 'sgd' },
          loss: 'meanSquaredError',
        },
        { data: randoms(64 * 18, 42), shape: [64, 6, 3] },
        { data: randoms(64 * 2, 43), shape: [64, 2] },
      ],
      [
        {
          model: {
            inputShape: [4],
            layers: [
              { type: 'embedding', inputDim: 10, outputDim: 3 },
              { type: 'flatten' },
              { type: 'dense', units: 1, activation: 'sigmoid' },
            ],
          },
          optimizer: { type: 'sgd' },
          loss: 'binaryCrossentropy',
        },
        { data: Float32Array.from(randoms(64 * 4, 44), (r) => Math.floor(r * 10)), shape: [64, 4] },
        { data: Float32Array.from(classes(64, 2, 45)), shape: [64, 1] },
      ],
    ];
    for (const [spec, x, y] of cases) {
      const { model } = buildModel(spec, { seed: 3 });
      await fit(model, spec, x, y, { epochs: 2, batchSize: 16 }); // moving statistics move
      const p = GraphPredictor.create(tf, model, spec);
      if (!(p instanceof GraphPredictor)) throw new Error(`not compiled: ${p.unsupported}`);
      const xs = tf.tensor(x.data, x.shape);
      const got = p.apply(xs);
      const want = model.apply(xs, { training: false }) as TfModule.Tensor;
      expect(got.shape).toEqual(want.shape);
      const [g, w] = [got.dataSync(), want.dataSync()];
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!));
      expect(worst, spec.model.layers.map((l) => l.type).join(',')).toBeLessThan(1e-4);
      tf.dispose([xs, got, want]);
      p.dispose();
      expect(() => p.apply(xs)).toThrow(/after dispose/);
      model.dispose();
    }
  });

  it('validation logs are the same whether the validation pass runs as a graph or eagerly', async () => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [5],
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'batchNormalization' },
          { type: 'dropout', rate: 0.3 },
          { type: 'dense', units: 3 },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.01 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy', 'precision', 'recall'],
    };
    const x = { data: randoms(N * 5, 46), shape: [N, 5] };
    const y = { data: classes(N, 3, 47), shape: [N] };
    const validation = { x: { data: randoms(40 * 5, 48), shape: [40, 5] }, y: { data: classes(40, 3, 49), shape: [40] } };
    const { model } = buildModel(spec, { seed: 1 });
    const r = await fit(model, spec, x, y, { epochs: 2, batchSize: 16, validation });
    expect(r.engine.engine).toBe('graph');
    // the same model evaluated eagerly
    process.env.MLPIPE_TF_GRAPH = '0';
    let eager;
    try {
      eager = await evaluate(model, spec, validation.x, validation.y, 16);
    } finally {
      delete process.env.MLPIPE_TF_GRAPH;
    }
    const graph = await evaluate(model, spec, validation.x, validation.y, 16);
    for (const k of ['loss', 'accuracy', 'precision', 'recall']) {
      expect(graph[k]).toBeCloseTo(eager[k]!, 5);
      expect(r.history.at(-1)!.logs[`val_${k}`]).toBeCloseTo(eager[k]!, 5);
    }
    model.dispose();
  });
});

describe('graph training step: several steps per call (multi-step.ts)', () => {
  // dropout (a seed per step), batch norm (state), adam (bias corrections per step), class
  // weights (sample weights), a frozen layer and metric sums: every kind of input the chunk
  // function stages or carries
  const spec: TrainModelSpec = {
    model: {
      inputShape: [6],
      layers: [
        { type: 'dense', units: 8, activation: 'relu', trainable: false },
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'batchNormalization' },
        { type: 'dropout', rate: 0.3 },
        { type: 'dense', units: 3 },
      ],
    },
    optimizer: { type: 'adam', learningRate: 0.01 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy', 'precision'],
  };
  const n = 100; // 12 batches of 8 and a last one of 4
  const x = { data: randoms(n * 6, 31), shape: [n, 6] };
  const y = { data: classes(n, 3, 32), shape: [n] };

  async function train(stepsPerCall: number, opts: Partial<FitOptions> = {}) {
    const { model } = buildModel(spec, { seed: 5 });
    const losses: Array<[number, number, number]> = [];
    const r = await fit(model, spec, x, y, {
      epochs: 2,
      batchSize: 8,
      seed: 4,
      engine: 'graph',
      classWeight: { 0: 1, 1: 2, 2: 0.5 },
      stepsPerCall,
      onBatch: (e, b, loss) => void losses.push([e, b, loss]),
      ...opts,
    });
    const w = weightsOf(model);
    model.dispose();
    return { r, w, losses };
  }

  it('K steps per call train exactly as K single calls: weights, batch norm statistics, per-batch losses, logs', async () => {
    const single = await train(1);
    expect(single.losses.length).toBe(26);
    for (const k of [4, 5]) {
      const multi = await train(k);
      expect(multi.r.history.length).toBe(2);
      multi.r.history.forEach((h, e) => {
        const other = single.r.history[e]!.logs;
        expect(Object.keys(h.logs).sort()).toEqual(Object.keys(other).sort());
        for (const [key, v] of Object.entries(h.logs)) expect(v, `epoch ${e} ${key}`).toBeCloseTo(other[key]!, 6);
      });
      expect(multi.losses.map(([e, b]) => [e, b])).toEqual(single.losses.map(([e, b]) => [e, b]));
      multi.losses.forEach(([, , l], i) => expect(l, `batch ${i}`).toBeCloseTo(single.losses[i]![2], 6));
      expectSameWeights(multi.w, single.w, 1e-6);
    }
  });

  it('checks cancellation between calls, reports every batch of a call, and removes its functions', async () => {
    // the binding's functions are read-only: watch them through an object that inherits the rest
    const backend = tf.backend() as unknown as { binding: Record<string, (a: unknown) => unknown> };
    const binding = backend.binding;
    const added: number[] = [];
    const removed: string[] = [];
    backend.binding = Object.create(binding, {
      addFunctionDef: {
        value: (bytes: unknown) => {
          added.push(1);
          return binding.addFunctionDef!(bytes);
        },
      },
      removeFunction: {
        value: (name: unknown) => {
          removed.push(name as string);
          return binding.removeFunction!(name);
        },
      },
    });
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    try {
      const r = await train(4, {
        signal: controller.signal,
        // aborted during the first call's batches: the call's other batches still report, the next call never starts
        onBatch: (_e, b) => {
          seen.push(b);
          if (b === 1) controller.abort();
        },
      });
      expect(seen).toEqual([0, 1, 2, 3]);
      expect(r.r.stopReason).toBe('cancelled');
      expect(r.r.epochsRun).toBe(0);
      expect(r.r.samplesPerSecond).toBeGreaterThan(0);
    } finally {
      backend.binding = binding;
    }
    // the step function and its 4-step function, both removed at the end
    expect(added.length).toBe(2);
    expect(removed.length).toBe(2);
    for (const name of removed) expect((binding.hasFunction as (n: string) => boolean)(name)).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });
});

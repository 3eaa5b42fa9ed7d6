// Every layer type, activation and optimizer mlpipe offers, run on the native backend (TF 2.21
// libraries behind tfjs-node 4.22's TF 2.9-era binding): forward shape, a finite non-zero
// gradient, and one training step that changes the weights. An op the libraries lack or compute
// differently fails here rather than in a user's pipeline.
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import { fit, evaluate } from '../../../src/ml/train/fit.ts';
import { buildModel, buildOptimizer, ModelSpecError } from '../../../src/ml/train/model.ts';
import type { Activation, Initializer, LayerSpec, OptimizerSpec, TrainModelSpec } from '../../../src/ml/train/model-spec.ts';
import { allFinite, expectNativeBackend, maxAbs, randoms, separable } from '../../support/ml.ts';

let tf: typeof TfModule;
beforeAll(() => {
  tf = expectNativeBackend().tf;
});

interface LayerCase {
  name: string;
  layer: LayerSpec;
  inputShape: number[];
  /** Output shape of the layer under test, without the batch dimension. */
  out: number[];
  intInput?: number;
}

const CASES: LayerCase[] = [
  {
    name: 'dense',
    layer: {
      type: 'dense',
      units: 5,
      activation: 'relu',
      kernelInitializer: 'heNormal',
      kernelRegularizer: { l1: 0.01, l2: 0.001 },
      useBias: true,
    },
    inputShape: [6],
    out: [5],
  },
  { name: 'dense without bias', layer: { type: 'dense', units: 5, activation: 'tanh', useBias: false }, inputShape: [6], out: [5] },
  {
    name: 'conv2d same',
    layer: { type: 'conv2d', filters: 3, kernelSize: 3, padding: 'same', strides: 1, activation: 'relu', kernelInitializer: 'heNormal' },
    inputShape: [8, 8, 2],
    out: [8, 8, 3],
  },
  {
    name: 'conv2d valid stride 2',
    layer: {
      type: 'conv2d',
      filters: 4,
      kernelSize: [3, 3],
      padding: 'valid',
      strides: 2,
      activation: 'elu',
      kernelRegularizer: { l2: 0.01 },
    },
    inputShape: [8, 8, 2],
    out: [3, 3, 4],
  },
  { name: 'maxPooling2d', layer: { type: 'maxPooling2d', poolSize: 2 }, inputShape: [8, 8, 2], out: [4, 4, 2] },
  { name: 'averagePooling2d', layer: { type: 'averagePooling2d', poolSize: 2, strides: 2 }, inputShape: [8, 8, 2], out: [4, 4, 2] },
  { name: 'flatten', layer: { type: 'flatten' }, inputShape: [4, 3], out: [12] },
  { name: 'dropout', layer: { type: 'dropout', rate: 0.2 }, inputShape: [6], out: [6] },
  { name: 'batchNormalization', layer: { type: 'batchNormalization', momentum: 0.99, epsilon: 0.001 }, inputShape: [6], out: [6] },
  { name: 'batchNormalization on images', layer: { type: 'batchNormalization' }, inputShape: [4, 4, 3], out: [4, 4, 3] },
  { name: 'lstm', layer: { type: 'lstm', units: 4, returnSequences: false }, inputShape: [5, 3], out: [4] },
  { name: 'lstm sequences', layer: { type: 'lstm', units: 4, returnSequences: true }, inputShape: [5, 3], out: [5, 4] },
  { name: 'gru', layer: { type: 'gru', units: 4 }, inputShape: [5, 3], out: [4] },
  { name: 'embedding', layer: { type: 'embedding', inputDim: 20, outputDim: 4 }, inputShape: [5], out: [5, 4], intInput: 20 },
];

const N = 16;

function specFor(c: LayerCase): TrainModelSpec {
  const layers: LayerSpec[] = [c.layer];
  if (c.out.length > 1) layers.push({ type: 'flatten' });
  layers.push({ type: 'dense', units: 3 });
  return {
    model: { inputShape: c.inputShape, layers },
    optimizer: { type: 'sgd', learningRate: 0.1 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  };
}

function inputsFor(c: LayerCase) {
  const size = N * c.inputShape.reduce((a, b) => a * b, 1);
  const data = c.intInput
    ? Int32Array.from(randoms(size), (v) => Math.floor(v * c.intInput!))
    : Float32Array.from(randoms(size), (v) => v * 2 - 1);
  return { x: { data, shape: [N, ...c.inputShape] }, y: { data: Int32Array.from({ length: N }, (_, i) => i % 3), shape: [N] } };
}

describe.each(CASES)('layer $name on the native backend', (c) => {
  it('forward shape, finite non-zero gradient, one fit step changes the weights', async () => {
    const spec = specFor(c);
    const { model } = buildModel(spec, { seed: 7 });
    const { x, y } = inputsFor(c);
    const xs = tf.tensor(x.data, x.shape, c.intInput ? 'int32' : 'float32');

    // forward: the layer under test, then the whole model
    const layerOut = model.layers[0]!.apply(xs) as TfModule.Tensor;
    expect(layerOut.shape).toEqual([N, ...c.out]);
    expect(allFinite(layerOut.dataSync())).toBe(true);
    const out = model.predict(xs) as TfModule.Tensor;
    expect(out.shape).toEqual([N, 3]);

    // gradient of a loss w.r.t. every trainable weight: finite everywhere, non-zero for the layer
    // under test (or, for weightless layers, w.r.t. the input)
    const ys = tf.tensor(y.data, y.shape, 'int32');
    const lossFn = (input: TfModule.Tensor) =>
      tf.losses.softmaxCrossEntropy(tf.oneHot(ys, 3), model.apply(input, { training: true }) as TfModule.Tensor) as TfModule.Scalar;
    const { grads } = tf.variableGrads(() => lossFn(xs));
    const own = model.layers[0]!.trainableWeights.map((w) => (w.read() as TfModule.Variable).name);
    for (const [name, g] of Object.entries(grads)) {
      expect(allFinite(g.dataSync()), `gradient of ${name} is finite`).toBe(true);
    }
    if (own.length) {
      expect(Math.max(...own.map((n) => maxAbs(grads[n]!.dataSync()))), 'gradient of the layer weights is non-zero').toBeGreaterThan(0);
    } else if (!c.intInput) {
      const gx = tf.grad((input: TfModule.Tensor) => lossFn(input))(xs);
      expect(allFinite(gx.dataSync())).toBe(true);
      expect(maxAbs(gx.dataSync()), 'gradient w.r.t. the input is non-zero').toBeGreaterThan(0);
    }
    tf.dispose([layerOut, out, ys, xs, ...Object.values(grads)]);

    // one optimizer step through mlpipe's training engine
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const r = await fit(model, spec, x, y, { epochs: 1, batchSize: N, shuffle: false });
    expect(r.backend.backend).toBe(expectNativeBackend().info.backend);
    expect(Number.isFinite(r.history[0]!.logs.loss!)).toBe(true);
    const after = model.getWeights().map((w) => w.dataSync());
    const changed = before.map((b, i) => maxAbs(b.map((v, j) => v - after[i]![j]!)));
    const ownIdx = model.layers[0]!.weights.map((w) => model.weights.indexOf(w)).filter((i) => i >= 0 && model.weights[i]!.trainable);
    expect(Math.max(...(ownIdx.length ? ownIdx : changed.map((_, i) => i)).map((i) => changed[i]!)), 'weights changed').toBeGreaterThan(0);
    expect(changed.every((d) => Number.isFinite(d))).toBe(true);
    model.dispose();
  });
});

const ACTIVATIONS: Activation[] = [
  'relu',
  'relu6',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'softplus',
  'softsign',
  'linear',
  'elu',
  'selu',
  'swish',
  'mish',
  'gelu',
];

describe('activations on the native backend', () => {
  it.each(ACTIVATIONS)('%s: forward finite, gradient finite and non-zero', (activation) => {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 6, activation },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer: { type: 'sgd' },
      loss: 'meanSquaredError',
    };
    const { model } = buildModel(spec, { seed: 1 });
    const xs = tf.tensor(
      Float32Array.from(randoms(32), (v) => v * 4 - 2),
      [8, 4],
    );
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.apply(xs) as TfModule.Tensor)) as TfModule.Scalar);
    expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
    const kernel = grads[(model.layers[0]!.trainableWeights[0]!.read() as TfModule.Variable).name]!.dataSync();
    expect(allFinite(kernel)).toBe(true);
    expect(maxAbs(kernel)).toBeGreaterThan(0);
    model.dispose();
  });
});

const INITIALIZERS: Initializer[] = [
  'glorotUniform',
  'glorotNormal',
  'heNormal',
  'heUniform',
  'leCunNormal',
  'leCunUniform',
  'zeros',
  'ones',
  'randomNormal',
  'randomUniform',
  'truncatedNormal',
  'orthogonal',
];

describe('initializers and seeds', () => {
  it.each(INITIALIZERS)('%s builds', (init) => {
    const { model } = buildModel(
      {
        model: { inputShape: [4], layers: [{ type: 'dense', units: 4, kernelInitializer: init }] },
        optimizer: { type: 'sgd' },
        loss: 'meanSquaredError',
      },
      { seed: 3 },
    );
    expect(allFinite(model.getWeights()[0]!.dataSync())).toBe(true);
    model.dispose();
  });

  it('the same seed gives the same initial weights, another seed others', () => {
    const spec = specFor(CASES[2]!);
    const w = (seed: number) =>
      buildModel(spec, { seed })
        .model.getWeights()
        .map((t) => Array.from(t.dataSync()));
    expect(w(11)).toEqual(w(11));
    expect(w(11)).not.toEqual(w(12));
  });

  it('names the layer and the fix for a bad spec', () => {
    const bad = {
      model: { inputShape: [4], layers: [{ type: 'dense', units: 2 }, { type: 'conv3d' }] },
      optimizer: { type: 'sgd' },
      loss: 'meanSquaredError',
    } as unknown as TrainModelSpec;
    expect(() => buildModel(bad)).toThrow(ModelSpecError);
    expect(() => buildModel(bad)).toThrow(/model\.layers\[1\].*conv3d.*use one of dense/);
    expect(() => buildModel({ ...bad, model: { layers: [{ type: 'flatten' }] } })).toThrow(/model\.inputShape/);
  });
});

const OPTIMIZERS: OptimizerSpec[] = [
  { type: 'sgd', learningRate: 0.5 },
  { type: 'sgd', learningRate: 0.2, momentum: 0.9 },
  { type: 'sgd', learningRate: 0.2, momentum: 0.9, nesterov: true },
  { type: 'adam', learningRate: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  { type: 'rmsprop', learningRate: 0.02, rho: 0.9, momentum: 0, epsilon: 1e-7 },
  { type: 'rmsprop', learningRate: 0.01, rho: 0.9, momentum: 0.5 },
  { type: 'adagrad', learningRate: 0.3 },
];

describe.each(OPTIMIZERS)('optimizer %o on the native backend', (optimizer) => {
  it('reduces the loss on a separable problem and exposes its state for resume', async () => {
    const { x, y } = separable(128);
    const spec: TrainModelSpec = {
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 2 },
        ],
      },
      optimizer,
      loss: 'categoricalCrossentropy',
      metrics: ['accuracy'],
    };
    const { model } = buildModel(spec, { seed: 5 });
    const before = (await evaluate(model, spec, x, y)).loss!;
    let checkpoint: Awaited<Parameters<NonNullable<Parameters<typeof fit>[4]['onCheckpoint']>>[0]> | undefined;
    await fit(model, spec, x, y, { epochs: 5, batchSize: 16, seed: 1, checkpointEvery: 5, onCheckpoint: (s) => void (checkpoint = s) });
    const after = (await evaluate(model, spec, x, y)).loss!;
    expect(after).toBeLessThan(before);
    expect(checkpoint!.nextEpoch).toBe(5);
    if (optimizer.type !== 'sgd' || optimizer.momentum) expect(checkpoint!.optimizer.length, 'optimizer slots captured').toBeGreaterThan(0);
    expect(checkpoint!.optimizer.every((s) => allFinite(s.data))).toBe(true);
    model.dispose();
  });

  it('builds through buildOptimizer', () => {
    const opt = buildOptimizer(optimizer);
    expect(opt).toBeInstanceOf(tf.Optimizer);
    opt.dispose();
  });
});

// Build a tfjs LayersModel and its optimizer from a pipeline's model spec (src/ml/train/model-spec.ts).
import type * as TfModule from '@tensorflow/tfjs';
import { getTf } from '../runtime/backend.ts';
import type {
  Activation,
  Conv2dLayer,
  DenseLayer,
  Initializer,
  LayerSpec,
  ModelSpec,
  OptimizerSpec,
  Regularizer,
  Size2,
  TrainModelSpec,
} from './model-spec.ts';

type LayersModel = TfModule.LayersModel;
type Optimizer = TfModule.Optimizer;

export interface BuildOptions {
  /** Sample shape from the dataset; used when the spec has no inputShape. */
  inputShape?: number[];
  /** Seed for every random initializer: the same seed gives the same initial weights. */
  seed?: number;
}

/**
 * What the final layer emits. A last layer with a linear (or no) activation under a
 * cross-entropy loss is treated as logits, as PyTorch's CrossEntropyLoss does: the loss applies
 * the softmax/sigmoid itself, and consumers must apply it to predictions (see `toProbabilities`).
 */
export type OutputKind = 'probabilities' | 'logits' | 'values';

export interface BuiltModel {
  model: LayersModel;
  outputKind: OutputKind;
}

const SEEDED_INITIALIZERS = new Set<Initializer>([
  'glorotUniform',
  'glorotNormal',
  'heNormal',
  'heUniform',
  'leCunNormal',
  'leCunUniform',
  'randomNormal',
  'randomUniform',
  'truncatedNormal',
  'orthogonal',
]);

export class ModelSpecError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'ModelSpecError';
  }
}

/** Deterministic per-layer seeds: distinct for each (layer, slot) so layers are not correlated. */
function seeder(seed: number | undefined) {
  return (layerIndex: number, slot: number) => (seed === undefined ? undefined : (seed * 7919 + layerIndex * 101 + slot) % 2147483647);
}

type Tf = typeof TfModule;

/** A named initializer, seeded when it is random (tfjs takes the seed only in the config form). */
function initializer(tf: Tf, name: Initializer | undefined, seed: number | undefined) {
  if (name === undefined) return undefined;
  if (!SEEDED_INITIALIZERS.has(name) || seed === undefined) return name;
  const make = (tf.initializers as unknown as Record<string, (c: { seed?: number }) => ReturnType<Tf['initializers']['zeros']>>)[name];
  if (!make) throw new ModelSpecError('initializer', `unknown initializer ${name}`);
  return make({ seed });
}

function regularizer(tf: Tf, r: Regularizer | undefined) {
  if (!r) return undefined;
  return tf.regularizers.l1l2({ l1: r.l1 ?? 0, l2: r.l2 ?? 0 });
}

type ActivationId = NonNullable<Parameters<Tf['layers']['dense']>[0]>['activation'];
function activation(a: Activation | undefined): ActivationId {
  return a as ActivationId;
}

/** The kernel initializer a layer gets when the spec names none: glorotUniform, but seeded. */
function defaultKernelInit(tf: Tf, seed: number | undefined, name: Initializer | undefined) {
  return initializer(tf, name ?? 'glorotUniform', seed);
}

/** Activation, bias, initializers and regularizers: the fields dense and conv2d share. */
/** A size as tfjs types it: one number, or one per spatial dimension (the schema allows two). */
function pair(v: Size2): number | [number, number];
function pair(v: Size2 | undefined): number | [number, number] | undefined;
function pair(v: Size2 | undefined): number | [number, number] | undefined {
  return Array.isArray(v) ? [v[0]!, v[1]!] : v;
}

function weightArgs(tf: Tf, spec: DenseLayer | Conv2dLayer, i: number, seedFor: ReturnType<typeof seeder>) {
  return {
    activation: activation(spec.activation),
    useBias: spec.useBias,
    kernelInitializer: defaultKernelInit(tf, seedFor(i, 0), spec.kernelInitializer),
    biasInitializer: initializer(tf, spec.biasInitializer, seedFor(i, 1)),
    kernelRegularizer: regularizer(tf, spec.kernelRegularizer),
    biasRegularizer: regularizer(tf, spec.biasRegularizer),
  };
}

function makeLayer(tf: Tf, spec: LayerSpec, i: number, seedFor: ReturnType<typeof seeder>, first: { inputShape?: number[] }) {
  const common = { ...first, ...(spec.name ? { name: spec.name } : {}), ...(spec.trainable === false ? { trainable: false } : {}) };
  const L = tf.layers;
  switch (spec.type) {
    case 'dense':
      return L.dense({
        ...common,
        units: spec.units,
        ...weightArgs(tf, spec, i, seedFor),
      });
    case 'conv2d':
      return L.conv2d({
        ...common,
        filters: spec.filters,
        kernelSize: pair(spec.kernelSize),
        strides: pair(spec.strides),
        padding: spec.padding,
        dilationRate: pair(spec.dilationRate),
        ...weightArgs(tf, spec, i, seedFor),
      });
    case 'maxPooling2d':
    case 'averagePooling2d': {
      const cfg = { ...common, poolSize: pair(spec.poolSize ?? 2), strides: pair(spec.strides), padding: spec.padding };
      return spec.type === 'maxPooling2d' ? L.maxPooling2d(cfg) : L.averagePooling2d(cfg);
    }
    case 'flatten':
      return L.flatten(common);
    case 'dropout':
      if (!(spec.rate >= 0 && spec.rate < 1)) throw new ModelSpecError(`model.layers[${i}]`, `dropout rate ${spec.rate} must be in [0, 1)`);
      // No seed: tfjs reuses a seeded dropout mask on every call, which would freeze the mask.
      return L.dropout({ ...common, rate: spec.rate });
    case 'batchNormalization':
      return L.batchNormalization({
        ...common,
        momentum: spec.momentum,
        epsilon: spec.epsilon,
        axis: spec.axis,
        center: spec.center,
        scale: spec.scale,
      });
    case 'lstm':
    case 'gru': {
      const cfg = {
        ...common,
        units: spec.units,
        returnSequences: spec.returnSequences ?? false,
        activation: activation(spec.activation),
        recurrentActivation: activation(spec.recurrentActivation),
        dropout: spec.dropout,
        recurrentDropout: spec.recurrentDropout,
        kernelInitializer: defaultKernelInit(tf, seedFor(i, 0), spec.kernelInitializer),
        // orthogonal is tfjs's default here too; seeding it keeps runs reproducible.
        recurrentInitializer: initializer(tf, spec.recurrentInitializer ?? 'orthogonal', seedFor(i, 1)),
        kernelRegularizer: regularizer(tf, spec.kernelRegularizer),
      };
      return spec.type === 'lstm' ? L.lstm(cfg) : L.gru(cfg);
    }
    case 'embedding':
      return L.embedding({
        ...common,
        inputDim: spec.inputDim,
        outputDim: spec.outputDim,
        embeddingsInitializer: initializer(tf, spec.embeddingsInitializer ?? 'randomUniform', seedFor(i, 0)),
        embeddingsRegularizer: regularizer(tf, spec.embeddingsRegularizer),
      });
    default: {
      const t = (spec as { type?: unknown }).type;
      throw new ModelSpecError(
        `model.layers[${i}]`,
        `unknown layer type ${JSON.stringify(t)}; use one of dense, conv2d, maxPooling2d, averagePooling2d, ` +
          'flatten, dropout, batchNormalization, lstm, gru, embedding',
      );
    }
  }
}

function lastActivation(spec: ModelSpec): Activation | undefined {
  for (let i = spec.layers.length - 1; i >= 0; i--) {
    const l = spec.layers[i]!;
    if (l.type === 'dense' || l.type === 'conv2d') return l.activation ?? 'linear';
    if (l.type === 'lstm' || l.type === 'gru') return l.activation ?? 'tanh';
  }
  return undefined;
}

export function outputKindFor(spec: TrainModelSpec): OutputKind {
  const act = lastActivation(spec.model);
  const crossEntropy = spec.loss.endsWith('rossentropy');
  if (!crossEntropy) return 'values';
  if (act === undefined || act === 'linear') return 'logits';
  return 'probabilities';
}

/** Build the (uncompiled) model; training runs through src/ml/train/fit.ts. */
export function buildModel(spec: TrainModelSpec, opts: BuildOptions = {}): BuiltModel {
  const tf = getTf();
  const m = spec.model;
  if (!m || !Array.isArray(m.layers) || m.layers.length === 0) {
    throw new ModelSpecError('model.layers', 'needs at least one layer');
  }
  const inputShape = m.inputShape ?? opts.inputShape;
  if (!inputShape || inputShape.length === 0) {
    throw new ModelSpecError('model.inputShape', 'unknown: give model.inputShape or a dataset that states its sample shape');
  }
  const act = lastActivation(m);
  if (spec.loss === 'categoricalCrossentropy' || spec.loss === 'sparseCategoricalCrossentropy') {
    if (act && act !== 'softmax' && act !== 'linear') {
      throw new ModelSpecError(
        'model.layers',
        `the last layer's activation ${act} does not fit loss ${spec.loss}; use softmax or none (logits)`,
      );
    }
  }
  const seedFor = seeder(opts.seed);
  const model = tf.sequential();
  m.layers.forEach((layer, i) => {
    try {
      model.add(makeLayer(tf, layer, i, seedFor, i === 0 ? { inputShape } : {}));
    } catch (e) {
      if (e instanceof ModelSpecError) throw e;
      throw new ModelSpecError(`model.layers[${i}] (${layer.type})`, (e as Error).message);
    }
  });
  return { model, outputKind: outputKindFor(spec) };
}

export function buildOptimizer(spec: OptimizerSpec): Optimizer {
  const tf = getTf();
  switch (spec.type) {
    case 'sgd': {
      const lr = spec.learningRate ?? 0.01;
      return spec.momentum ? tf.train.momentum(lr, spec.momentum, spec.nesterov ?? false) : tf.train.sgd(lr);
    }
    case 'adam':
      return tf.train.adam(spec.learningRate ?? 0.001, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
    case 'rmsprop':
      return tf.train.rmsprop(spec.learningRate ?? 0.001, spec.rho ?? 0.9, spec.momentum ?? 0, spec.epsilon ?? 1e-7);
    case 'adagrad':
      return tf.train.adagrad(spec.learningRate ?? 0.01, spec.initialAccumulatorValue ?? 0.1);
    default:
      throw new ModelSpecError(
        'optimizer.type',
        `unknown optimizer ${JSON.stringify((spec as { type?: unknown }).type)}; use sgd, adam, rmsprop or adagrad`,
      );
  }
}

/** The learning rate an optimizer spec starts from (the schedule scales it per epoch). */
export function baseLearningRate(spec: OptimizerSpec): number {
  return spec.learningRate ?? (spec.type === 'sgd' || spec.type === 'adagrad' ? 0.01 : 0.001);
}

/** Change an optimizer's learning rate in place (tfjs optimizers read it on every step). */
export function setLearningRate(opt: Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function')
    o.setLearningRate(lr); // sgd, momentum
  else o.learningRate = lr; // adam, rmsprop, adagrad
}

/** Turn model outputs into probabilities when the model emits logits. */
export function toProbabilities(outputs: TfModule.Tensor, kind: OutputKind, loss: TrainModelSpec['loss']): TfModule.Tensor {
  const tf = getTf();
  if (kind !== 'logits') return outputs;
  return loss === 'binaryCrossentropy' ? tf.sigmoid(outputs) : tf.softmax(outputs);
}

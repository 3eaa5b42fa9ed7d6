// The layers of a sequential model as graph ops, for the training step (mode 'train': batch
// statistics, dropout masks, a tape per layer for the backward pass) and for inference (mode
// 'infer': moving statistics, no dropout), so both run exactly the same layer code.
import type * as TfModule from '@tensorflow/tfjs';
import type { LayerSpec, Regularizer, TrainModelSpec } from '../model-spec.ts';
import { GRAPH_ACTIVATIONS } from './activations.ts';
import type { FunctionBuilder, Ref } from './function-def.ts';
import { emitLayer, type LayerContext } from './layer-emitters.ts';
import type { Ops } from './ops.ts';

export { MAX_UNROLLED_STEPS } from './layer-emitters.ts';

/** One layer's backward pass: its weights' gradients (in weight order) and, if asked, its input's. */
export interface Tape {
  backward: (dy: Ref, needDx: boolean) => { dx?: Ref; grads: Ref[] };
}

export interface LayerGraphOptions {
  mode: 'train' | 'infer';
  /** Leave the last layer's activation to the loss (its pre-activation is `logits`). */
  fuseLast: boolean;
  /** int32 [2]: the step's dropout seed (train mode with dropout only). */
  seed: Ref | null;
  /** The next weight input of layer `i` (trainable or frozen), registering its regularizer. */
  takeWeight: (i: number, reg: Regularizer | undefined) => { w: Ref };
  /** Batch norm moving mean/variance inputs, two per batch-norm layer in order. */
  stateIn: Ref[];
}

export interface LayerGraph {
  out: Ref;
  /** The last layer's pre-activation when fused into the loss. */
  logits: Ref | null;
  tapes: Tape[];
  /** New moving statistics (train mode), matching `stateIn`. */
  stateOut: Ref[];
}

/** The function inputs for a model's weights, and the bookkeeping of handing them to layers. */
export interface WeightInputs {
  /** Trainable weights (model.trainableWeights order). */
  weights: Ref[];
  weightsMeta: Array<{ name: string; shape: number[] }>;
  /** Frozen layers' weights (spec `trainable: false`, warm start's freezeLayers): read, never updated. */
  frozenWeights: TfModule.LayerVariable[];
  /** Batch norm moving mean and variance, two per batch-norm layer. */
  stateWeights: TfModule.LayerVariable[];
  stateIn: Ref[];
  takeWeight: LayerGraphOptions['takeWeight'];
  /** Regularised weights: `k` is the index among trainable weights, or -1 for a frozen one. */
  regularised: Array<{ w: Ref; k: number; rank: number; reg: Regularizer }>;
  /** After the layers are emitted: a reason if some weight input was never used, else null. */
  unused(): string | null;
}

/** Declare the weight inputs, in this order: trainable, frozen, batch norm statistics. */
export function declareWeights(g: FunctionBuilder, model: TfModule.LayersModel, spec: TrainModelSpec): WeightInputs {
  const layers = spec.model.layers;
  const weightsMeta = model.trainableWeights.map((w) => ({ name: w.name, shape: w.shape.map((d) => d!) }));
  const weights = weightsMeta.map((_, i) => g.input(`w${i}`, 'float32'));
  // (a frozen batch norm lists gamma, beta, moving mean, moving variance as non-trainable: the
  // first are frozen weights, the statistics stay state, updated as tfjs does in training)
  const frozenWeights = layers.flatMap((l, i) => {
    const tl = model.layers[i]!;
    if (tl.trainable) return [];
    return l.type === 'batchNormalization' ? tl.nonTrainableWeights.slice(0, -2) : tl.nonTrainableWeights;
  });
  const frozenIn = frozenWeights.map((_, i) => g.input(`frozen${i}`, 'float32'));
  const stateWeights = layers.flatMap((l, i) => (l.type === 'batchNormalization' ? model.layers[i]!.nonTrainableWeights.slice(-2) : []));
  const stateIn = stateWeights.map((_, i) => g.input(`state${i}`, 'float32'));
  let wi = 0;
  let fi = 0;
  const regularised: WeightInputs['regularised'] = [];
  const takeWeight = (i: number, reg: Regularizer | undefined): { w: Ref; k: number } => {
    const trainable = model.layers[i]!.trainable;
    const taken = trainable ? { w: weights[wi]!, k: wi++ } : { w: frozenIn[fi++]!, k: -1 };
    const shape = trainable ? weightsMeta[taken.k]!.shape : frozenWeights[fi - 1]!.shape;
    if (reg && (reg.l1 || reg.l2)) regularised.push({ ...taken, rank: shape.length, reg });
    return taken;
  };
  const unused = () =>
    wi !== weights.length || fi !== frozenIn.length
      ? `the model has ${weights.length + frozenIn.length} weights, the layers used ${wi + fi}`
      : null;
  return { weights, weightsMeta, frozenWeights, stateWeights, stateIn, takeWeight, regularised, unused };
}

/** Why a model's layers cannot compile (first reason), or null. */
export function unsupportedLayers(layers: LayerSpec[]): string | null {
  for (const [i, l] of layers.entries()) {
    const why = unsupportedLayer(l);
    if (why) return `model.layers[${i}] (${l.type}): ${why}`;
  }
  return null;
}

/** Emit `model`'s layers on input `x`, in order, each on the previous one's output. */
export function layerGraph(
  o: Ops,
  model: TfModule.LayersModel,
  spec: TrainModelSpec,
  x: Ref,
  opts: LayerGraphOptions,
): LayerGraph | { unsupported: string } {
  const layers = spec.model.layers;
  const shared: LayerContext['shared'] = { stateAt: 0, stateIn: opts.stateIn, stateOut: [], unrolled: 0 };
  const tapes: Tape[] = [];
  let h: Ref = x;
  let logits: Ref | null = null;
  for (const [i, l] of layers.entries()) {
    const emitted = emitLayer(l, h, {
      o,
      i,
      tfLayer: model.layers[i]!,
      train: opts.mode === 'train',
      fuse: i === layers.length - 1 && opts.fuseLast,
      seed: opts.seed,
      takeWeight: (reg) => opts.takeWeight(i, reg).w,
      shared,
    });
    if ('unsupported' in emitted) return emitted;
    h = emitted.out;
    if (emitted.tape) tapes.push(emitted.tape);
    if (emitted.logits) logits = emitted.logits;
  }
  return { out: h, logits, tapes, stateOut: shared.stateOut };
}

function unsupportedLayer(l: LayerSpec): string | null {
  switch (l.type) {
    case 'dense':
    case 'conv2d': {
      const act = l.activation ?? 'linear';
      if (!GRAPH_ACTIVATIONS.has(act)) return `activation ${act}`;
      return null;
    }
    case 'maxPooling2d':
    case 'averagePooling2d':
    case 'flatten':
    case 'dropout':
    case 'batchNormalization':
    case 'embedding':
    case 'lstm':
    case 'gru': {
      for (const act of [
        l.type === 'lstm' || l.type === 'gru' ? l.activation : undefined,
        'recurrentActivation' in l ? l.recurrentActivation : undefined,
      ]) {
        if (act && !GRAPH_ACTIVATIONS.has(act)) return `activation ${act}`;
      }
      return null;
    }
    default:
      return 'layer type not compiled to a graph';
  }
}

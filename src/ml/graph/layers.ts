// The layers of a sequential model as graph ops, for the training step (mode 'train': batch
// statistics, dropout masks, a tape per layer for the backward pass) and for inference (mode
// 'infer': moving statistics, no dropout), so both run exactly the same layer code.
import type * as TfModule from '@tensorflow/tfjs';
import type { LayerSpec, Regularizer, TrainModelSpec } from '../model-spec.ts';
import { activate, activationGrad, GRAPH_ACTIVATIONS } from './activations.ts';
import type { FunctionBuilder, Ref } from './function-def.ts';
import type { Ops, Padding } from './ops.ts';
import { recurrent } from './recurrent.ts';

/**
 * Recurrent layers are unrolled; TensorFlow's graph optimiser takes superlinear time on long
 * unrolled graphs (one LSTM: 300 steps ~7 s, 600 steps ~44 s, blocking the first batch and with
 * it the activity's heartbeats), so longer sequences train on eager ops.
 */
export const MAX_UNROLLED_STEPS = 256;

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
    wi !== weights.length || fi !== frozenIn.length ? `the model has ${weights.length + frozenIn.length} weights, the layers used ${wi + fi}` : null;
  return { weights, weightsMeta, frozenWeights, stateWeights, stateIn, takeWeight, regularised, unused };
}

/** The seed of mask `k` of layer `layer` in this step: distinct per layer and mask, from the step's seed. */
function maskSeed(o: Ops, seed: Ref, layer: number, k: number): Ref {
  return o.addI(seed, o.constI([0, (layer + 1) * 7919 + k]));
}

/**
 * Dropout masks of a recurrent layer for one batch, from the step's seed (offset per layer and
 * per mask): tfjs draws them once per call and shares them across time steps; so does this.
 */
function recurrentMasks(o: Ops, x: Ref, seed: Ref | null, layer: number, features: number, units: number, dropout: number, recurrentDropout: number) {
  const masks: { x?: Ref; h?: Ref } = {};
  const seedFor = (k: number) => maskSeed(o, seed!, layer, k);
  if (dropout > 0) masks.x = o.dropoutMask(o.batchShape(x, [features]), seedFor(1), dropout);
  if (recurrentDropout > 0) masks.h = o.dropoutMask(o.batchShape(x, [units]), seedFor(2), recurrentDropout);
  return masks;
}

/** Why a model's layers cannot compile (first reason), or null. */
export function unsupportedLayers(layers: LayerSpec[]): string | null {
  for (const [i, l] of layers.entries()) {
    const why = unsupportedLayer(l);
    if (why) return `model.layers[${i}] (${l.type}): ${why}`;
  }
  return null;
}

/** Emit `model`'s layers on input `x`. */
export function layerGraph(o: Ops, model: TfModule.LayersModel, spec: TrainModelSpec, x: Ref, opts: LayerGraphOptions): LayerGraph | { unsupported: string } {
  const layers = spec.model.layers;
  const { takeWeight, stateIn, seed } = opts;
  const train = opts.mode === 'train';
  const stateOut: Ref[] = [];
  let stateAt = 0;
  let unrolled = 0;
  const tapes: Tape[] = [];
  let h: Ref = x;
  let logits: Ref | null = null;
  for (const [i, l] of layers.entries()) {
    const tfLayer = model.layers[i]!;
    const input = h;
    switch (l.type) {
      case 'dense':
      case 'conv2d': {
        // a dense layer on [B, ..., D] acts on the last axis (as tfjs's does): flatten to 2-D around it
        const inShape = (tfLayer.input as TfModule.SymbolicTensor).shape;
        const flat = l.type === 'dense' && inShape.length > 2;
        if (flat && inShape.slice(1).some((d) => d === null)) return { unsupported: `model.layers[${i}] (dense) on an input of unknown shape` };
        const layerIn = input;
        const input2 = flat ? o.reshape(layerIn, o.constI([-1, inShape[inShape.length - 1]!])) : layerIn;
        const frozen = !tfLayer.trainable;
        const w = takeWeight(i, l.kernelRegularizer).w;
        const hasBias = l.useBias ?? true;
        const b = hasBias ? takeWeight(i, l.biasRegularizer).w : null;
        let z: Ref;
        let conv: { strides: [number, number]; padding: Padding; dilations: [number, number]; kernel: number[] } | null = null;
        if (l.type === 'dense') z = o.matMul(input2, w);
        else {
          conv = { strides: pair(l.strides ?? 1), padding: l.padding === 'same' ? 'SAME' : 'VALID', dilations: pair(l.dilationRate ?? 1), kernel: tfLayer.weights[0]!.shape.map((d) => d!) };
          z = o.conv2d(input2, w, conv.strides, conv.padding, conv.dilations);
        }
        if (b) z = o.biasAdd(z, b);
        const act = l.activation ?? 'linear';
        const isLast = i === layers.length - 1;
        const fused = isLast && opts.fuseLast;
        const a = fused ? z : activate(o, act, z);
        if (fused) logits = z;
        const outShape = (tfLayer.outputShape as number[]).map((d, k) => (k === 0 ? -1 : d));
        h = flat ? o.reshape(a, o.constI(outShape, [outShape.length])) : a;
        tapes.push({
          backward: (dyOut, needDx) => {
            const dy = flat ? o.reshape(dyOut, o.constI([-1, l.units])) : dyOut;
            const dz = fused ? dy : activationGrad(o, act, dy, z, a);
            const grads: Ref[] = [];
            if (!frozen) {
              if (conv) grads.push(o.conv2dBackpropFilter(input2, o.constI(conv.kernel), dz, conv.strides, conv.padding, conv.dilations));
              else grads.push(o.matMul(input2, dz, true, false));
              if (b) grads.push(o.biasAddGrad(dz));
            }
            let dx: Ref | undefined;
            if (needDx) dx = conv ? o.conv2dBackpropInput(o.shape(input2), w, dz, conv.strides, conv.padding, conv.dilations) : o.matMul(dz, w, false, true);
            if (dx && flat) dx = o.reshape(dx, o.shape(layerIn));
            return { dx, grads };
          },
        });
        break;
      }
      case 'maxPooling2d':
      case 'averagePooling2d': {
        const size = pair(l.poolSize ?? 2);
        const strides = l.strides === undefined ? size : pair(l.strides);
        const padding: Padding = l.padding === 'same' ? 'SAME' : 'VALID';
        const out = l.type === 'maxPooling2d' ? o.maxPool(input, size, strides, padding) : o.avgPool(input, size, strides, padding);
        h = out;
        tapes.push({
          backward: (dy, needDx) => ({
            grads: [],
            dx: !needDx ? undefined : l.type === 'maxPooling2d' ? o.maxPoolGrad(input, out, dy, size, strides, padding) : o.avgPoolGrad(o.shape(input), dy, size, strides, padding),
          }),
        });
        break;
      }
      case 'flatten': {
        const features = (tfLayer.outputShape as number[])[1]!;
        h = o.reshape(input, o.constI([-1, features]));
        tapes.push({ backward: (dy, needDx) => ({ grads: [], dx: needDx ? o.reshape(dy, o.shape(input)) : undefined }) });
        break;
      }
      case 'lstm':
      case 'gru': {
        const shape = (tfLayer.input as TfModule.SymbolicTensor).shape;
        if (shape.length !== 3 || !shape[1] || !shape[2]) return { unsupported: `model.layers[${i}] (${l.type}) needs a fixed [steps, features] input` };
        unrolled += shape[1];
        if (unrolled > MAX_UNROLLED_STEPS) {
          return { unsupported: `model.layers[${i}] (${l.type}): ${unrolled} unrolled time steps in all, over ${MAX_UNROLLED_STEPS} (compiling the unrolled graph would block for many seconds)` };
        }
        const frozen = !tfLayer.trainable;
        const kernel = takeWeight(i, l.kernelRegularizer).w;
        const recurrentKernel = takeWeight(i, undefined).w;
        const bias = takeWeight(i, undefined).w;
        const rnn = recurrent(
          o,
          { apply: (act, z) => activate(o, act, z), grad: (act, da, z, a) => activationGrad(o, act, da, z, a) },
          {
            kind: l.type,
            units: l.units,
            steps: shape[1],
            features: shape[2],
            activation: l.activation ?? 'tanh',
            recurrentActivation: l.recurrentActivation ?? 'hardSigmoid',
            returnSequences: l.returnSequences ?? false,
          },
          input,
          { kernel, recurrentKernel, bias },
          train ? recurrentMasks(o, input, seed, i, shape[2], l.units, l.dropout ?? 0, l.recurrentDropout ?? 0) : {},
        );
        h = rnn.output;
        tapes.push({
          backward: (dy, needDx) => {
            const g = rnn.backward(dy, needDx);
            return { grads: frozen ? [] : [g.kernel, g.recurrentKernel, g.bias], dx: g.dx };
          },
        });
        break;
      }
      case 'embedding': {
        // as tfjs: indices cast to int32, one gather of all of them, reshaped to [B, ..., D];
        // the gradient is the output gradient summed into the rows that were gathered
        const frozen = !tfLayer.trainable;
        const table = takeWeight(i, l.embeddingsRegularizer).w;
        const ids = o.reshape(o.cast(input, 'float32', 'int32'), o.constI([-1]), 'int32');
        const rows = o.gather(table, ids, 'float32');
        const outShape = (tfLayer.outputShape as number[]).map((d, k) => (k === 0 ? -1 : d));
        h = o.reshape(rows, o.constI(outShape, [outShape.length]));
        tapes.push({
          backward: (dy) => ({ grads: frozen ? [] : [o.unsortedSegmentSum(o.reshape(dy, o.constI([-1, l.outputDim])), ids, l.inputDim)], dx: undefined }),
        });
        if (i !== 0) return { unsupported: `model.layers[${i}] (embedding) after another layer; put it first` };
        break;
      }
      case 'batchNormalization': {
        const rank = (tfLayer.input as TfModule.SymbolicTensor).shape.length;
        // statistics are per channel over every other axis: any rank runs as NHWC [-1, 1, 1, C]
        const shape = (tfLayer.input as TfModule.SymbolicTensor).shape;
        if (rank < 2 || shape.slice(1).some((d) => d === null)) return { unsupported: `model.layers[${i}] (batchNormalization) on an input of unknown shape` };
        const back = (t: Ref) => (rank === 4 ? t : o.reshape(t, o.constI(shape.map((d, k) => (k === 0 ? -1 : d!)), [rank])));
        if (l.axis !== undefined && l.axis !== -1 && l.axis !== rank - 1) return { unsupported: `model.layers[${i}] (batchNormalization) over axis ${l.axis}; only the last axis compiles` };
        const channels = (tfLayer.input as TfModule.SymbolicTensor).shape[rank - 1]!;
        const frozen = !tfLayer.trainable;
        const gamma = (l.scale ?? true) ? takeWeight(i, undefined).w : null;
        const beta = (l.center ?? true) ? takeWeight(i, undefined).w : null;
        const epsilon = l.epsilon ?? 1e-3;
        const momentum = l.momentum ?? 0.99;
        const x4 = rank === 4 ? input : o.reshape(input, o.constI([-1, 1, 1, channels]));
        const scale = gamma ?? o.constF(new Array(channels).fill(1), [channels]);
        const offset = beta ?? o.constF(new Array(channels).fill(0), [channels]);
        const [movingMean, movingVar] = [stateIn[stateAt++]!, stateIn[stateAt++]!];
        if (!train) {
          // inference: normalise with the moving statistics, as tfjs does outside training
          const y4 = o.fusedBatchNormInfer(x4, scale, offset, movingMean, movingVar, epsilon);
          h = back(y4);
          break;
        }
        const [y4, mean, besselVar, ...reserve] = o.fusedBatchNorm(x4, scale, offset, epsilon);
        // tfjs averages the biased batch variance into the moving variance; TensorFlow reports
        // the Bessel-corrected one: scale it back by (n - 1) / n, n = values per channel
        const perChannel = o.div(o.cast(o.size(x4), 'int32', 'float32'), o.constF([channels]));
        const biasedVar = o.mul(besselVar!, o.div(o.sub(perChannel, o.constF([1])), perChannel));
        const decay = o.constF([1 - momentum]);
        stateOut.push(o.sub(movingMean, o.mul(o.sub(movingMean, mean!), decay)), o.sub(movingVar, o.mul(o.sub(movingVar, biasedVar), decay)));
        h = back(y4!);
        tapes.push({
          backward: (dy, needDx) => {
            const dy4 = rank === 4 ? dy : o.reshape(dy, o.constI([-1, 1, 1, channels]));
            const [dx4, dScale, dOffset] = o.fusedBatchNormGrad(dy4, x4, scale, reserve, epsilon);
            const grads = frozen ? [] : [...(gamma ? [dScale!] : []), ...(beta ? [dOffset!] : [])];
            return { grads, dx: needDx ? back(dx4!) : undefined };
          },
        });
        break;
      }
      case 'dropout': {
        if (!train || !(l.rate > 0)) {
          tapes.push({ backward: (dy) => ({ grads: [], dx: dy }) });
          break;
        }
        // a fresh mask per step and per layer from the step's seed: reproducible, never reused
        const mask = o.dropoutMask(o.shape(input), maskSeed(o, seed!, i, 0), l.rate);
        h = o.mul(input, mask);
        tapes.push({ backward: (dy) => ({ grads: [], dx: o.mul(dy, mask) }) });
        break;
      }
    }
  }
  return { out: h, logits, tapes, stateOut };
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v, v];
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
      for (const act of [l.type === 'lstm' || l.type === 'gru' ? l.activation : undefined, 'recurrentActivation' in l ? l.recurrentActivation : undefined]) {
        if (act && !GRAPH_ACTIVATIONS.has(act)) return `activation ${act}`;
      }
      return null;
    }
    default:
      return 'layer type not compiled to a graph';
  }
}

// Each layer kind's graph ops: its forward pass on the layer's input and, in training, the tape
// that runs its backward pass (TensorFlow's own gradient kernels, as tfjs's eager gradients
// compute them). layerGraph (layers.ts) calls them in order and threads the shared state.
import type * as TfModule from '@tensorflow/tfjs';
import type { LayerSpec, Regularizer } from '../model-spec.ts';
import { activate, activationGrad } from './activations.ts';
import type { Ref } from './function-def.ts';
import type { Tape } from './layers.ts';
import type { Ops, Padding } from './ops.ts';
import { recurrent } from './recurrent.ts';

/**
 * Recurrent layers are unrolled; TensorFlow's graph optimiser takes superlinear time on long
 * unrolled graphs (one LSTM: 300 steps ~7 s, 600 steps ~44 s, blocking the first batch and with
 * it the activity's heartbeats), so longer sequences train on eager ops.
 */
export const MAX_UNROLLED_STEPS = 256;

/** What one layer's emitter reads, and the state the layers share as they are emitted in order. */
export interface LayerContext {
  o: Ops;
  /** The layer's index in the model. */
  i: number;
  tfLayer: TfModule.layers.Layer;
  train: boolean;
  /** This is the last layer and its activation is left to the loss. */
  fuse: boolean;
  seed: Ref | null;
  takeWeight: (reg: Regularizer | undefined) => Ref;
  shared: {
    /** The next batch norm moving mean/variance input. */
    stateAt: number;
    stateIn: Ref[];
    /** New moving statistics (train mode), matching `stateIn`. */
    stateOut: Ref[];
    /** Recurrent time steps unrolled so far. */
    unrolled: number;
  };
}

/** A layer's output and its tape (none for a batch norm at inference), or why it cannot compile. */
export type Emitted = { out: Ref; tape?: Tape; logits?: Ref } | { unsupported: string };

type LayerOf<T extends LayerSpec['type']> = Extract<LayerSpec, { type: T }>;

export function emitLayer(l: LayerSpec, input: Ref, ctx: LayerContext): Emitted {
  switch (l.type) {
    case 'dense':
    case 'conv2d':
      return denseOrConv(l, input, ctx);
    case 'maxPooling2d':
    case 'averagePooling2d':
      return pooling(l, input, ctx);
    case 'flatten': {
      const { o } = ctx;
      const features = (ctx.tfLayer.outputShape as number[])[1]!;
      return {
        out: o.reshape(input, o.constI([-1, features])),
        tape: { backward: (dy, needDx) => ({ grads: [], dx: needDx ? o.reshape(dy, o.shape(input)) : undefined }) },
      };
    }
    case 'lstm':
    case 'gru':
      return recurrentLayer(l, input, ctx);
    case 'embedding':
      return embedding(l, input, ctx);
    case 'batchNormalization':
      return batchNormalization(l, input, ctx);
    case 'dropout':
      return dropout(l, input, ctx);
  }
  return { out: input };
}

function denseOrConv(l: LayerOf<'dense' | 'conv2d'>, layerIn: Ref, ctx: LayerContext): Emitted {
  const { o, i, tfLayer } = ctx;
  // a dense layer on [B, ..., D] acts on the last axis (as tfjs's does): flatten to 2-D around it
  const inShape = (tfLayer.input as TfModule.SymbolicTensor).shape;
  const flat = l.type === 'dense' && inShape.length > 2;
  if (flat && inShape.slice(1).some((d) => d === null)) return { unsupported: `model.layers[${i}] (dense) on an input of unknown shape` };
  const input2 = flat ? o.reshape(layerIn, o.constI([-1, inShape[inShape.length - 1]!])) : layerIn;
  const frozen = !tfLayer.trainable;
  const w = ctx.takeWeight(l.kernelRegularizer);
  const b = (l.useBias ?? true) ? ctx.takeWeight(l.biasRegularizer) : null;
  let z: Ref;
  let conv: { strides: [number, number]; padding: Padding; dilations: [number, number]; kernel: number[] } | null = null;
  if (l.type === 'dense') z = o.matMul(input2, w);
  else {
    conv = {
      strides: pair(l.strides ?? 1),
      padding: l.padding === 'same' ? 'SAME' : 'VALID',
      dilations: pair(l.dilationRate ?? 1),
      kernel: tfLayer.weights[0]!.shape.map((d) => d!),
    };
    z = o.conv2d(input2, w, conv.strides, conv.padding, conv.dilations);
  }
  if (b) z = o.biasAdd(z, b);
  const act = l.activation ?? 'linear';
  const fused = ctx.fuse;
  const a = fused ? z : activate(o, act, z);
  const outShape = (tfLayer.outputShape as number[]).map((d, k) => (k === 0 ? -1 : d));
  const out = flat ? o.reshape(a, o.constI(outShape, [outShape.length])) : a;
  const backward: Tape['backward'] = (dyOut, needDx) => {
    const dy = flat ? o.reshape(dyOut, o.constI([-1, l.units])) : dyOut;
    const dz = fused ? dy : activationGrad(o, act, dy, z, a);
    const grads: Ref[] = [];
    if (!frozen) {
      if (conv) grads.push(o.conv2dBackpropFilter(input2, o.constI(conv.kernel), dz, conv.strides, conv.padding, conv.dilations));
      else grads.push(o.matMul(input2, dz, true, false));
      if (b) grads.push(o.biasAddGrad(dz));
    }
    let dx: Ref | undefined;
    if (needDx)
      dx = conv ? o.conv2dBackpropInput(o.shape(input2), w, dz, conv.strides, conv.padding, conv.dilations) : o.matMul(dz, w, false, true);
    if (dx && flat) dx = o.reshape(dx, o.shape(layerIn));
    return { dx, grads };
  };
  return { out, tape: { backward }, ...(fused ? { logits: z } : {}) };
}

function pooling(l: LayerOf<'maxPooling2d' | 'averagePooling2d'>, input: Ref, { o }: LayerContext): Emitted {
  const size = pair(l.poolSize ?? 2);
  const strides = l.strides === undefined ? size : pair(l.strides);
  const padding: Padding = l.padding === 'same' ? 'SAME' : 'VALID';
  const out = l.type === 'maxPooling2d' ? o.maxPool(input, size, strides, padding) : o.avgPool(input, size, strides, padding);
  return {
    out,
    tape: {
      backward: (dy, needDx) => ({
        grads: [],
        dx: !needDx
          ? undefined
          : l.type === 'maxPooling2d'
            ? o.maxPoolGrad(input, out, dy, size, strides, padding)
            : o.avgPoolGrad(o.shape(input), dy, size, strides, padding),
      }),
    },
  };
}

function recurrentLayer(l: LayerOf<'lstm' | 'gru'>, input: Ref, ctx: LayerContext): Emitted {
  const { o, i, tfLayer } = ctx;
  const shape = (tfLayer.input as TfModule.SymbolicTensor).shape;
  if (shape.length !== 3 || !shape[1] || !shape[2])
    return { unsupported: `model.layers[${i}] (${l.type}) needs a fixed [steps, features] input` };
  ctx.shared.unrolled += shape[1];
  const unrolled = ctx.shared.unrolled;
  if (unrolled > MAX_UNROLLED_STEPS) {
    return {
      unsupported:
        `model.layers[${i}] (${l.type}): ${unrolled} unrolled time steps in all, over ${MAX_UNROLLED_STEPS} ` +
        '(compiling the unrolled graph would block for many seconds)',
    };
  }
  const frozen = !tfLayer.trainable;
  const kernel = ctx.takeWeight(l.kernelRegularizer);
  const recurrentKernel = ctx.takeWeight(undefined);
  const bias = ctx.takeWeight(undefined);
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
    ctx.train ? recurrentMasks(o, input, ctx.seed, i, shape[2], l.units, l.dropout ?? 0, l.recurrentDropout ?? 0) : {},
  );
  const backward: Tape['backward'] = (dy, needDx) => {
    const g = rnn.backward(dy, needDx);
    return { grads: frozen ? [] : [g.kernel, g.recurrentKernel, g.bias], dx: g.dx };
  };
  return { out: rnn.output, tape: { backward } };
}

function embedding(l: LayerOf<'embedding'>, input: Ref, { o, i, tfLayer, takeWeight }: LayerContext): Emitted {
  if (i !== 0) return { unsupported: `model.layers[${i}] (embedding) after another layer; put it first` };
  // as tfjs: indices cast to int32, one gather of all of them, reshaped to [B, ..., D];
  // the gradient is the output gradient summed into the rows that were gathered
  const frozen = !tfLayer.trainable;
  const table = takeWeight(l.embeddingsRegularizer);
  const ids = o.reshape(o.cast(input, 'float32', 'int32'), o.constI([-1]), 'int32');
  const rows = o.gather(table, ids, 'float32');
  const outShape = (tfLayer.outputShape as number[]).map((d, k) => (k === 0 ? -1 : d));
  return {
    out: o.reshape(rows, o.constI(outShape, [outShape.length])),
    tape: {
      backward: (dy) => ({
        grads: frozen ? [] : [o.unsortedSegmentSum(o.reshape(dy, o.constI([-1, l.outputDim])), ids, l.inputDim)],
        dx: undefined,
      }),
    },
  };
}

function batchNormalization(l: LayerOf<'batchNormalization'>, input: Ref, ctx: LayerContext): Emitted {
  const { o, i, tfLayer } = ctx;
  const shape = (tfLayer.input as TfModule.SymbolicTensor).shape;
  const rank = shape.length;
  // statistics are per channel over every other axis: any rank runs as NHWC [-1, 1, 1, C]
  if (rank < 2 || shape.slice(1).some((d) => d === null))
    return { unsupported: `model.layers[${i}] (batchNormalization) on an input of unknown shape` };
  const back = (t: Ref) =>
    rank === 4
      ? t
      : o.reshape(
          t,
          o.constI(
            shape.map((d, k) => (k === 0 ? -1 : d!)),
            [rank],
          ),
        );
  if (l.axis !== undefined && l.axis !== -1 && l.axis !== rank - 1)
    return { unsupported: `model.layers[${i}] (batchNormalization) over axis ${l.axis}; only the last axis compiles` };
  const channels = shape[rank - 1]!;
  const frozen = !tfLayer.trainable;
  const gamma = (l.scale ?? true) ? ctx.takeWeight(undefined) : null;
  const beta = (l.center ?? true) ? ctx.takeWeight(undefined) : null;
  const epsilon = l.epsilon ?? 1e-3;
  const x4 = rank === 4 ? input : o.reshape(input, o.constI([-1, 1, 1, channels]));
  const scale = gamma ?? o.constF(new Array(channels).fill(1), [channels]);
  const offset = beta ?? o.constF(new Array(channels).fill(0), [channels]);
  const { shared } = ctx;
  const [movingMean, movingVar] = [shared.stateIn[shared.stateAt++]!, shared.stateIn[shared.stateAt++]!];
  // inference: normalise with the moving statistics, as tfjs does outside training
  if (!ctx.train) return { out: back(o.fusedBatchNormInfer(x4, scale, offset, movingMean, movingVar, epsilon)) };

  const [y4, mean, besselVar, ...reserve] = o.fusedBatchNorm(x4, scale, offset, epsilon);
  // tfjs averages the biased batch variance into the moving variance; TensorFlow reports
  // the Bessel-corrected one: scale it back by (n - 1) / n, n = values per channel
  const perChannel = o.div(o.cast(o.size(x4), 'int32', 'float32'), o.constF([channels]));
  const biasedVar = o.mul(besselVar!, o.div(o.sub(perChannel, o.constF([1])), perChannel));
  const decay = o.constF([1 - (l.momentum ?? 0.99)]);
  shared.stateOut.push(
    o.sub(movingMean, o.mul(o.sub(movingMean, mean!), decay)),
    o.sub(movingVar, o.mul(o.sub(movingVar, biasedVar), decay)),
  );
  const backward: Tape['backward'] = (dy, needDx) => {
    const dy4 = rank === 4 ? dy : o.reshape(dy, o.constI([-1, 1, 1, channels]));
    const [dx4, dScale, dOffset] = o.fusedBatchNormGrad(dy4, x4, scale, reserve, epsilon);
    const grads = frozen ? [] : [...(gamma ? [dScale!] : []), ...(beta ? [dOffset!] : [])];
    return { grads, dx: needDx ? back(dx4!) : undefined };
  };
  return { out: back(y4!), tape: { backward } };
}

function dropout(l: LayerOf<'dropout'>, input: Ref, { o, i, train, seed }: LayerContext): Emitted {
  if (!train || !(l.rate > 0)) return { out: input, tape: { backward: (dy) => ({ grads: [], dx: dy }) } };
  // a fresh mask per step and per layer from the step's seed: reproducible, never reused
  const mask = o.dropoutMask(o.shape(input), maskSeed(o, seed!, i, 0), l.rate);
  return { out: o.mul(input, mask), tape: { backward: (dy) => ({ grads: [], dx: o.mul(dy, mask) }) } };
}

/** The seed of mask `k` of layer `layer` in this step: distinct per layer and mask, from the step's seed. */
function maskSeed(o: Ops, seed: Ref, layer: number, k: number): Ref {
  return o.addI(seed, o.constI([0, (layer + 1) * 7919 + k]));
}

/**
 * Dropout masks of a recurrent layer for one batch, from the step's seed (offset per layer and
 * per mask): tfjs draws them once per call and shares them across time steps; so does this.
 */
function recurrentMasks(
  o: Ops,
  x: Ref,
  seed: Ref | null,
  layer: number,
  features: number,
  units: number,
  dropout: number,
  recurrentDropout: number,
) {
  const masks: { x?: Ref; h?: Ref } = {};
  const seedFor = (k: number) => maskSeed(o, seed!, layer, k);
  if (dropout > 0) masks.x = o.dropoutMask(o.batchShape(x, [features]), seedFor(1), dropout);
  if (recurrentDropout > 0) masks.h = o.dropoutMask(o.batchShape(x, [units]), seedFor(2), recurrentDropout);
  return masks;
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v, v];
}

// Compile one training step of a sequential model into a single TensorFlow function:
// gather the batch, forward pass, loss, backward pass (hand-written gradients, one TensorFlow
// gradient kernel per layer), regularisation, the optimizer's update and the epoch's metric
// sums, all in one graph. Run through the native binding it costs one op dispatch per batch
// instead of ~160, and TensorFlow's graph optimiser fuses and parallelises it; the update
// formulas follow tfjs's optimizers exactly, so results match the eager path (tested).
//
// Layers, activations and optimizers outside the supported set make compileTrainStep return
// `{ unsupported }`, and fit() then runs the eager loop instead.
import type * as TfModule from '@tensorflow/tfjs';
import { isClassification } from '../losses.ts';
import type { Activation, LayerSpec, MetricName, Regularizer, TrainModelSpec } from '../model-spec.ts';
import { outputKindFor } from '../model.ts';
import { FunctionBuilder, type DType, type Ref } from './function-def.ts';
import { Ops, type Padding } from './ops.ts';
import { recurrent } from './recurrent.ts';

type LayersModel = TfModule.LayersModel;

/** What a step function takes and returns, in executeOp order. */
export interface TrainStepProgram {
  name: string;
  bytes: Uint8Array;
  /** Inputs: x_all, y_all, idx, [sampleWeights_all], hyper, [seed], weights, frozen, state, slots, accumulators. */
  usesSampleWeights: boolean;
  usesSeed: boolean;
  weightCount: number;
  /** Frozen layers' weights, read but not updated, in input order (after the trainable ones). */
  frozenWeights: TfModule.LayerVariable[];
  /** Non-trainable weights the step updates (batch norm's moving statistics), in input order. */
  stateWeights: TfModule.LayerVariable[];
  /** Optimizer slots in tfjs's getWeights order (after its `iter` entry), with their start value. */
  slots: Array<{ name: string; shape: number[]; init: number }>;
  /** Epoch accumulators (loss sum first), summed on the device and read once per epoch. */
  accumulators: Array<{ key: string; shape: number[] }>;
  /** Outputs: batch loss, new weights, new state, new slots, new accumulators. */
  outputCount: number;
  /** The per-step scalars the function reads from `hyper` (learning rate first). */
  hyper(learningRate: number, iteration: number): number[];
}

export type CompileResult = TrainStepProgram | { unsupported: string };

const GRAD_ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'softmax', 'hardSigmoid', 'swish', 'mish', 'gelu']);

interface Tape {
  backward: (dy: Ref, needDx: boolean) => { dx?: Ref; grads: Ref[] };
}

let counter = 0;

/**
 * Build the step function for `model` (from buildModel(spec)) with training data of the given
 * dtypes. The model's trainable weights are the function's weight inputs, in order.
 */
export function compileTrainStep(
  model: LayersModel,
  spec: TrainModelSpec,
  data: { xDtype: DType; yDtype: DType; sampleWeights: boolean },
): CompileResult {
  const layers = spec.model.layers;
  if (model.layers.length !== layers.length) return { unsupported: 'the built model has a different number of layers than the spec' };
  for (const [i, l] of layers.entries()) {
    const why = unsupportedLayer(l);
    if (why) return { unsupported: `model.layers[${i}] (${l.type}): ${why}` };
  }
  if (data.xDtype !== 'float32') return { unsupported: 'inputs are not float32' };
  const kind = outputKindFor(spec);
  const loss = spec.loss;
  const last = layers[layers.length - 1]!;
  const lastAct = last.type === 'dense' || last.type === 'conv2d' ? (last.activation ?? 'linear') : undefined;
  if (isClassification(loss)) {
    if (last.type !== 'dense' && last.type !== 'conv2d') return { unsupported: `a ${loss} model must end in a dense or conv2d layer here` };
    const fusable = loss === 'binaryCrossentropy' ? ['linear', 'sigmoid'] : ['linear', 'softmax'];
    if (!fusable.includes(lastAct!)) return { unsupported: `the last activation ${lastAct} with ${loss}` };
  }
  const outShape = model.outputs[0]!.shape;
  if (outShape.length !== 2) return { unsupported: 'the model output is not [batch, units]' };
  const units = outShape[1]!;

  const name = `mlpipe_train_step_${process.pid}_${++counter}`;
  const g = new FunctionBuilder(name);
  const o = new Ops(g);
  const xAll = g.input('x_all', 'float32');
  const yAll = g.input('y_all', data.yDtype);
  const idx = g.input('idx', 'int32');
  const swAll = data.sampleWeights ? g.input('sample_weights', 'float32') : null;
  const hyperIn = g.input('hyper', 'float32');
  const needsSeed = layers.some((l) => l.type === 'dropout' && l.rate > 0);
  const seed = needsSeed ? g.input('seed', 'int32') : null;
  const weightsMeta = model.trainableWeights.map((w) => ({ name: w.name, shape: w.shape.map((d) => d!) }));
  const weights = weightsMeta.map((w, i) => g.input(`w${i}`, 'float32'));
  // frozen layers (spec `trainable: false`, warm start's freezeLayers): their weights are inputs
  // the step reads but never updates or differentiates
  const frozenWeights = layers.flatMap((l, i) => (l.type !== 'batchNormalization' && !model.layers[i]!.trainable ? model.layers[i]!.nonTrainableWeights : []));
  const frozenIn = frozenWeights.map((_, i) => g.input(`frozen${i}`, 'float32'));
  let fi = 0;
  /** Regularised weights: `k` is the index among trainable weights, or -1 for frozen ones. */
  const regularised: Array<{ w: Ref; k: number; rank: number; reg: Regularizer }> = [];
  /** The next weight of layer `i`: a trainable input (with its index) or a frozen one. */
  const takeWeight = (i: number, reg: Regularizer | undefined): { w: Ref; k: number } => {
    const trainable = model.layers[i]!.trainable;
    const taken = trainable ? { w: weights[wi]!, k: wi++ } : { w: frozenIn[fi++]!, k: -1 };
    const meta = trainable ? weightsMeta[taken.k] : { shape: frozenWeights[fi - 1]!.shape };
    if (reg && (reg.l1 || reg.l2)) regularised.push({ ...taken, rank: meta!.shape.length, reg });
    return taken;
  };
  const firstTrainable = layers.findIndex((l, i) => model.layers[i]!.trainable && model.layers[i]!.trainableWeights.length > 0);
  if (firstTrainable < 0) return { unsupported: 'no layer has trainable weights' };
  // batch norm's moving mean and variance: read and rewritten by the step, never trained
  const stateWeights = layers.flatMap((l, i) => (l.type === 'batchNormalization' ? model.layers[i]!.nonTrainableWeights : []));
  const stateIn = stateWeights.map((_, i) => g.input(`state${i}`, 'float32'));
  const stateOut: Ref[] = [];

  const x = o.gather(xAll, idx, 'float32');
  let y = o.gather(yAll, idx, data.yDtype);
  const batch = o.cast(o.size(idx, 'int32'), 'int32', 'float32');

  // forward
  const tapes: Tape[] = [];
  let h: Ref = x;
  let wi = 0;
  let logits: Ref | null = null;
  for (const [i, l] of layers.entries()) {
    const tfLayer = model.layers[i]!;
    const input = h;
    switch (l.type) {
      case 'dense':
      case 'conv2d': {
        if (l.type === 'dense' && (tfLayer.input as TfModule.SymbolicTensor).shape.length !== 2) {
          return { unsupported: `model.layers[${i}] (dense) on a rank-${(tfLayer.input as TfModule.SymbolicTensor).shape.length} input; flatten first` };
        }
        const frozen = !tfLayer.trainable;
        const w = takeWeight(i, l.kernelRegularizer).w;
        const hasBias = l.useBias ?? true;
        const b = hasBias ? takeWeight(i, l.biasRegularizer).w : null;
        let z: Ref;
        let conv: { strides: [number, number]; padding: Padding; dilations: [number, number]; kernel: number[] } | null = null;
        if (l.type === 'dense') z = o.matMul(input, w);
        else {
          conv = { strides: pair(l.strides ?? 1), padding: l.padding === 'same' ? 'SAME' : 'VALID', dilations: pair(l.dilationRate ?? 1), kernel: tfLayer.weights[0]!.shape.map((d) => d!) };
          z = o.conv2d(input, w, conv.strides, conv.padding, conv.dilations);
        }
        if (b) z = o.biasAdd(z, b);
        const act = l.activation ?? 'linear';
        const isLast = i === layers.length - 1;
        const fused = isLast && isClassification(loss);
        const a = fused ? z : activate(o, act, z);
        if (fused) logits = z;
        h = a;
        tapes.push({
          backward: (dy, needDx) => {
            const dz = fused ? dy : activationGrad(o, act, dy, z, a);
            const grads: Ref[] = [];
            if (!frozen) {
              if (conv) grads.push(o.conv2dBackpropFilter(input, o.constI(conv.kernel), dz, conv.strides, conv.padding, conv.dilations));
              else grads.push(o.matMul(input, dz, true, false));
              if (b) grads.push(o.biasAddGrad(dz));
            }
            let dx: Ref | undefined;
            if (needDx) dx = conv ? o.conv2dBackpropInput(o.shape(input), w, dz, conv.strides, conv.padding, conv.dilations) : o.matMul(dz, w, false, true);
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
        if ((l.dropout ?? 0) > 0 || (l.recurrentDropout ?? 0) > 0) return { unsupported: `model.layers[${i}] (${l.type}) with dropout or recurrentDropout` };
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
        if (rank !== 2 && rank !== 4) return { unsupported: `model.layers[${i}] (batchNormalization) on a rank-${rank} input` };
        if (l.axis !== undefined && l.axis !== -1 && l.axis !== rank - 1) return { unsupported: `model.layers[${i}] (batchNormalization) over axis ${l.axis}; only the last axis compiles` };
        const channels = (tfLayer.input as TfModule.SymbolicTensor).shape[rank - 1]!;
        if (!tfLayer.trainable) return { unsupported: `model.layers[${i}] (batchNormalization) is frozen` };
        const gamma = (l.scale ?? true) ? takeWeight(i, undefined).w : null;
        const beta = (l.center ?? true) ? takeWeight(i, undefined).w : null;
        const epsilon = l.epsilon ?? 1e-3;
        const momentum = l.momentum ?? 0.99;
        const x4 = rank === 4 ? input : o.reshape(input, o.constI([-1, 1, 1, channels]));
        const scale = gamma ?? o.constF(new Array(channels).fill(1), [channels]);
        const offset = beta ?? o.constF(new Array(channels).fill(0), [channels]);
        const [y4, mean, besselVar, ...reserve] = o.fusedBatchNorm(x4, scale, offset, epsilon);
        // tfjs averages the biased batch variance into the moving variance; TensorFlow reports
        // the Bessel-corrected one: scale it back by (n - 1) / n, n = values per channel
        const perChannel = o.div(o.cast(o.size(x4), 'int32', 'float32'), o.constF([channels]));
        const biasedVar = o.mul(besselVar!, o.div(o.sub(perChannel, o.constF([1])), perChannel));
        const [movingMean, movingVar] = [stateIn[stateOut.length]!, stateIn[stateOut.length + 1]!];
        const decay = o.constF([1 - momentum]);
        stateOut.push(o.sub(movingMean, o.mul(o.sub(movingMean, mean!), decay)), o.sub(movingVar, o.mul(o.sub(movingVar, biasedVar), decay)));
        h = rank === 4 ? y4! : o.reshape(y4!, o.constI([-1, channels]));
        tapes.push({
          backward: (dy, needDx) => {
            const dy4 = rank === 4 ? dy : o.reshape(dy, o.constI([-1, 1, 1, channels]));
            const [dx4, dScale, dOffset] = o.fusedBatchNormGrad(dy4, x4, scale, reserve, epsilon);
            const grads = [...(gamma ? [dScale!] : []), ...(beta ? [dOffset!] : [])];
            return { grads, dx: needDx ? (rank === 4 ? dx4 : o.reshape(dx4!, o.constI([-1, channels]))) : undefined };
          },
        });
        break;
      }
      case 'dropout': {
        if (!(l.rate > 0)) {
          tapes.push({ backward: (dy) => ({ grads: [], dx: dy }) });
          break;
        }
        // a fresh mask per step and per layer from the step's seed: reproducible, never reused
        const layerSeed = o.addI(seed!, o.constI([0, (i + 1) * 7919]));
        const keep = o.cast(o.greaterEqual(o.statelessUniform(o.shape(input), layerSeed), o.constF([l.rate])), 'bool', 'float32');
        const mask = o.mul(keep, o.constF([1 / (1 - l.rate)]));
        h = o.mul(input, mask);
        tapes.push({ backward: (dy) => ({ grads: [], dx: o.mul(dy, mask) }) });
        break;
      }
    }
  }
  if (wi !== weights.length || fi !== frozenIn.length) return { unsupported: `the model has ${weights.length} trainable weights, the step used ${wi}` };
  const out = h;

  // loss per sample [B] and its gradient with respect to the output (or logits)
  let perSample: Ref;
  let dOut: Ref; // d(per-sample loss)/d(out), before the 1/B and sample weight factors
  if (loss === 'sparseCategoricalCrossentropy' || loss === 'categoricalCrossentropy') {
    if (loss === 'sparseCategoricalCrossentropy') {
      const labels = o.reshape(data.yDtype === 'int32' ? y : o.cast(y, data.yDtype, 'int32'), o.constI([-1]), 'int32');
      [perSample, dOut] = o.sparseSoftmaxCrossEntropy(logits!, labels);
    } else {
      if (data.yDtype !== 'float32') y = o.cast(y, data.yDtype, 'float32');
      [perSample, dOut] = o.softmaxCrossEntropy(logits!, y);
    }
  } else {
    if (data.yDtype !== 'float32') y = o.cast(y, data.yDtype, 'float32');
    const target = o.reshape(y, o.shape(out));
    const k = o.constF([units]);
    if (loss === 'binaryCrossentropy') {
      const z = logits!;
      // max(z,0) - z*y + log(1 + exp(-|z|)), as the eager loss; gradient (sigmoid(z) - y) / units
      const l = o.add(o.sub(o.relu(z), o.mul(z, target)), o.log1p(o.exp(o.neg(o.abs(z)))));
      perSample = o.mean(l, [1]);
      dOut = o.div(o.sub(o.unary('Sigmoid', z, 'y'), target), k);
    } else if (loss === 'meanSquaredError') {
      const d = o.sub(out, target);
      perSample = o.mean(o.square(d), [1]);
      dOut = o.div(o.mul(d, o.constF([2])), k);
    } else if (loss === 'meanAbsoluteError') {
      const d = o.sub(out, target);
      perSample = o.mean(o.abs(d), [1]);
      dOut = o.div(o.sign(d), k);
    } else {
      return { unsupported: `loss ${loss}` };
    }
  }
  const invB = o.div(o.constF([1]), batch);
  let batchLoss: Ref;
  let dPre: Ref;
  if (swAll) {
    const sw = o.gather(swAll, idx, 'float32');
    batchLoss = o.mul(o.sum(o.mul(perSample, sw), [0]), invB);
    dPre = o.mul(dOut, o.reshape(o.mul(sw, invB), o.constI([-1, 1])));
  } else {
    batchLoss = o.mean(perSample, [0]);
    dPre = o.mul(dOut, invB);
  }

  // backward, last layer first
  // (layers below the first trainable one need no gradient at all)
  const grads: Ref[] = new Array(weights.length);
  let dy = dPre;
  let gi = weights.length;
  for (let i = tapes.length - 1; i >= firstTrainable; i--) {
    const { dx, grads: gs } = tapes[i]!.backward(dy, i > firstTrainable);
    gi -= gs.length;
    gs.forEach((gr, k) => (grads[gi + k] = gr));
    if (i > firstTrainable) dy = dx!;
  }

  // regularisers (l1l2 on kernels, biases, embeddings), as tfjs adds them to the loss (frozen
  // layers' terms too, as tfjs counts them; only trainable weights get their gradient)
  const regTerms: Ref[] = [];
  const c0 = o.constF([0]);
  for (const { w, k, rank, reg } of regularised) {
    const axes = [...Array(rank).keys()];
    if (reg.l1) {
      regTerms.push(o.sum(o.mul(o.constF([reg.l1]), o.abs(w)), axes));
      // d|w|/dw as tfjs takes it: +1 for w > 0, else -1 (also at 0, where biases start)
      const slope = o.sub(o.mul(o.cast(o.greater(w, c0), 'bool', 'float32'), o.constF([2])), o.constF([1]));
      if (k >= 0) grads[k] = o.add(grads[k]!, o.mul(o.constF([reg.l1]), slope));
    }
    if (reg.l2) {
      regTerms.push(o.sum(o.mul(o.constF([reg.l2]), o.square(w)), axes));
      if (k >= 0) grads[k] = o.add(grads[k]!, o.mul(o.constF([2 * reg.l2]), w));
    }
  }
  if (regTerms.length) batchLoss = o.add(batchLoss, o.addN(regTerms));

  // optimizer
  const lr = o.element(hyperIn, 0);
  const opt = spec.optimizer;
  const slotSpecs: TrainStepProgram['slots'] = [];
  const slotKinds: Array<{ suffix: string; init: number }> = [];
  let hyper: TrainStepProgram['hyper'];
  switch (opt.type) {
    case 'sgd':
      if (opt.momentum) slotKinds.push({ suffix: 'momentum', init: 0 });
      hyper = (rate) => [rate];
      break;
    case 'adam': {
      slotKinds.push({ suffix: 'm', init: 0 }, { suffix: 'v', init: 0 });
      const b1 = opt.beta1 ?? 0.9;
      const b2 = opt.beta2 ?? 0.999;
      hyper = (rate, it) => [rate, 1 - Math.pow(b1, it + 1), 1 - Math.pow(b2, it + 1)];
      break;
    }
    case 'rmsprop':
      slotKinds.push({ suffix: 'rms', init: 0 }, { suffix: 'momentum', init: 0 });
      hyper = (rate) => [rate];
      break;
    case 'adagrad':
      slotKinds.push({ suffix: 'accumulator', init: opt.initialAccumulatorValue ?? 0.1 });
      hyper = (rate) => [rate];
      break;
    default:
      return { unsupported: `optimizer ${(opt as { type?: string }).type}` };
  }
  for (const { suffix, init } of slotKinds) for (const w of weightsMeta) slotSpecs.push({ name: `${w.name}/${suffix}`, shape: w.shape, init });
  const slotIn = slotSpecs.map((_, i) => g.input(`s${i}`, 'float32'));
  const slot = (kind: number, w: number) => slotIn[kind * weights.length + w]!;
  const newWeights: Ref[] = [];
  const newSlots: Ref[] = new Array(slotIn.length);
  const setSlot = (kind: number, w: number, v: Ref) => (newSlots[kind * weights.length + w] = v);
  const c = (v: number) => o.constF([v]);
  weights.forEach((w, k) => {
    const gr = grads[k]!;
    switch (opt.type) {
      case 'sgd':
        if (opt.momentum) {
          const acc = o.add(o.mul(slot(0, k), c(opt.momentum)), gr);
          setSlot(0, k, acc);
          const step = opt.nesterov ? o.add(gr, o.mul(acc, c(opt.momentum))) : acc;
          newWeights.push(o.sub(w, o.mul(lr, step)));
        } else newWeights.push(o.sub(w, o.mul(lr, gr)));
        break;
      case 'adam': {
        const b1 = opt.beta1 ?? 0.9;
        const b2 = opt.beta2 ?? 0.999;
        const m = o.add(o.mul(slot(0, k), c(b1)), o.mul(gr, c(1 - b1)));
        const v = o.add(o.mul(slot(1, k), c(b2)), o.mul(o.square(gr), c(1 - b2)));
        setSlot(0, k, m);
        setSlot(1, k, v);
        const mHat = o.div(m, o.element(hyperIn, 1));
        const vHat = o.div(v, o.element(hyperIn, 2));
        newWeights.push(o.sub(w, o.mul(o.div(mHat, o.add(o.sqrt(vHat), c(opt.epsilon ?? 1e-7))), lr)));
        break;
      }
      case 'rmsprop': {
        const rho = opt.rho ?? 0.9;
        const ms = o.add(o.mul(slot(0, k), c(rho)), o.mul(o.square(gr), c(1 - rho)));
        const mom = o.add(o.mul(slot(1, k), c(opt.momentum ?? 0)), o.div(o.mul(gr, lr), o.sqrt(o.add(ms, c(opt.epsilon ?? 1e-7)))));
        setSlot(0, k, ms);
        setSlot(1, k, mom);
        newWeights.push(o.sub(w, mom));
        break;
      }
      case 'adagrad': {
        const acc = o.add(slot(0, k), o.square(gr));
        setSlot(0, k, acc);
        newWeights.push(o.sub(w, o.mul(o.div(gr, o.sqrt(o.add(acc, c(1e-7)))), lr)));
        break;
      }
    }
  });

  // epoch accumulators: loss sum, then the metrics' sums
  const accumulators: TrainStepProgram['accumulators'] = [{ key: 'loss', shape: [] }];
  const accUpdates: Array<(acc: Ref) => Ref> = [(acc) => o.add(acc, o.mul(batchLoss, batch))];
  const needs = metricNeeds(spec.metrics ?? []);
  if (isClassification(loss) && needs.classes) {
    let pred: Ref;
    let truth: Ref;
    let classes: number;
    if (loss === 'binaryCrossentropy') {
      classes = 2;
      pred = o.reshape(o.cast(o.greater(logits!, c(0)), 'bool', 'int32'), o.constI([-1]), 'int32');
      const yf = data.yDtype === 'float32' ? y : o.cast(y, data.yDtype, 'float32');
      truth = o.cast(o.greater(o.reshape(yf, o.constI([-1])), c(0.5)), 'bool', 'int32');
    } else {
      classes = units;
      pred = o.argMax(logits!, 1);
      truth =
        loss === 'sparseCategoricalCrossentropy'
          ? o.reshape(data.yDtype === 'int32' ? y : o.cast(y, data.yDtype, 'int32'), o.constI([-1]), 'int32')
          : o.argMax(y, 1);
    }
    accumulators.push({ key: 'correct', shape: [] });
    const correct = o.sum(o.cast(o.equalI(pred, truth), 'bool', 'float32'), [0]);
    accUpdates.push((acc) => o.add(acc, correct));
    if (needs.confusion) {
      accumulators.push({ key: 'confusion', shape: [classes, classes] });
      const conf = o.matMul(o.oneHot(truth, classes), o.oneHot(pred, classes), true, false);
      accUpdates.push((acc) => o.add(acc, conf));
    }
  }
  if (needs.se || needs.ae) {
    const target = o.reshape(data.yDtype === 'float32' ? y : o.cast(y, data.yDtype, 'float32'), o.shape(out));
    const d = o.sub(out, target);
    if (needs.se) {
      accumulators.push({ key: 'se', shape: [] });
      const se = o.sum(o.square(d), [0, 1]);
      accUpdates.push((acc) => o.add(acc, se));
    }
    if (needs.ae) {
      accumulators.push({ key: 'ae', shape: [] });
      const ae = o.sum(o.abs(d), [0, 1]);
      accUpdates.push((acc) => o.add(acc, ae));
    }
    accumulators.push({ key: 'elements', shape: [] });
    const count = o.cast(o.size(out), 'int32', 'float32');
    accUpdates.push((acc) => o.add(acc, count));
  }
  const accIn = accumulators.map((a) => g.input(`acc_${a.key}`, 'float32'));

  g.output('loss', 'float32', batchLoss);
  newWeights.forEach((w, i) => g.output(`w${i}`, 'float32', w));
  stateOut.forEach((v, i) => g.output(`state${i}`, 'float32', v));
  newSlots.forEach((s, i) => g.output(`s${i}`, 'float32', s));
  accIn.forEach((acc, i) => g.output(`acc_${accumulators[i]!.key}`, 'float32', accUpdates[i]!(acc)));

  return {
    name,
    bytes: g.encode(),
    usesSampleWeights: !!swAll,
    usesSeed: needsSeed,
    weightCount: weights.length,
    frozenWeights,
    stateWeights,
    slots: slotSpecs,
    accumulators,
    outputCount: g.outputCount,
    hyper,
  };
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v, v];
}

function unsupportedLayer(l: LayerSpec): string | null {
  switch (l.type) {
    case 'dense':
    case 'conv2d': {
      const act = l.activation ?? 'linear';
      if (!GRAD_ACTIVATIONS.has(act)) return `activation ${act}`;
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
        if (act && !GRAD_ACTIVATIONS.has(act)) return `activation ${act}`;
      }
      return null;
    }
    default:
      return 'layer type not compiled to a graph';
  }
}

function activate(o: Ops, act: Activation, z: Ref): Ref {
  switch (act) {
    case 'linear':
      return z;
    case 'relu':
    case 'relu6':
    case 'elu':
    case 'selu':
    case 'softplus':
    case 'softsign':
      return o.unary(capital(act), z, 'activations');
    case 'sigmoid':
    case 'tanh':
      return o.unary(capital(act), z, 'y');
    case 'softmax':
      return o.unary('Softmax', z, 'softmax'); // logits: Softmax's input arg name
    // the rest as tfjs-layers defines them
    case 'hardSigmoid': // clip(0.2 z + 0.5, 0, 1)
      return o.binary('Minimum', o.relu(o.add(o.mul(z, o.constF([0.2])), o.constF([0.5]))), o.constF([1]), 'z');
    case 'swish': // z * sigmoid(z)
      return o.mul(z, o.unary('Sigmoid', z, 'y'));
    case 'mish': // z * tanh(softplus(z))
      return o.mul(z, o.unary('Tanh', o.unary('Softplus', z, 'activations'), 'y'));
    case 'gelu': // z * Φ(z), Φ(z) = (1 + erf(z / √2)) / 2
      return o.mul(z, o.mul(o.constF([0.5]), o.add(o.constF([1]), o.unary('Erf', o.mul(z, o.constF([Math.SQRT1_2])), 'y'))));
    default:
      throw new Error(`activation ${act} has no graph form`);
  }
}

/** d(loss)/dz from d(loss)/da, with TensorFlow's fused gradient kernels. */
function activationGrad(o: Ops, act: Activation, da: Ref, z: Ref, a: Ref): Ref {
  switch (act) {
    case 'linear':
      return da;
    case 'relu':
      return o.binary('ReluGrad', da, a, 'backprops');
    case 'relu6':
      return o.binary('Relu6Grad', da, z, 'backprops');
    case 'elu':
      return o.binary('EluGrad', da, a, 'backprops');
    case 'selu':
      return o.binary('SeluGrad', da, a, 'backprops');
    case 'softplus':
      return o.binary('SoftplusGrad', da, z, 'backprops');
    case 'softsign':
      return o.binary('SoftsignGrad', da, z, 'backprops');
    case 'sigmoid':
      return o.binary('SigmoidGrad', a, da, 'z');
    case 'tanh':
      return o.binary('TanhGrad', a, da, 'z');
    case 'softmax':
      // (da - sum(da * a, -1)) * a
      return o.mul(o.sub(da, o.sum(o.mul(da, a), [-1], true)), a);
    case 'hardSigmoid': {
      // 0.2 inside [0, 1] (bounds included, as tfjs's clipByValue gradient), else 0
      const pre = o.add(o.mul(z, o.constF([0.2])), o.constF([0.5]));
      const inside = o.logicalAnd(o.greaterEqual(pre, o.constF([0])), o.binary('LessEqual', pre, o.constF([1]), 'z'));
      return o.mul(da, o.mul(o.cast(inside, 'bool', 'float32'), o.constF([0.2])));
    }
    case 'swish': {
      // s + z s (1 - s)
      const sg = o.unary('Sigmoid', z, 'y');
      return o.mul(da, o.add(sg, o.mul(o.mul(z, sg), o.sub(o.constF([1]), sg))));
    }
    case 'mish': {
      // tanh(sp) + z (1 - tanh(sp)^2) sigmoid(z)
      const t = o.unary('Tanh', o.unary('Softplus', z, 'activations'), 'y');
      return o.mul(da, o.add(t, o.mul(o.mul(z, o.sub(o.constF([1]), o.square(t))), o.unary('Sigmoid', z, 'y'))));
    }
    case 'gelu': {
      // Φ(z) + z φ(z), φ(z) = exp(-z²/2) / √(2π)
      const cdf = o.mul(o.constF([0.5]), o.add(o.constF([1]), o.unary('Erf', o.mul(z, o.constF([Math.SQRT1_2])), 'y')));
      const pdf = o.mul(o.exp(o.mul(o.square(z), o.constF([-0.5]))), o.constF([1 / Math.sqrt(2 * Math.PI)]));
      return o.mul(da, o.add(cdf, o.mul(z, pdf)));
    }
    default:
      throw new Error(`activation ${act} has no graph gradient`);
  }
}

function capital(s: string): string {
  return s[0]!.toUpperCase() + s.slice(1);
}

function metricNeeds(metrics: MetricName[]) {
  const set = new Set<string>(metrics);
  const accuracy = ['accuracy', 'categoricalAccuracy', 'sparseCategoricalAccuracy', 'binaryAccuracy'].some((m) => set.has(m));
  const confusion = set.has('precision') || set.has('recall');
  return { classes: accuracy || confusion, confusion, se: set.has('meanSquaredError'), ae: set.has('meanAbsoluteError') };
}

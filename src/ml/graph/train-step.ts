// Compile one training step of a sequential model into a single TensorFlow function:
// gather the batch, forward pass, loss, backward pass (hand-written gradients, one TensorFlow
// gradient kernel per layer), regularisation, the optimizer's update and the epoch's metric
// sums, all in one graph. Run through the native binding it costs one op dispatch per batch
// instead of ~160, and TensorFlow optimises and schedules the graph as a whole; the update
// formulas follow tfjs's optimizers exactly, so results match the eager path (tested).
//
// Layers, activations and optimizers outside the supported set make compileTrainStep return
// `{ unsupported }`, and fit() then runs the eager loop instead.
import type * as TfModule from '@tensorflow/tfjs';
import { isClassification } from '../losses.ts';
import type { MetricName, TrainModelSpec } from '../model-spec.ts';
import { FunctionBuilder, type DType, type Ref } from './function-def.ts';
import { declareWeights, layerGraph, unsupportedLayers } from './layers.ts';
import { Ops } from './ops.ts';

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
  const why = unsupportedLayers(layers);
  if (why) return { unsupported: why };
  if (data.xDtype !== 'float32') return { unsupported: 'inputs are not float32' };
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
  const needsSeed = layers.some((l) => (l.type === 'dropout' && l.rate > 0) || ((l.type === 'lstm' || l.type === 'gru') && ((l.dropout ?? 0) > 0 || (l.recurrentDropout ?? 0) > 0)));
  const seed = needsSeed ? g.input('seed', 'int32') : null;
  const wts = declareWeights(g, model, spec);
  const { weights, weightsMeta, frozenWeights, stateWeights, stateIn, takeWeight, regularised } = wts;
  const firstTrainable = spec.model.layers.findIndex((_, i) => model.layers[i]!.trainable && model.layers[i]!.trainableWeights.length > 0);
  if (firstTrainable < 0) return { unsupported: 'no layer has trainable weights' };

  const x = o.gather(xAll, idx, 'float32');
  const y = o.gather(yAll, idx, data.yDtype);
  // the batch's labels as the loss and metrics read them: floats, or class ids [B] (made once)
  let yFloatRef: Ref | null = null;
  const yFloat = () => (yFloatRef ??= data.yDtype === 'float32' ? y : o.cast(y, data.yDtype, 'float32'));
  let classIdsRef: Ref | null = null;
  const classIds = () => (classIdsRef ??= o.reshape(data.yDtype === 'int32' ? y : o.cast(y, data.yDtype, 'int32'), o.constI([-1]), 'int32'));
  const batch = o.cast(o.size(idx, 'int32'), 'int32', 'float32');

  const net = layerGraph(o, model, spec, x, { mode: 'train', fuseLast: isClassification(loss), seed, takeWeight, stateIn });
  if ('unsupported' in net) return net;
  const { out, logits, tapes, stateOut } = net;
  const unused = wts.unused();
  if (unused) return { unsupported: unused };

  // loss per sample [B] and its gradient with respect to the output (or logits)
  let perSample: Ref;
  let dOut: Ref; // d(per-sample loss)/d(out), before the 1/B and sample weight factors
  if (loss === 'sparseCategoricalCrossentropy' || loss === 'categoricalCrossentropy') {
    if (loss === 'sparseCategoricalCrossentropy') {
      [perSample, dOut] = o.sparseSoftmaxCrossEntropy(logits!, classIds());
    } else {
      [perSample, dOut] = o.softmaxCrossEntropy(logits!, yFloat());
    }
  } else {
    const target = o.reshape(yFloat(), o.shape(out));
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
      hyper = (rate, it) => [rate, 1 - b1 ** (it + 1), 1 - b2 ** (it + 1)];
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
      truth = o.cast(o.greater(o.reshape(yFloat(), o.constI([-1])), c(0.5)), 'bool', 'int32');
    } else {
      classes = units;
      pred = o.argMax(logits!, 1);
      truth = loss === 'sparseCategoricalCrossentropy' ? classIds() : o.argMax(yFloat(), 1);
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
    const d = o.sub(out, o.reshape(yFloat(), o.shape(out)));
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

function metricNeeds(metrics: MetricName[]) {
  const set = new Set<string>(metrics);
  const accuracy = ['accuracy', 'categoricalAccuracy', 'sparseCategoricalAccuracy', 'binaryAccuracy'].some((m) => set.has(m));
  const confusion = set.has('precision') || set.has('recall');
  return { classes: accuracy || confusion, confusion, se: set.has('meanSquaredError'), ae: set.has('meanAbsoluteError') };
}

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
import type { LossName, MetricName, TrainModelSpec } from '../model-spec.ts';
import { FunctionBuilder, type DType, type Ref } from './function-def.ts';
import { declareWeights, type LayerGraph, layerGraph, type Tape, unsupportedLayers, type WeightInputs } from './layers.ts';
import { Ops } from './ops.ts';
import { type GraphOptimizer, graphOptimizer } from './optimizers.ts';

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
  /** The function's argument and result names and dtypes, in order (multi-step.ts calls it by them). */
  signature: FunctionBuilder['signature'];
  /** Ops in the function: bounds how many steps one multi-step function may unroll. */
  nodeCount: number;
}

export type CompileResult = TrainStepProgram | { unsupported: string };

let counter = 0;

type StepData = { xDtype: DType; yDtype: DType; sampleWeights: boolean };

/**
 * Build the step function for `model` (from buildModel(spec)) with training data of the given
 * dtypes. The model's trainable weights are the function's weight inputs, in order.
 */
export function compileTrainStep(model: LayersModel, spec: TrainModelSpec, data: StepData): CompileResult {
  const why = unsupportedModel(model, spec, data);
  if (why) return { unsupported: why };
  const units = model.outputs[0]!.shape[1]!;
  const name = `mlpipe_train_step_${process.pid}_${++counter}`;
  const g = new FunctionBuilder(name);
  const o = new Ops(g);
  const inputs = declareDataInputs(g, spec, data);
  const wts = declareWeights(g, model, spec);
  const firstTrainable = spec.model.layers.findIndex((_, i) => model.layers[i]!.trainable && model.layers[i]!.trainableWeights.length > 0);
  if (firstTrainable < 0) return { unsupported: 'no layer has trainable weights' };
  const batch = gatherBatch(o, inputs, data.yDtype);

  const net = layerGraph(o, model, spec, batch.x, {
    mode: 'train',
    fuseLast: isClassification(spec.loss),
    seed: inputs.seed,
    takeWeight: wts.takeWeight,
    stateIn: wts.stateIn,
  });
  if ('unsupported' in net) return net;
  const unused = wts.unused();
  if (unused) return { unsupported: unused };

  const loss = perSampleLoss(o, spec.loss, net, batch, units);
  if ('unsupported' in loss) return loss;
  const weighted = weightedBatchLoss(o, loss, batch);
  const grads = backward(net.tapes, weighted.dPre, wts.weights.length, firstTrainable);
  const batchLoss = addRegularisers(o, wts.regularised, grads, weighted.batchLoss);

  const lr = o.element(inputs.hyperIn, 0);
  const optimizer = graphOptimizer(spec.optimizer);
  if ('unsupported' in optimizer) return optimizer;
  const updated = applyOptimizer(g, o, optimizer, wts, grads, lr, inputs.hyperIn);

  const acc = epochAccumulators(o, spec, net, batch, batchLoss, units);
  const accIn = acc.accumulators.map((a) => g.input(`acc_${a.key}`, 'float32'));

  g.output('loss', 'float32', batchLoss);
  updated.weights.forEach((w, i) => g.output(`w${i}`, 'float32', w));
  net.stateOut.forEach((v, i) => g.output(`state${i}`, 'float32', v));
  updated.slots.forEach((s, i) => g.output(`s${i}`, 'float32', s));
  accIn.forEach((a, i) => g.output(`acc_${acc.accumulators[i]!.key}`, 'float32', acc.updates[i]!(a)));

  return {
    name,
    bytes: g.encode(),
    usesSampleWeights: !!inputs.swAll,
    usesSeed: !!inputs.seed,
    weightCount: wts.weights.length,
    frozenWeights: wts.frozenWeights,
    stateWeights: wts.stateWeights,
    slots: updated.slotSpecs,
    accumulators: acc.accumulators,
    outputCount: g.outputCount,
    hyper: optimizer.hyper,
    signature: g.signature,
    nodeCount: g.nodeCount,
  };
}

/** Why this model and data cannot run as a graph step (checked before anything is built), or null. */
function unsupportedModel(model: LayersModel, spec: TrainModelSpec, data: StepData): string | null {
  const layers = spec.model.layers;
  if (model.layers.length !== layers.length) return 'the built model has a different number of layers than the spec';
  const why = unsupportedLayers(layers);
  if (why) return why;
  if (data.xDtype !== 'float32') return 'inputs are not float32';
  const loss = spec.loss;
  const last = layers[layers.length - 1]!;
  const lastAct = last.type === 'dense' || last.type === 'conv2d' ? (last.activation ?? 'linear') : undefined;
  if (isClassification(loss)) {
    // the loss is fused with the last layer's activation (on its logits), so it must have one
    if (last.type !== 'dense' && last.type !== 'conv2d') return `a ${loss} model must end in a dense or conv2d layer here`;
    const fusable = loss === 'binaryCrossentropy' ? ['linear', 'sigmoid'] : ['linear', 'softmax'];
    if (!fusable.includes(lastAct!)) return `the last activation ${lastAct} with ${loss}`;
  }
  if (model.outputs[0]!.shape.length !== 2) return 'the model output is not [batch, units]';
  return null;
}

/** The step's data inputs, declared before the weights (the program's input order). */
interface DataInputs {
  xAll: Ref;
  yAll: Ref;
  idx: Ref;
  swAll: Ref | null;
  hyperIn: Ref;
  seed: Ref | null;
}

function declareDataInputs(g: FunctionBuilder, spec: TrainModelSpec, data: StepData): DataInputs {
  const xAll = g.input('x_all', 'float32');
  const yAll = g.input('y_all', data.yDtype);
  const idx = g.input('idx', 'int32');
  const swAll = data.sampleWeights ? g.input('sample_weights', 'float32') : null;
  const hyperIn = g.input('hyper', 'float32');
  const needsSeed = spec.model.layers.some(
    (l) =>
      (l.type === 'dropout' && l.rate > 0) ||
      ((l.type === 'lstm' || l.type === 'gru') && ((l.dropout ?? 0) > 0 || (l.recurrentDropout ?? 0) > 0)),
  );
  const seed = needsSeed ? g.input('seed', 'int32') : null;
  return { xAll, yAll, idx, swAll, hyperIn, seed };
}

/** This step's batch, gathered from the whole training set by the batch's indices. */
interface Batch extends DataInputs {
  x: Ref;
  y: Ref;
  /** The batch size as a float. */
  size: Ref;
  /** The labels as floats (made on first use, once). */
  yFloat(): Ref;
  /** The labels as class ids [B] (made on first use, once). */
  classIds(): Ref;
}

function gatherBatch(o: Ops, inputs: DataInputs, yDtype: DType): Batch {
  const x = o.gather(inputs.xAll, inputs.idx, 'float32');
  const y = o.gather(inputs.yAll, inputs.idx, yDtype);
  let yFloatRef: Ref | null = null;
  const yFloat = () => (yFloatRef ??= yDtype === 'float32' ? y : o.cast(y, yDtype, 'float32'));
  let classIdsRef: Ref | null = null;
  const classIds = () => (classIdsRef ??= o.reshape(yDtype === 'int32' ? y : o.cast(y, yDtype, 'int32'), o.constI([-1]), 'int32'));
  const size = o.cast(o.size(inputs.idx, 'int32'), 'int32', 'float32');
  return { ...inputs, x, y, size, yFloat, classIds };
}

/** The loss per sample [B] and its gradient with respect to the output (or the logits). */
interface PerSampleLoss {
  perSample: Ref;
  /** d(per-sample loss)/d(out), before the 1/B and sample weight factors. */
  dOut: Ref;
}

function perSampleLoss(o: Ops, loss: LossName, net: LayerGraph, batch: Batch, units: number): PerSampleLoss | { unsupported: string } {
  const { out, logits } = net;
  if (loss === 'sparseCategoricalCrossentropy') {
    const [perSample, dOut] = o.sparseSoftmaxCrossEntropy(logits!, batch.classIds());
    return { perSample, dOut };
  }
  if (loss === 'categoricalCrossentropy') {
    const [perSample, dOut] = o.softmaxCrossEntropy(logits!, batch.yFloat());
    return { perSample, dOut };
  }
  const target = o.reshape(batch.yFloat(), o.shape(out));
  const k = o.constF([units]);
  if (loss === 'binaryCrossentropy') {
    const z = logits!;
    // max(z,0) - z*y + log(1 + exp(-|z|)), as the eager loss; gradient (sigmoid(z) - y) / units
    const l = o.add(o.sub(o.relu(z), o.mul(z, target)), o.log1p(o.exp(o.neg(o.abs(z)))));
    return { perSample: o.mean(l, [1]), dOut: o.div(o.sub(o.unary('Sigmoid', z, 'y'), target), k) };
  }
  if (loss === 'meanSquaredError') {
    const d = o.sub(out, target);
    return { perSample: o.mean(o.square(d), [1]), dOut: o.div(o.mul(d, o.constF([2])), k) };
  }
  if (loss === 'meanAbsoluteError') {
    const d = o.sub(out, target);
    return { perSample: o.mean(o.abs(d), [1]), dOut: o.div(o.sign(d), k) };
  }
  return { unsupported: `loss ${loss}` };
}

/** The batch's loss (mean, or weighted by the sample weights) and the output gradient it implies. */
function weightedBatchLoss(o: Ops, { perSample, dOut }: PerSampleLoss, batch: Batch): { batchLoss: Ref; dPre: Ref } {
  const invB = o.div(o.constF([1]), batch.size);
  if (batch.swAll) {
    const sw = o.gather(batch.swAll, batch.idx, 'float32');
    return {
      batchLoss: o.mul(o.sum(o.mul(perSample, sw), [0]), invB),
      dPre: o.mul(dOut, o.reshape(o.mul(sw, invB), o.constI([-1, 1]))),
    };
  }
  return { batchLoss: o.mean(perSample, [0]), dPre: o.mul(dOut, invB) };
}

/**
 * The backward pass, last layer first: the trainable weights' gradients in weight order. Layers
 * below the first trainable one need no gradient at all, so the pass stops there.
 */
function backward(tapes: Tape[], dPre: Ref, weightCount: number, firstTrainable: number): Ref[] {
  const grads: Ref[] = new Array(weightCount);
  let dy = dPre;
  let gi = weightCount;
  for (let i = tapes.length - 1; i >= firstTrainable; i--) {
    const { dx, grads: gs } = tapes[i]!.backward(dy, i > firstTrainable);
    gi -= gs.length;
    gs.forEach((gr, k) => (grads[gi + k] = gr));
    if (i > firstTrainable) dy = dx!;
  }
  return grads;
}

/**
 * Regularisers (l1l2 on kernels, biases, embeddings), as tfjs adds them to the loss (frozen
 * layers' terms too, as tfjs counts them; only trainable weights get their gradient, added to
 * `grads` in place). Returns the batch loss with the terms added.
 */
function addRegularisers(o: Ops, regularised: WeightInputs['regularised'], grads: Ref[], batchLoss: Ref): Ref {
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
  return regTerms.length ? o.add(batchLoss, o.addN(regTerms)) : batchLoss;
}

/**
 * Declare the optimizer's slot inputs (tfjs's order: each slot kind for every weight) and emit
 * every weight's update: the new weights and the new slots, in input order.
 */
function applyOptimizer(g: FunctionBuilder, o: Ops, opt: GraphOptimizer, wts: WeightInputs, grads: Ref[], lr: Ref, hyperIn: Ref) {
  const n = wts.weights.length;
  const slotSpecs: TrainStepProgram['slots'] = opt.slotKinds.flatMap(({ suffix, init }) =>
    wts.weightsMeta.map((w) => ({ name: `${w.name}/${suffix}`, shape: w.shape, init })),
  );
  const slotIn = slotSpecs.map((_, i) => g.input(`s${i}`, 'float32'));
  const weights: Ref[] = [];
  const slots: Ref[] = new Array(slotIn.length);
  wts.weights.forEach((w, k) => {
    const current = opt.slotKinds.map((_, kind) => slotIn[kind * n + k]!);
    const update = opt.update(o, w, grads[k]!, current, lr, hyperIn);
    weights.push(update.weight);
    update.slots.forEach((s, kind) => (slots[kind * n + k] = s));
  });
  return { slotSpecs, weights, slots };
}

/** The epoch's sums kept on the device: loss sum first, then what the metrics need. */
interface Accumulators {
  accumulators: TrainStepProgram['accumulators'];
  /** Each accumulator's new value from its input, in the same order. */
  updates: Array<(acc: Ref) => Ref>;
}

function epochAccumulators(o: Ops, spec: TrainModelSpec, net: LayerGraph, batch: Batch, batchLoss: Ref, units: number): Accumulators {
  const acc: Accumulators = {
    accumulators: [{ key: 'loss', shape: [] }],
    updates: [(a) => o.add(a, o.mul(batchLoss, batch.size))],
  };
  const sum = (key: string, shape: number[], value: Ref) => {
    acc.accumulators.push({ key, shape });
    acc.updates.push((a) => o.add(a, value));
  };
  const needs = metricNeeds(spec.metrics ?? []);
  if (isClassification(spec.loss) && needs.classes) {
    const { pred, truth, classes } = predictedClasses(o, spec.loss, net.logits!, batch, units);
    sum('correct', [], o.sum(o.cast(o.equalI(pred, truth), 'bool', 'float32'), [0]));
    if (needs.confusion) sum('confusion', [classes, classes], o.matMul(o.oneHot(truth, classes), o.oneHot(pred, classes), true, false));
  }
  if (needs.se || needs.ae) {
    const d = o.sub(net.out, o.reshape(batch.yFloat(), o.shape(net.out)));
    if (needs.se) sum('se', [], o.sum(o.square(d), [0, 1]));
    if (needs.ae) sum('ae', [], o.sum(o.abs(d), [0, 1]));
    sum('elements', [], o.cast(o.size(net.out), 'int32', 'float32'));
  }
  return acc;
}

/** Predicted and true class ids [B] of a classification batch, and the number of classes. */
function predictedClasses(o: Ops, loss: LossName, logits: Ref, batch: Batch, units: number) {
  const c = (v: number) => o.constF([v]);
  if (loss === 'binaryCrossentropy') {
    return {
      classes: 2,
      pred: o.reshape(o.cast(o.greater(logits, c(0)), 'bool', 'int32'), o.constI([-1]), 'int32'),
      truth: o.cast(o.greater(o.reshape(batch.yFloat(), o.constI([-1])), c(0.5)), 'bool', 'int32'),
    };
  }
  return {
    classes: units,
    pred: o.argMax(logits, 1),
    truth: loss === 'sparseCategoricalCrossentropy' ? batch.classIds() : o.argMax(batch.yFloat(), 1),
  };
}

function metricNeeds(metrics: MetricName[]) {
  const set = new Set<string>(metrics);
  const accuracy = ['accuracy', 'categoricalAccuracy', 'sparseCategoricalAccuracy', 'binaryAccuracy'].some((m) => set.has(m));
  const confusion = set.has('precision') || set.has('recall');
  return { classes: accuracy || confusion, confusion, se: set.has('meanSquaredError'), ae: set.has('meanAbsoluteError') };
}

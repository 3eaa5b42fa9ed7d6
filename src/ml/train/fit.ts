// The training engine: a custom loop (not LayersModel.fit), so that cancellation, resume,
// checkpoints, class weights, logits-aware losses and learning-rate schedules live in one small,
// testable place, and the layers API's per-batch callback overhead is avoided
// (docs/native-tensorflow.md has the measurements). Each batch runs on the graph step or on
// `optimizer.minimize` (fit-engines.ts); the epochs, callbacks and checkpoints are here.
//
// Native TF ops block the event loop for a whole call; the loop yields to it after every call
// (one batch, or on the graph step up to 8 batches chosen to take at most ~50 ms, see Pace) so
// Temporal heartbeats and cancellation get through (per-batch times for the example models are
// in the docs; for bigger ones use fitInWorker from src/ml/train/fit-worker-host.ts).
import type * as TfModule from '@tensorflow/tfjs';
import { backendInfo, getTf, type BackendInfo } from '../runtime/backend.ts';
import { EarlyStopper } from './early-stopping.ts';
import { addSum, startEngine, type TrainEngine, type TrainingTensors } from './fit-engines.ts';
import {
  type BatchPlan,
  type BatchSource,
  type HostRows,
  type Window,
  memoryBatches,
  rebatch,
  streamedBatches,
  type TrainParts,
} from './fit-batches.ts';
import { inferenceFn } from './graph/forward.ts';
import { finishMetrics, isClassification, metricSums, perSampleLoss } from './losses.ts';
import type { LearningRateScheduleSpec, TrainModelSpec } from './model-spec.ts';
import { baseLearningRate, buildOptimizer, outputKindFor, setLearningRate } from './model.ts';

type Tf = typeof TfModule;
type Tensor = TfModule.Tensor;
type LayersModel = TfModule.LayersModel;

/** A dense array with its full shape (first dimension: samples). Transferable to a worker. */
export interface ArrayData {
  data: Float32Array | Int32Array;
  shape: number[];
}

export interface NamedArray {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** Everything needed to continue training exactly where a checkpoint left off. */
export interface TrainingState {
  /** The first epoch still to run (0-based). */
  nextEpoch: number;
  weights: NamedArray[];
  /** Optimizer slots (momentum, Adam moments, iteration count), as tfjs exposes them. */
  optimizer: NamedArray[];
  /** Early-stopping bookkeeping, so a resumed run stops where an uninterrupted one would. */
  best?: { value: number; epoch: number; wait: number };
}

export type EpochLogs = Record<string, number>;

export interface EarlyStopping {
  /** `loss`, `val_loss`, `accuracy`, `val_accuracy`, ... (default val_loss, or loss without validation). */
  monitor?: string;
  patience?: number;
  minDelta?: number;
  mode?: 'min' | 'max' | 'auto';
  restoreBestWeights?: boolean;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Rows to validate on after each epoch: in memory, or read a part at a time (`parts`). */
  validation?: { x: ArrayData; y: ArrayData } | { parts: () => AsyncIterable<HostRows> };
  /** A training batch's features augmented, seeded by (epoch, batch) so a resumed run sees the same (augment.ts). */
  augment?: (x: ArrayData, epoch: number, batch: number) => ArrayData;
  /** Shuffle the training samples each epoch (default true), reproducibly with `seed`. */
  shuffle?: boolean;
  seed?: number;
  earlyStopping?: EarlyStopping;
  /** Loss weight per class index (classification losses only). */
  classWeight?: Record<number, number>;
  /** Overrides spec.learningRateSchedule. */
  learningRateSchedule?: LearningRateScheduleSpec;
  /** Resume: start at `state.nextEpoch` with these weights and optimizer slots. */
  resumeFrom?: TrainingState;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  /** Called after every batch (after its call, when one call runs several); `loss` is that batch's mean loss. */
  onBatch?: (epoch: number, batch: number, loss: number) => void | Promise<void>;
  checkpointEvery?: number;
  onCheckpoint?: (state: TrainingState) => void | Promise<void>;
  /**
   * Checked before every call (a batch, or several: stepsPerCall); training stops there and
   * returns stopReason 'cancelled'.
   */
  signal?: AbortSignal;
  /**
   * How each batch runs. `graph`: the whole step as one TensorFlow function (src/ml/train/graph/;
   * native backend, supported layers only, else an error); `eager`: tfjs ops one by one;
   * `auto` (default): graph when possible, else eager. MLPIPE_TF_GRAPH=0 forces eager.
   */
  engine?: 'auto' | 'graph' | 'eager';
  /**
   * Graph engine: batches per TensorFlow call (src/ml/train/graph/multi-step.ts). Default: from
   * the measured time of a step, so that one call blocks the event loop for at most ~50 ms
   * (CHUNK_MS), up to 8 and what the unrolled function's size allows; 1: a call per batch.
   * onBatch still runs for every batch, after its call; cancellation is checked between calls.
   */
  stepsPerCall?: number;
}

/** Which training engine ran, and why the graph step did not when it did not. */
export interface EngineInfo {
  engine: 'graph' | 'eager';
  reason?: string;
}

export interface FitResult {
  stopReason: 'completed' | 'earlyStopping' | 'cancelled';
  /** Epochs finished in this call (a resumed run counts only its own). */
  epochsRun: number;
  /** The epoch (0-based) whose weights the model holds at the end. */
  finalEpoch: number;
  bestEpoch: number | null;
  history: Array<{ epoch: number; logs: EpochLogs }>;
  backend: BackendInfo;
  engine: EngineInfo;
  samplesPerSecond: number;
}

/** tfjs's TrainingState snapshot helpers (also used by the checkpoint writer). */
export async function snapshotModel(model: LayersModel): Promise<NamedArray[]> {
  return model.weights.map((w) => {
    const t = w.read();
    return {
      name: w.name,
      shape: t.shape.slice(),
      dtype: t.dtype as 'float32' | 'int32',
      data: t.dataSync().slice() as Float32Array | Int32Array,
    };
  });
}

export function restoreModel(tf: Tf, model: LayersModel, weights: NamedArray[]): void {
  if (weights.length !== model.weights.length) {
    throw new Error(
      `resume: checkpoint has ${weights.length} weight tensors, the model ${model.weights.length}; was the model spec changed?`,
    );
  }
  const tensors = weights.map((w, i) => {
    const expect = model.weights[i]!.shape.join('x');
    if (w.shape.join('x') !== expect)
      throw new Error(`resume: weight ${w.name} has shape ${w.shape.join('x')}, the model expects ${expect}`);
    return tf.tensor(w.data, w.shape, w.dtype);
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** Learning rate for an epoch under a schedule (epoch 0-based; total = planned epochs). */
export function scheduledLearningRate(base: number, schedule: LearningRateScheduleSpec | undefined, epoch: number, total: number): number {
  if (!schedule) return base;
  switch (schedule.type) {
    case 'step':
      return base * schedule.gamma ** Math.floor(epoch / Math.max(1, schedule.stepEpochs));
    case 'exponential':
      return base * schedule.decayRate ** (epoch / Math.max(1, schedule.decayEpochs ?? 1));
    case 'cosine': {
      const min = schedule.minLearningRate ?? 0;
      return min + 0.5 * (base - min) * (1 + Math.cos((Math.PI * epoch) / Math.max(1, total)));
    }
    default:
      throw new Error(
        `learningRateSchedule.type: unknown ${JSON.stringify((schedule as { type?: unknown }).type)}; use step, exponential or cosine`,
      );
  }
}

/** Per-sample loss weights from class weights; the class of a sample is read from its label. */
function sampleWeights(loss: TrainModelSpec['loss'], y: ArrayData, classWeight: Record<number, number>): Float32Array {
  const n = y.shape[0]!;
  const width = y.data.length / n;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let cls: number;
    if (loss === 'categoricalCrossentropy') {
      cls = 0; // argmax of the one-hot row
      for (let j = 1; j < width; j++) if (y.data[i * width + j]! > y.data[i * width + cls]!) cls = j;
    } else if (loss === 'binaryCrossentropy') {
      cls = y.data[i]! > 0.5 ? 1 : 0;
    } else {
      cls = y.data[i]!;
    }
    out[i] = classWeight[cls] ?? 1;
  }
  return out;
}

function checkData(where: string, x: ArrayData, y: ArrayData): number {
  const n = x.shape[0];
  if (n === undefined || n < 1) throw new Error(`${where}: no samples`);
  if (y.shape[0] !== n) throw new Error(`${where}: x has ${n} samples but y has ${y.shape[0]}`);
  for (const [name, a] of [
    ['x', x],
    ['y', y],
  ] as const) {
    const size = a.shape.reduce((p, c) => p * c, 1);
    if (size !== a.data.length)
      throw new Error(`${where}: ${name} has ${a.data.length} values but shape [${a.shape.join(', ')}] needs ${size}`);
  }
  return n;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * Evaluate a model on data: mean loss and the spec's metrics. Runs in batches without
 * gradients (one TensorFlow function per batch when the model compiles to a graph), yielding to
 * the event loop between batches; the model is left unchanged.
 */
export async function evaluate(model: LayersModel, spec: TrainModelSpec, x: ArrayData, y: ArrayData, batchSize = 256): Promise<EpochLogs> {
  checkData('evaluate', x, y);
  return evaluateParts(model, spec, () => onePart({ x, y }), batchSize);
}

/** evaluate() over rows read a part at a time; batches span parts, so the result is the gathered rows'. */
export async function evaluateParts(
  model: LayersModel,
  spec: TrainModelSpec,
  parts: () => AsyncIterable<HostRows>,
  batchSize = 256,
): Promise<EpochLogs> {
  const inference = inferenceFn(getTf(), model, spec);
  try {
    return await evaluateWith(inference.apply, spec, parts, batchSize);
  } finally {
    inference.dispose();
  }
}

async function* onePart(rows: HostRows): AsyncGenerator<HostRows> {
  yield rows;
}

async function evaluateWith(
  apply: (x: Tensor) => Tensor,
  spec: TrainModelSpec,
  parts: () => AsyncIterable<HostRows>,
  batchSize: number,
): Promise<EpochLogs> {
  const tf = getTf();
  const kind = outputKindFor(spec);
  const metrics = spec.metrics ?? [];
  let n = 0;
  let lossSum = 0;
  const sums: Record<string, number | Float32Array> = {};
  for await (const b of rebatch(parts(), batchSize)) {
    tf.tidy(() => {
      const xb = tf.tensor(b.x.data, b.x.shape);
      const yb = tf.tensor(b.y.data, b.y.shape);
      const out = apply(xb);
      lossSum += tf.sum(perSampleLoss(tf, spec.loss, out, yb, kind)).dataSync()[0]!;
      for (const [k, t] of Object.entries(metricSums(tf, spec.loss, metrics, out, yb, kind))) addSum(sums, k, t);
    });
    n += b.x.shape[0]!;
    await yieldToEventLoop();
  }
  if (n === 0) throw new Error('evaluate: no samples');
  return { loss: lossSum / n, ...finishMetrics(metrics, n, sums) };
}

/**
 * Train `model` (from buildModel) under `spec`'s optimizer, loss, metrics and schedule.
 * Returns when the epochs are done, early stopping fires or `signal` aborts (checked before
 * each call of one or several batches). The model keeps the final (or, with restoreBestWeights, the best) weights.
 */
export async function fit(model: LayersModel, spec: TrainModelSpec, x: ArrayData, y: ArrayData, opts: FitOptions): Promise<FitResult> {
  checkFitData(x, y, opts);
  return fitFrom(model, spec, (tf, plan) => memoryBatches(tf, x, y, plan), opts);
}

/**
 * fit() over training rows read a part (chunk) at a time: shuffled through a buffer of parts,
 * the next part read while the current batches train (fit-batches.ts). With `shuffle: false`
 * the batches, and so the weights, are those of fit() over the gathered rows.
 */
export async function fitParts(model: LayersModel, spec: TrainModelSpec, parts: TrainParts, opts: FitOptions): Promise<FitResult> {
  if (!(parts.rows.reduce((a, b) => a + b, 0) >= 1)) throw new Error('fit: training data: no samples');
  if (!(opts.batchSize >= 1)) throw new Error(`fit: batchSize ${opts.batchSize} must be >= 1`);
  return fitFrom(model, spec, (tf, plan) => streamedBatches(tf, parts, plan), opts);
}

async function fitFrom(
  model: LayersModel,
  spec: TrainModelSpec,
  source: (tf: Tf, plan: BatchPlan) => BatchSource,
  opts: FitOptions,
): Promise<FitResult> {
  const tf = getTf();
  const schedule = opts.learningRateSchedule ?? spec.learningRateSchedule;
  const baseLr = baseLearningRate(spec.optimizer);
  // built whichever engine runs: the eager one trains with it, the graph step keeps its own slots
  const optimizer = buildOptimizer(spec.optimizer);
  if (opts.classWeight && !isClassification(spec.loss)) throw new Error(`fit: classWeight needs a classification loss, not ${spec.loss}`);
  const classWeight = opts.classWeight;
  const batches = source(tf, {
    batchSize: opts.batchSize,
    shuffle: opts.shuffle ?? true,
    seed: opts.seed ?? 0x5eed,
    weightsOf: classWeight ? (y) => sampleWeights(spec.loss, y, classWeight) : undefined,
    augment: opts.augment,
  });
  // The engines read the training set through this holder, which each window repoints.
  const data: TrainingTensors = { ...batches.initial };
  let engine: TrainEngine;
  try {
    engine = startEngine(tf, model, spec, data, optimizer, opts);
  } catch (e) {
    batches.dispose();
    throw e;
  }
  const validation = validationPass(tf, model, spec, engine, opts);
  const pace = new Pace(engine, opts.stepsPerCall);
  if (opts.resumeFrom) {
    restoreModel(tf, model, opts.resumeFrom.weights);
    await engine.restoreOptimizer(opts.resumeFrom.optimizer);
  }

  const stopper = new EarlyStopper(tf, opts.earlyStopping, !!opts.validation, opts.resumeFrom?.best);
  const start = opts.resumeFrom?.nextEpoch ?? 0;
  const history: FitResult['history'] = [];
  let stopReason: FitResult['stopReason'] = 'completed';
  let finalEpoch = start - 1;
  let samplesSeen = 0;
  const t0 = performance.now();
  try {
    for (let epoch = start; epoch < opts.epochs; epoch++) {
      const learningRate = scheduledLearningRate(baseLr, schedule, epoch, opts.epochs);
      setLearningRate(optimizer, learningRate);
      const trained = await trainEpoch(engine, pace, data, batches.windows(epoch), learningRate, epoch, opts);
      samplesSeen += trained.samples;
      if (trained.cancelled) {
        stopReason = 'cancelled';
        break;
      }
      const logs = await epochLogs(engine, spec, trained.samples, learningRate, validation.apply, opts);
      history.push({ epoch, logs });
      finalEpoch = epoch;
      if (opts.onEpochEnd) await opts.onEpochEnd(epoch, logs);
      const stop = stopper.update(model, epoch, logs);
      if (opts.onCheckpoint && opts.checkpointEvery && (epoch + 1) % opts.checkpointEvery === 0) {
        await opts.onCheckpoint(await captureState(model, engine, epoch + 1, stopper.checkpointBest()));
      }
      if (stop) {
        stopReason = 'earlyStopping';
        break;
      }
    }
    if (stopReason === 'earlyStopping') finalEpoch = stopper.restoreBest(model) ?? finalEpoch;
  } finally {
    batches.dispose();
    stopper.dispose();
    engine.dispose();
    validation.dispose();
    disposeOptimizer(tf, optimizer);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    stopReason,
    epochsRun: history.length,
    finalEpoch,
    bestEpoch: stopper.bestEpoch(),
    history,
    backend: backendInfo(),
    engine: engine.info,
    samplesPerSecond: seconds > 0 ? samplesSeen / seconds : 0,
  };
}

/** The training (and validation) data's sample counts and sizes, and the batch size; returns the sample count. */
function checkFitData(x: ArrayData, y: ArrayData, opts: FitOptions): number {
  const n = checkData('fit: training data', x, y);
  if (!(opts.batchSize >= 1)) throw new Error(`fit: batchSize ${opts.batchSize} must be >= 1`);
  if (opts.validation && 'x' in opts.validation) checkData('fit: validation data', opts.validation.x, opts.validation.y);
  return n;
}

/** The validation pass: a compiled inference function alongside the graph step, else eager. */
function validationPass(tf: Tf, model: LayersModel, spec: TrainModelSpec, engine: TrainEngine, opts: FitOptions) {
  const inference = engine.info.engine === 'graph' && opts.validation ? inferenceFn(tf, model, spec) : null;
  return {
    apply: inference?.apply ?? ((xb: Tensor) => model.apply(xb, { training: false }) as Tensor),
    dispose: () => inference?.dispose(),
  };
}

/** How long one call of several steps may block the event loop (heartbeats, cancellation). */
export const CHUNK_MS = 50;
const MAX_STEPS_PER_CALL = 8;

/**
 * Batches per call for the rest of the run: `opts.stepsPerCall`, else timed from single steps
 * (the first, which compiles the function, is not counted; then the median of three).
 */
class Pace {
  private readonly times: number[] = [];
  private singles = 0;
  private chosen: number | null;

  constructor(
    private readonly engine: TrainEngine,
    stepsPerCall: number | undefined,
  ) {
    this.chosen =
      engine.maxStepsPerCall <= 1 ? 1 : stepsPerCall !== undefined ? Math.max(1, Math.min(stepsPerCall, engine.maxStepsPerCall)) : null;
  }

  /** Steps for the next call (a power of two, so few functions are compiled). */
  next(): number {
    return this.chosen ?? 1;
  }

  /** A single step took `ms`. */
  single(ms: number): void {
    if (this.chosen !== null || this.singles++ === 0) return;
    this.times.push(ms);
    if (this.times.length < 3) return;
    const stepMs = this.times.sort((a, b) => a - b)[1]!;
    const fits = Math.min(MAX_STEPS_PER_CALL, this.engine.maxStepsPerCall, Math.floor(CHUNK_MS / Math.max(stepMs, 1e-3)));
    this.chosen = fits >= 2 ? 2 ** Math.floor(Math.log2(fits)) : 1;
  }
}

/**
 * One epoch's batches, window by window, a call of one or several steps at a time (Pace),
 * yielding to the event loop after each call (heartbeats, cancels, the next part's read); stops
 * before a call once `signal` has aborted. Returns the samples trained on.
 */
async function trainEpoch(
  engine: TrainEngine,
  pace: Pace,
  data: TrainingTensors,
  windows: AsyncIterable<Window>,
  learningRate: number,
  epoch: number,
  opts: FitOptions,
) {
  engine.beginEpoch();
  const bs = opts.batchSize;
  let samples = 0;
  let batch = 0;
  for await (const w of windows) {
    try {
      data.xs = w.xs;
      data.ys = w.ys;
      data.sampleWeights = w.sampleWeights;
      const order = w.order;
      const n = order.length;
      for (let s = 0; s < n; ) {
        if (opts.signal?.aborted) return { samples, cancelled: true };
        // several full batches in one call while enough remain; the rest one by one
        const k = Math.min(pace.next(), Math.floor((n - s) / bs));
        if (k >= 2) {
          const losses = engine.steps(order.subarray(s, s + k * bs), bs, k, learningRate);
          const values = opts.onBatch ? losses.dataSync() : null;
          losses.dispose();
          for (let j = 0; j < k && values; j++) await opts.onBatch!(epoch, batch + j, values[j]!);
          s += k * bs;
          batch += k;
          samples += k * bs;
        } else {
          const size = Math.min(bs, n - s);
          const t0 = performance.now();
          const batchLoss = engine.step(order.subarray(s, s + size), learningRate);
          if (size === bs) pace.single(performance.now() - t0);
          if (opts.onBatch) await opts.onBatch(epoch, batch, batchLoss.dataSync()[0]!);
          batchLoss.dispose();
          s += size;
          batch++;
          samples += size;
        }
        await yieldToEventLoop();
      }
    } finally {
      w.release();
    }
  }
  return { samples, cancelled: false };
}

/** An epoch's logs: mean loss and metrics, the validation pass's as `val_*`, the learning rate. */
async function epochLogs(
  engine: TrainEngine,
  spec: TrainModelSpec,
  n: number,
  learningRate: number,
  validate: (x: Tensor) => Tensor,
  opts: FitOptions,
) {
  const { lossSum, sums } = engine.endEpoch();
  const logs: EpochLogs = { loss: lossSum / n, ...finishMetrics(spec.metrics ?? [], n, sums) };
  const val = opts.validation;
  if (val) {
    const v = await evaluateWith(validate, spec, 'parts' in val ? val.parts : () => onePart(val), opts.batchSize);
    for (const [k, val] of Object.entries(v)) logs[`val_${k}`] = val;
  }
  logs.learningRate = learningRate;
  return logs;
}

/** optimizer.dispose() plus the tensors tfjs forgets (MomentumOptimizer leaks SGD's `c` scalar). */
function disposeOptimizer(tf: Tf, opt: TfModule.Optimizer): void {
  opt.dispose();
  for (const v of Object.values(opt)) if (v instanceof tf.Tensor && !v.isDisposed) v.dispose();
}

async function captureState(
  model: LayersModel,
  engine: TrainEngine,
  nextEpoch: number,
  best: TrainingState['best'],
): Promise<TrainingState> {
  const slots = await engine.snapshotOptimizer();
  return { nextEpoch, weights: await snapshotModel(model), optimizer: slots, ...(best ? { best: { ...best } } : {}) };
}

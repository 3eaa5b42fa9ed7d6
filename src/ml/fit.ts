// The training engine: a custom loop over `optimizer.minimize` (not LayersModel.fit), so that
// cancellation, resume, checkpoints, class weights, logits-aware losses and learning-rate
// schedules live in one small, testable place, and the layers API's per-batch callback overhead
// is avoided (docs/native-tensorflow.md has the measurements).
//
// Native TF ops block the event loop for a whole batch; the loop yields to it after every batch
// so Temporal heartbeats and cancellation get through (per-batch times for the example models
// are in the docs; for bigger ones use fitInWorker from src/ml/fit-worker-host.ts).
import type * as TfModule from '@tensorflow/tfjs';
import { backendInfo, getTf, type BackendInfo } from './backend.ts';
import { finishMetrics, isClassification, metricSums, perSampleLoss } from './losses.ts';
import type { LearningRateScheduleSpec, TrainModelSpec } from './model-spec.ts';
import { baseLearningRate, buildOptimizer, outputKindFor, setLearningRate } from './model.ts';
import { inferenceFn } from './graph/forward.ts';
import { GraphTrainer } from './graph/trainer.ts';

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
  validation?: { x: ArrayData; y: ArrayData };
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
  /** Called after every batch; `loss` is that batch's mean loss. */
  onBatch?: (epoch: number, batch: number, loss: number) => void | Promise<void>;
  checkpointEvery?: number;
  onCheckpoint?: (state: TrainingState) => void | Promise<void>;
  /** Checked before every batch; training stops there and returns stopReason 'cancelled'. */
  signal?: AbortSignal;
  /**
   * How each batch runs. `graph`: the whole step as one TensorFlow function (src/ml/graph/;
   * native backend, supported layers only, else an error); `eager`: tfjs ops one by one;
   * `auto` (default): graph when possible, else eager. MLPIPE_TF_GRAPH=0 forces eager.
   */
  engine?: 'auto' | 'graph' | 'eager';
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
    return { name: w.name, shape: t.shape.slice(), dtype: t.dtype as 'float32' | 'int32', data: t.dataSync().slice() as Float32Array | Int32Array };
  });
}

export function restoreModel(tf: Tf, model: LayersModel, weights: NamedArray[]): void {
  if (weights.length !== model.weights.length) {
    throw new Error(`resume: checkpoint has ${weights.length} weight tensors, the model ${model.weights.length}; was the model spec changed?`);
  }
  const tensors = weights.map((w, i) => {
    const expect = model.weights[i]!.shape.join('x');
    if (w.shape.join('x') !== expect) throw new Error(`resume: weight ${w.name} has shape ${w.shape.join('x')}, the model expects ${expect}`);
    return tf.tensor(w.data, w.shape, w.dtype);
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

async function snapshotOptimizer(opt: TfModule.Optimizer): Promise<NamedArray[]> {
  const named = await opt.getWeights();
  const out = named.map(({ name, tensor }) => ({
    name,
    shape: tensor.shape.slice(),
    dtype: tensor.dtype as 'float32' | 'int32',
    data: tensor.dataSync().slice() as Float32Array | Int32Array,
  }));
  // getWeights returns the slot variables themselves plus a fresh `iter` scalar: free the latter
  const tf = getTf();
  for (const { tensor } of named) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  return out;
}

async function restoreOptimizer(tf: Tf, opt: TfModule.Optimizer, slots: NamedArray[]): Promise<void> {
  if (slots.length === 0) return;
  await opt.setWeights(slots.map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape, s.dtype) })));
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
      throw new Error(`learningRateSchedule.type: unknown ${JSON.stringify((schedule as { type?: unknown }).type)}; use step, exponential or cosine`);
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

/** Mulberry32: a small seeded PRNG for reproducible shuffles. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkData(where: string, x: ArrayData, y: ArrayData): number {
  const n = x.shape[0];
  if (n === undefined || n < 1) throw new Error(`${where}: no samples`);
  if (y.shape[0] !== n) throw new Error(`${where}: x has ${n} samples but y has ${y.shape[0]}`);
  for (const [name, a] of [['x', x], ['y', y]] as const) {
    const size = a.shape.reduce((p, c) => p * c, 1);
    if (size !== a.data.length) throw new Error(`${where}: ${name} has ${a.data.length} values but shape [${a.shape.join(', ')}] needs ${size}`);
  }
  return n;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

function monitorMode(monitor: string, mode: EarlyStopping['mode']): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  return /acc|precision|recall|auc|f1/i.test(monitor) ? 'max' : 'min';
}

/**
 * Evaluate a model on data: mean loss and the spec's metrics. Runs in batches without
 * gradients (one TensorFlow function per batch when the model compiles to a graph), yielding to
 * the event loop between batches; the model is left unchanged.
 */
export async function evaluate(model: LayersModel, spec: TrainModelSpec, x: ArrayData, y: ArrayData, batchSize = 256): Promise<EpochLogs> {
  const inference = inferenceFn(getTf(), model, spec);
  try {
    return await evaluateWith(inference.apply, spec, x, y, batchSize);
  } finally {
    inference.dispose();
  }
}

async function evaluateWith(apply: (x: Tensor) => Tensor, spec: TrainModelSpec, x: ArrayData, y: ArrayData, batchSize: number): Promise<EpochLogs> {
  const tf = getTf();
  const n = checkData('evaluate', x, y);
  const kind = outputKindFor(spec);
  const metrics = spec.metrics ?? [];
  const xs = tf.tensor(x.data, x.shape);
  const ys = tf.tensor(y.data, y.shape);
  let lossSum = 0;
  const sums: Record<string, number | Float32Array> = {};
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      tf.tidy(() => {
        const xb = xs.slice(start, size);
        const yb = ys.slice(start, size);
        const out = apply(xb);
        lossSum += tf.sum(perSampleLoss(tf, spec.loss, out, yb, kind)).dataSync()[0]!;
        for (const [k, t] of Object.entries(metricSums(tf, spec.loss, metrics, out, yb, kind))) addSum(sums, k, t);
      });
      await yieldToEventLoop();
    }
  } finally {
    tf.dispose([xs, ys]);
  }
  return { loss: lossSum / n, ...finishMetrics(metrics, n, sums) };
}

function addSum(sums: Record<string, number | Float32Array>, key: string, t: Tensor): void {
  const v = t.dataSync() as Float32Array;
  if (t.size === 1) sums[key] = ((sums[key] as number | undefined) ?? 0) + v[0]!;
  else {
    const prev = sums[key] as Float32Array | undefined;
    if (!prev) sums[key] = Float32Array.from(v);
    else for (let i = 0; i < v.length; i++) prev[i]! += v[i]!;
  }
}

/**
 * Train `model` (from buildModel) under `spec`'s optimizer, loss, metrics and schedule.
 * Returns when the epochs are done, early stopping fires or `signal` aborts (checked before
 * each batch). The model keeps the final (or, with restoreBestWeights, the best) weights.
 */
export async function fit(model: LayersModel, spec: TrainModelSpec, x: ArrayData, y: ArrayData, opts: FitOptions): Promise<FitResult> {
  const tf = getTf();
  const n = checkData('fit: training data', x, y);
  if (!(opts.batchSize >= 1)) throw new Error(`fit: batchSize ${opts.batchSize} must be >= 1`);
  if (opts.validation) checkData('fit: validation data', opts.validation.x, opts.validation.y);
  const kind = outputKindFor(spec);
  const metrics = spec.metrics ?? [];
  const schedule = opts.learningRateSchedule ?? spec.learningRateSchedule;
  const baseLr = baseLearningRate(spec.optimizer);
  const optimizer = buildOptimizer(spec.optimizer);
  const vars = model.trainableWeights.map((w) => w.read() as TfModule.Variable);
  if (opts.classWeight && !isClassification(spec.loss)) throw new Error(`fit: classWeight needs a classification loss, not ${spec.loss}`);

  const start = opts.resumeFrom?.nextEpoch ?? 0;
  const xs = tf.tensor(x.data, x.shape);
  const ys = tf.tensor(y.data, y.shape);
  const weightsAll = opts.classWeight ? tf.tensor1d(sampleWeights(spec.loss, y, opts.classWeight)) : null;

  let graph: GraphTrainer | null = null;
  let engine: EngineInfo = { engine: 'eager', reason: 'engine: eager requested' };
  if ((opts.engine ?? 'auto') !== 'eager') {
    const made = GraphTrainer.create(tf, model, spec, { xs, ys, sampleWeights: weightsAll }, opts.seed ?? 0x5eed);
    if ('unsupported' in made) {
      if (opts.engine === 'graph') {
        tf.dispose([xs, ys, ...(weightsAll ? [weightsAll] : [])]);
        throw new Error(`fit: engine 'graph' is not possible here: ${made.unsupported}`);
      }
      engine = { engine: 'eager', reason: made.unsupported };
    } else {
      graph = made;
      engine = { engine: 'graph' };
    }
  }
  // the validation pass: a compiled inference function alongside the graph step, else eager
  const inference = graph && opts.validation ? inferenceFn(tf, model, spec) : null;
  const validate = inference?.apply ?? ((xb: Tensor) => model.apply(xb, { training: false }) as Tensor);
  if (opts.resumeFrom) {
    restoreModel(tf, model, opts.resumeFrom.weights);
    if (graph) graph.restoreOptimizer(opts.resumeFrom.optimizer);
    else await restoreOptimizer(tf, optimizer, opts.resumeFrom.optimizer);
  }

  const es = opts.earlyStopping;
  const monitor = es?.monitor ?? (opts.validation ? 'val_loss' : 'loss');
  const mode = monitorMode(monitor, es?.mode);
  const minDelta = Math.abs(es?.minDelta ?? 0);
  let best = opts.resumeFrom?.best ?? { value: mode === 'min' ? Infinity : -Infinity, epoch: -1, wait: 0 };
  let bestWeights: Tensor[] | null = null;
  const history: FitResult['history'] = [];
  let stopReason: FitResult['stopReason'] = 'completed';
  let finalEpoch = start - 1;
  let samplesSeen = 0;
  const t0 = performance.now();
  // the eager loop's running loss sum for the epoch (freed in `finally` if a batch throws)
  let lossSum: Tensor | null = null;

  try {
    epochs: for (let epoch = start; epoch < opts.epochs; epoch++) {
      const learningRate = scheduledLearningRate(baseLr, schedule, epoch, opts.epochs);
      setLearningRate(optimizer, learningRate);
      const order = Int32Array.from({ length: n }, (_, i) => i);
      if (opts.shuffle ?? true) {
        // seeded per epoch, so a run resumed at epoch k sees the same order as an uninterrupted one
        const random = rng((opts.seed ?? 0x5eed) * 1000003 + epoch);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          const t = order[i]!;
          order[i] = order[j]!;
          order[j] = t;
        }
      }
      lossSum = graph ? null : tf.scalar(0); // the graph step sums its loss on the device itself
      const sums: Record<string, number | Float32Array> = {};
      let batch = 0;
      for (let s = 0; s < n; s += opts.batchSize, batch++) {
        if (opts.signal?.aborted) {
          stopReason = 'cancelled';
          break epochs;
        }
        const size = Math.min(opts.batchSize, n - s);
        const batchLoss = graph ? graph.step(order.subarray(s, s + size), learningRate) : tf.tidy(() => {
          const idx = tf.tensor1d(order.subarray(s, s + size), 'int32');
          const xb = tf.gather(xs, idx);
          const yb = tf.gather(ys, idx);
          const wb = weightsAll ? tf.gather(weightsAll, idx) : null;
          let batchSums: Record<string, Tensor> = {};
          const cost = optimizer.minimize(
            () => {
              const out = model.apply(xb, { training: true }) as Tensor;
              let per = perSampleLoss(tf, spec.loss, out, yb, kind);
              if (wb) per = tf.mul(per, wb);
              let loss = tf.mean(per) as TfModule.Scalar;
              for (const reg of regularizationLosses(model)) loss = tf.add(loss, reg);
              if (metrics.length) {
                batchSums = metricSums(tf, spec.loss, metrics, out, yb, kind);
                for (const t of Object.values(batchSums)) tf.keep(t);
              }
              return loss;
            },
            true,
            vars,
          )!;
          // metric sums (a few scalars, kept above) are read back per batch; the loss stays on the
          // device until the epoch ends unless onBatch asks for it
          for (const [k, t] of Object.entries(batchSums)) {
            addSum(sums, k, t);
            t.dispose();
          }
          const next = tf.add(lossSum!, tf.mul(cost, size));
          tf.dispose(lossSum!);
          lossSum = tf.keep(next);
          return cost;
        });
        if (opts.onBatch) await opts.onBatch(epoch, batch, batchLoss.dataSync()[0]!);
        batchLoss.dispose();
        samplesSeen += size;
        await yieldToEventLoop();
      }
      if (graph) {
        // the graph step summed loss and metrics on the device; one read per epoch
        Object.assign(sums, graph.readAccumulators());
        graph.resetAccumulators();
      }
      const logs: EpochLogs = { loss: (lossSum ? lossSum.dataSync()[0]! : (sums.loss as number)) / n, ...finishMetrics(metrics, n, sums) };
      if (lossSum) tf.dispose(lossSum);
      lossSum = null;
      if (opts.validation) {
        const v = await evaluateWith(validate, spec, opts.validation.x, opts.validation.y, opts.batchSize);
        for (const [k, val] of Object.entries(v)) logs[`val_${k}`] = val;
      }
      logs.learningRate = scheduledLearningRate(baseLr, schedule, epoch, opts.epochs);
      history.push({ epoch, logs });
      finalEpoch = epoch;
      if (opts.onEpochEnd) await opts.onEpochEnd(epoch, logs);

      let stop = false;
      if (es) {
        const current = logs[monitor];
        if (current === undefined) {
          throw new Error(`earlyStopping.monitor: '${monitor}' is not logged; available: ${Object.keys(logs).join(', ')}`);
        }
        const improved = mode === 'min' ? current < best.value - minDelta : current > best.value + minDelta;
        if (improved) {
          best = { value: current, epoch, wait: 0 };
          if (es.restoreBestWeights) {
            tf.dispose(bestWeights ?? []);
            bestWeights = model.getWeights().map((w) => tf.keep(w.clone()));
          }
        } else if (++best.wait >= Math.max(1, es.patience ?? 0)) {
          stop = true;
        }
      }
      if (opts.onCheckpoint && opts.checkpointEvery && (epoch + 1) % opts.checkpointEvery === 0) {
        await opts.onCheckpoint(await captureState(model, graph ?? optimizer, epoch + 1, es ? best : undefined));
      }
      if (stop) {
        stopReason = 'earlyStopping';
        break;
      }
    }
    if (stopReason === 'earlyStopping' && bestWeights) {
      model.setWeights(bestWeights);
      finalEpoch = best.epoch;
    }
  } finally {
    tf.dispose([xs, ys, ...(weightsAll ? [weightsAll] : []), ...(bestWeights ?? []), ...(lossSum ? [lossSum] : [])]);
    graph?.dispose();
    inference?.dispose();
    disposeOptimizer(tf, optimizer);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    stopReason,
    epochsRun: history.length,
    finalEpoch,
    bestEpoch: es && best.epoch >= 0 ? best.epoch : null,
    history,
    backend: backendInfo(),
    engine,
    samplesPerSecond: seconds > 0 ? samplesSeen / seconds : 0,
  };
}

/**
 * The model's regularisation terms. tfjs's calculateLosses() misses those of recurrent layers'
 * cells (an LSTM's kernelRegularizer would silently do nothing), so they are added here.
 */
function regularizationLosses(model: LayersModel): TfModule.Scalar[] {
  const out = model.calculateLosses() as TfModule.Scalar[];
  for (const layer of model.layers) {
    const cell = (layer as unknown as { cell?: TfModule.layers.Layer }).cell;
    if (cell) out.push(...(cell.calculateLosses() as TfModule.Scalar[]));
  }
  return out;
}

/** optimizer.dispose() plus the tensors tfjs forgets (MomentumOptimizer leaks SGD's `c` scalar). */
function disposeOptimizer(tf: Tf, opt: TfModule.Optimizer): void {
  opt.dispose();
  for (const v of Object.values(opt)) if (v instanceof tf.Tensor && !v.isDisposed) v.dispose();
}

async function captureState(model: LayersModel, optimizer: TfModule.Optimizer | GraphTrainer, nextEpoch: number, best: TrainingState['best']): Promise<TrainingState> {
  const slots = optimizer instanceof GraphTrainer ? optimizer.snapshotOptimizer() : await snapshotOptimizer(optimizer);
  return { nextEpoch, weights: await snapshotModel(model), optimizer: slots, ...(best ? { best: { ...best } } : {}) };
}

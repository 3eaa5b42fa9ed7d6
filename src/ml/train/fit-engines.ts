// The two ways fit() runs a batch. `graph`: the whole step as one TensorFlow function
// (src/ml/train/graph/trainer.ts) that also sums the epoch's loss and metrics on the device; `eager`:
// tfjs ops one by one under optimizer.minimize, summing on the host per batch. fit() drives
// either through TrainEngine and keeps the epochs, callbacks, early stopping and checkpoints.
import type * as TfModule from '@tensorflow/tfjs';
import type { EngineInfo, FitOptions, NamedArray } from './fit.ts';
import { GraphTrainer } from './graph/trainer.ts';
import { metricSums, perSampleLoss } from './losses.ts';
import type { TrainModelSpec } from './model-spec.ts';
import { outputKindFor } from './model.ts';

type Tf = typeof TfModule;
type Tensor = TfModule.Tensor;
type LayersModel = TfModule.LayersModel;

/** Loss and metric sums over an epoch's samples: scalars, or a confusion matrix. */
export type Sums = Record<string, number | Float32Array>;

/** The training set on the device, with per-sample loss weights from class weights. */
export interface TrainingTensors {
  xs: Tensor;
  ys: Tensor;
  sampleWeights: Tensor | null;
}

export function disposeTrainingTensors(tf: Tf, data: TrainingTensors): void {
  tf.dispose([data.xs, data.ys, ...(data.sampleWeights ? [data.sampleWeights] : [])]);
}

export interface TrainEngine {
  readonly info: EngineInfo;
  /** Start the epoch's loss and metric sums. */
  beginEpoch(): void;
  /** Train on the samples at `indices`; returns the batch's mean loss, a scalar the caller frees. */
  step(indices: Int32Array, learningRate: number): Tensor;
  /** The most batches `steps` may run in one call (1: it cannot). */
  readonly maxStepsPerCall: number;
  /** `count` batches of `batchSize` (the samples at `indices` in order) in one call; the losses [count]. */
  steps(indices: Int32Array, batchSize: number, count: number, learningRate: number): Tensor;
  /** The epoch's loss sum and metric sums (read back once), and zero them for the next epoch. */
  endEpoch(): { lossSum: number; sums: Sums };
  /** Optimizer state in tfjs's format (`iter`, then the slots), so either engine can resume it. */
  snapshotOptimizer(): Promise<NamedArray[]>;
  restoreOptimizer(slots: NamedArray[]): Promise<void>;
  /** Free the engine's own tensors (not the training set's, which the caller owns). */
  dispose(): void;
}

/**
 * The graph engine when `opts.engine` allows it and the model compiles, else the eager one with
 * the reason. `engine: 'graph'` that cannot compile frees the training set and throws.
 */
export function startEngine(
  tf: Tf,
  model: LayersModel,
  spec: TrainModelSpec,
  data: TrainingTensors,
  optimizer: TfModule.Optimizer,
  opts: FitOptions,
): TrainEngine {
  if ((opts.engine ?? 'auto') === 'eager')
    return new EagerEngine(tf, model, spec, data, optimizer, { engine: 'eager', reason: 'engine: eager requested' });
  const made = GraphTrainer.create(tf, model, spec, data, opts.seed ?? 0x5eed);
  if (!('unsupported' in made)) return new GraphEngine(made);
  if (opts.engine === 'graph') {
    disposeTrainingTensors(tf, data);
    throw new Error(`fit: engine 'graph' is not possible here: ${made.unsupported}`);
  }
  return new EagerEngine(tf, model, spec, data, optimizer, { engine: 'eager', reason: made.unsupported });
}

class GraphEngine implements TrainEngine {
  readonly info: EngineInfo = { engine: 'graph' };

  constructor(private readonly trainer: GraphTrainer) {}

  beginEpoch(): void {} // the step's accumulators start at zero and are zeroed in endEpoch

  step(indices: Int32Array, learningRate: number): Tensor {
    return this.trainer.step(indices, learningRate);
  }

  get maxStepsPerCall(): number {
    return this.trainer.maxStepsPerCall;
  }

  steps(indices: Int32Array, batchSize: number, count: number, learningRate: number): Tensor {
    return this.trainer.steps(indices, batchSize, count, learningRate);
  }

  endEpoch() {
    const sums = this.trainer.readAccumulators();
    this.trainer.resetAccumulators();
    return { lossSum: sums.loss as number, sums };
  }

  async snapshotOptimizer() {
    return this.trainer.snapshotOptimizer();
  }

  async restoreOptimizer(slots: NamedArray[]) {
    this.trainer.restoreOptimizer(slots);
  }

  dispose(): void {
    this.trainer.dispose();
  }
}

class EagerEngine implements TrainEngine {
  private readonly vars: TfModule.Variable[];
  private readonly kind: ReturnType<typeof outputKindFor>;
  /** The epoch's running loss sum, on the device until the epoch ends. */
  private lossSum: Tensor | null = null;
  private sums: Sums = {};

  constructor(
    private readonly tf: Tf,
    private readonly model: LayersModel,
    private readonly spec: TrainModelSpec,
    private readonly data: TrainingTensors,
    private readonly optimizer: TfModule.Optimizer,
    readonly info: EngineInfo,
  ) {
    this.vars = model.trainableWeights.map((w) => w.read() as TfModule.Variable);
    this.kind = outputKindFor(spec);
  }

  readonly maxStepsPerCall = 1;

  steps(): Tensor {
    throw new Error('the eager engine runs one batch per call');
  }

  beginEpoch(): void {
    this.lossSum = this.tf.scalar(0);
    this.sums = {};
  }

  step(indices: Int32Array): Tensor {
    const { tf, model, spec, kind, data } = this;
    const metrics = spec.metrics ?? [];
    const size = indices.length;
    return tf.tidy(() => {
      const idx = tf.tensor1d(indices, 'int32');
      const xb = tf.gather(data.xs, idx);
      const yb = tf.gather(data.ys, idx);
      const wb = data.sampleWeights ? tf.gather(data.sampleWeights, idx) : null;
      let batchSums: Record<string, Tensor> = {};
      const cost = this.optimizer.minimize(
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
        this.vars,
      )!;
      // metric sums (a few scalars, kept above) are read back per batch; the loss stays on the
      // device until the epoch ends unless onBatch asks for it
      for (const [k, t] of Object.entries(batchSums)) {
        addSum(this.sums, k, t);
        t.dispose();
      }
      const next = tf.add(this.lossSum!, tf.mul(cost, size));
      tf.dispose(this.lossSum!);
      this.lossSum = tf.keep(next);
      return cost;
    });
  }

  endEpoch() {
    const lossSum = this.lossSum!.dataSync()[0]!;
    this.tf.dispose(this.lossSum!);
    this.lossSum = null;
    return { lossSum, sums: this.sums };
  }

  async snapshotOptimizer(): Promise<NamedArray[]> {
    const named = await this.optimizer.getWeights();
    const out = named.map(({ name, tensor }) => ({
      name,
      shape: tensor.shape.slice(),
      dtype: tensor.dtype as 'float32' | 'int32',
      data: tensor.dataSync().slice() as Float32Array | Int32Array,
    }));
    // getWeights returns the slot variables themselves plus a fresh `iter` scalar: free the latter
    for (const { tensor } of named) if (!(tensor instanceof this.tf.Variable)) tensor.dispose();
    return out;
  }

  async restoreOptimizer(slots: NamedArray[]): Promise<void> {
    if (slots.length === 0) return;
    await this.optimizer.setWeights(slots.map((s) => ({ name: s.name, tensor: this.tf.tensor(s.data, s.shape, s.dtype) })));
  }

  /** A batch that threw mid-epoch leaves its running loss sum behind. */
  dispose(): void {
    if (this.lossSum) this.tf.dispose(this.lossSum);
    this.lossSum = null;
  }
}

/** Add a batch's metric sum (a scalar, or a confusion matrix) into the epoch's. */
export function addSum(sums: Sums, key: string, t: Tensor): void {
  const v = t.dataSync() as Float32Array;
  if (t.size === 1) sums[key] = ((sums[key] as number | undefined) ?? 0) + v[0]!;
  else {
    const prev = sums[key] as Float32Array | undefined;
    if (!prev) sums[key] = Float32Array.from(v);
    else for (let i = 0; i < v.length; i++) prev[i]! += v[i]!;
  }
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

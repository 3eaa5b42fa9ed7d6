// Runs the compiled training step (train-step.ts) batch after batch on the native backend:
// registers the function once, keeps optimizer slots and epoch accumulators as device tensors,
// writes each step's new weights into the model's variables (a pointer swap, no copy), and
// speaks the eager optimizer's checkpoint format so a run can resume on either path.
import type * as TfModule from '@tensorflow/tfjs';
import type { TrainModelSpec } from '../model-spec.ts';
import type { NamedArray } from '../fit.ts';
import { compileTrainStep, type TrainStepProgram } from './train-step.ts';
import { compileMultiStep, MAX_CHUNK_NODES, type MultiStepProgram } from './multi-step.ts';
import type { DType } from './function-def.ts';

type Tf = typeof TfModule;
type Tensor = TfModule.Tensor;

interface FunctionBinding {
  addFunctionDef(bytes: Uint8Array): void;
  removeFunction(name: string): void;
  TF_ATTR_STRING: number;
}
export interface NativeBackend {
  binding: Partial<FunctionBinding>;
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: Tensor[], numOutputs: number): Tensor[];
}

/** Why the graph step cannot run in this process, or null when it can. */
export function graphStepUnavailable(tf: Tf): string | null {
  if (process.env.MLPIPE_TF_GRAPH === '0') return 'MLPIPE_TF_GRAPH=0';
  const name = tf.getBackend();
  if (name !== 'tensorflow') return `backend ${name} (graph steps need tfjs-node)`;
  const b = tf.backend() as unknown as NativeBackend;
  if (typeof b.binding?.addFunctionDef !== 'function') {
    return "tfjs-node's addon lacks addFunctionDef: run 'bash scripts/setup-native.sh' to rebuild it (docs/native-tensorflow.md)";
  }
  return null;
}

/**
 * Functions up to this many ops run through grappler (graphOptimizerAttrs). Its time grows
 * faster than the graph: a 2-layer LSTM unrolled over 50 steps (3,200 ops) took 7.5 s to
 * compile with it against 2.6 s without (on a loaded machine), for fusions recurrent cells
 * hardly have; the LeNet step (114 ops, 16 unrolled: 1,800) gains the fused kernels.
 */
export const GRAPPLER_MAX_NODES = 2000;

/**
 * The attributes that make TensorFlow optimise a function it runs eagerly. Eager execution runs
 * grappler (constant folding, arithmetic simplification, the remapper's fused kernels, ...) on a
 * called function only when the call carries `config_proto` and `executor_type` attributes, as
 * Python's function calls do (tensorflow/core/common_runtime/eager/kernel_and_device.cc); without
 * them only the always-on passes run (oneDNN's layout rewrite). Empty values: the defaults.
 */
export function graphOptimizerAttrs(backend: NativeBackend): unknown[] {
  const type = backend.binding.TF_ATTR_STRING!;
  return [
    { name: 'config_proto', type, value: '' },
    { name: 'executor_type', type, value: '' },
  ];
}

/** A TensorFlow error inside the step function, with the binding's status prefix removed. */
export class GraphStepError extends Error {
  constructor(step: number, tfMessage: string) {
    const text = tfMessage.replace(/^Invalid TF_Status: \d+\s*Message:\s*/, '').replace(/\{\{function_node [^}]*\}\}\s*/g, '');
    super(`training step ${step + 1} failed in TensorFlow: ${text}`);
    this.name = 'GraphStepError';
  }
}

export class GraphTrainer {
  private readonly backend: NativeBackend;
  private slots: Tensor[];
  private accs: Tensor[] = [];
  private iteration = 0;
  private seedBase: number;
  /** The K-steps-per-call functions by K, compiled and registered on first use. */
  private readonly multi = new Map<number, MultiStepProgram>();

  private constructor(
    private readonly tf: Tf,
    private readonly program: TrainStepProgram,
    private readonly variables: TfModule.Variable[],
    private readonly frozen: TfModule.Variable[],
    private readonly state: TfModule.Variable[],
    private readonly data: { xs: Tensor; ys: Tensor; sampleWeights: Tensor | null },
    seed: number,
  ) {
    this.backend = tf.backend() as unknown as NativeBackend;
    this.backend.binding.addFunctionDef!(program.bytes);
    this.slots = program.slots.map((s) => tf.fill(s.shape, s.init, 'float32'));
    this.seedBase = seed | 0;
    this.resetAccumulators();
  }

  /** A trainer for this model and data, or the reason training must take the eager path. */
  static create(
    tf: Tf,
    model: TfModule.LayersModel,
    spec: TrainModelSpec,
    data: { xs: Tensor; ys: Tensor; sampleWeights: Tensor | null },
    seed: number,
  ): GraphTrainer | { unsupported: string } {
    const why = graphStepUnavailable(tf);
    if (why) return { unsupported: why };
    const program = compileTrainStep(model, spec, {
      xDtype: data.xs.dtype as DType,
      yDtype: data.ys.dtype as DType,
      sampleWeights: data.sampleWeights !== null,
    });
    if ('unsupported' in program) return program;
    const variables = model.trainableWeights.map((w) => w.read() as TfModule.Variable);
    const frozen = program.frozenWeights.map((w) => w.read() as TfModule.Variable);
    const state = program.stateWeights.map((w) => w.read() as TfModule.Variable);
    return new GraphTrainer(tf, program, variables, frozen, state, data, seed);
  }

  /** One step on the samples at `indices`; returns the batch's mean loss (a device scalar). */
  step(indices: Int32Array, learningRate: number): Tensor {
    const tf = this.tf;
    const p = this.program;
    const perStep = [
      tf.tensor1d(indices, 'int32'),
      tf.tensor1d(p.hyper(learningRate, this.iteration), 'float32'),
      ...(p.usesSeed ? [tf.tensor1d([this.seedBase, this.iteration], 'int32')] : []),
    ];
    const outputs = this.run(p.name, perStep, p.outputCount, p.nodeCount);
    this.iteration++;
    return outputs[0]!;
  }

  /** The most steps one call may run: the unrolled function stays under MAX_CHUNK_NODES ops. */
  get maxStepsPerCall(): number {
    return Math.max(1, Math.floor(MAX_CHUNK_NODES / this.program.nodeCount));
  }

  /**
   * `count` steps of `batchSize` samples each, the samples at `indices` in order, in one call
   * (multi-step.ts); the same as `count` calls of step(). Returns the batch losses [count].
   */
  steps(indices: Int32Array, batchSize: number, count: number, learningRate: number): Tensor {
    const tf = this.tf;
    const p = this.program;
    if (indices.length !== batchSize * count) throw new Error(`steps: ${indices.length} indices for ${count} batches of ${batchSize}`);
    let multi = this.multi.get(count);
    if (!multi) {
      multi = compileMultiStep(p, count);
      this.backend.binding.addFunctionDef!(multi.bytes);
      this.multi.set(count, multi);
    }
    const hyper = Array.from({ length: count }, (_, k) => p.hyper(learningRate, this.iteration + k));
    const perStep = [
      tf.tensor2d(indices, [count, batchSize], 'int32'),
      tf.tensor2d(Float32Array.from(hyper.flat()), [count, hyper[0]!.length], 'float32'),
      ...(p.usesSeed
        ? [
            tf.tensor2d(
              Int32Array.from({ length: 2 * count }, (_, j) => (j % 2 ? this.iteration + (j >> 1) : this.seedBase)),
              [count, 2],
              'int32',
            ),
          ]
        : []),
    ];
    const outputs = this.run(multi.name, perStep, p.outputCount, p.nodeCount * count);
    this.iteration += count;
    return outputs[0]!;
  }

  /** Run `fn` (one step or a chunk) on the per-step inputs (idx, hyper, [seed]) and take its new state. */
  private run(fn: string, perStep: Tensor[], outputCount: number, nodes: number): Tensor[] {
    const tf = this.tf;
    const optimise = nodes <= GRAPPLER_MAX_NODES && process.env.MLPIPE_TF_GRAPPLER !== '0';
    const p = this.program;
    const inputs: Tensor[] = [this.data.xs, this.data.ys, perStep[0]!];
    if (p.usesSampleWeights) inputs.push(this.data.sampleWeights!);
    inputs.push(...perStep.slice(1));
    inputs.push(...this.variables, ...this.frozen, ...this.state, ...this.slots, ...this.accs);
    let outputs: Tensor[];
    try {
      outputs = this.backend.executeMultipleOutputs(fn, optimise ? graphOptimizerAttrs(this.backend) : [], inputs, outputCount);
    } catch (e) {
      throw new GraphStepError(this.iteration, (e as Error).message);
    } finally {
      tf.dispose(perStep);
    }
    let k = 1;
    for (const v of [...this.variables, ...this.state]) {
      const next = outputs[k++]!;
      v.assign(next);
      next.dispose();
    }
    const slotCount = this.slots.length;
    tf.dispose(this.slots);
    this.slots = outputs.slice(k, k + slotCount);
    k += slotCount;
    tf.dispose(this.accs);
    this.accs = outputs.slice(k);
    return outputs;
  }

  /** Zero the epoch's loss and metric sums. */
  resetAccumulators(): void {
    this.tf.dispose(this.accs);
    this.accs = this.program.accumulators.map((a) => this.tf.zeros(a.shape, 'float32'));
  }

  /** The epoch's sums so far, read back from the device: loss sum, correct, confusion, ... */
  readAccumulators(): Record<string, number | Float32Array> {
    const out: Record<string, number | Float32Array> = {};
    this.program.accumulators.forEach((a, i) => {
      const v = this.accs[i]!.dataSync() as Float32Array;
      out[a.key] = a.shape.length === 0 ? v[0]! : Float32Array.from(v);
    });
    return out;
  }

  /** Optimizer state in tfjs's format: `iter`, then the slots, so checkpoints work on both paths. */
  snapshotOptimizer(): NamedArray[] {
    const iter: NamedArray = { name: 'iter', shape: [], dtype: 'int32', data: Int32Array.of(this.iteration) };
    return [
      iter,
      ...this.program.slots.map((s, i) => ({
        name: s.name,
        shape: s.shape.slice(),
        dtype: 'float32' as const,
        data: (this.slots[i]!.dataSync() as Float32Array).slice(),
      })),
    ];
  }

  restoreOptimizer(state: NamedArray[]): void {
    if (state.length === 0) return;
    const [iter, ...slots] = state;
    if (iter?.name !== 'iter' || slots.length !== this.slots.length) {
      throw new Error(
        `resume: the checkpoint's optimizer state has ${slots.length} slots, this ` +
          `optimizer ${this.slots.length}; was the optimizer changed?`,
      );
    }
    slots.forEach((s, i) => {
      const want = this.program.slots[i]!.shape.join('x');
      if (s.shape.join('x') !== want) throw new Error(`resume: optimizer slot ${s.name} has shape ${s.shape.join('x')}, expected ${want}`);
    });
    this.tf.dispose(this.slots);
    this.slots = slots.map((s) => this.tf.tensor(s.data, s.shape, 'float32'));
    this.iteration = iter.data[0]!;
  }

  dispose(): void {
    this.tf.dispose([...this.slots, ...this.accs]);
    this.slots = [];
    this.accs = [];
    // the multi-step functions first: they call the step function
    for (const m of this.multi.values()) this.backend.binding.removeFunction?.(m.name);
    this.multi.clear();
    this.backend.binding.removeFunction?.(this.program.name);
  }
}

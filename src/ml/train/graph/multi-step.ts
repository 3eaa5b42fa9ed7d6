// Several training steps in one TensorFlow call: a function that calls the compiled step
// (train-step.ts) K times in a row on K batches staged as one [K, B] index tensor, each call
// taking the weights, optimizer slots and epoch sums the previous one returned, and returns the K
// batch losses. One call from JavaScript then does the work of K: the per-call costs (building
// the op, ~30 input handles, wrapping and swapping ~20 outputs, TensorFlow's function dispatch)
// are paid once per chunk. Each call is the very same step function with the inputs the
// single-step path would give it, so K steps per call train exactly as K single calls (tested).
//
// The calls are unrolled (TensorFlow inlines them: the graph is K steps long) rather than run in
// a `While` loop: the loop, tried first, took twice the CPU time per step of single calls for the
// LeNet (its body is not optimised as the step is), the unrolled chunk ~20% less. Unrolling costs
// graph size, so fit() bounds K by the step's node count (MAX_CHUNK_NODES).
import { FunctionBuilder, type Ref } from './function-def.ts';
import { Ops } from './ops.ts';
import type { TrainStepProgram } from './train-step.ts';

/** Steps times the step's nodes a chunk function may hold (TensorFlow's optimiser takes superlinear time on big graphs). */
export const MAX_CHUNK_NODES = 4000;

export interface MultiStepProgram {
  name: string;
  steps: number;
  bytes: Uint8Array;
}

/** Where the per-step inputs sit among the step's arguments. */
function perStepInputs(step: TrainStepProgram) {
  const hyper = step.usesSampleWeights ? 4 : 3;
  const seed = step.usesSeed ? hyper + 1 : -1;
  return { idx: 2, hyper, seed, weights: (step.usesSeed ? seed : hyper) + 1 };
}

/**
 * The K-step function of `step`. It takes the step's inputs with `idx` [B] → `idxs` [K, B],
 * `hyper` [H] → `hypers` [K, H] and `seed` [2] → `seeds` [K, 2] (row k for the k-th step), and
 * returns the step's outputs with the loss as `losses` [K].
 */
export function compileMultiStep(step: TrainStepProgram, steps: number): MultiStepProgram {
  const at = perStepInputs(step);
  const args = step.signature.inputs;
  const frozen = step.frozenWeights.length;
  // the step's outputs after the loss replace these arguments, in order: the weights, then
  // (skipping the frozen weights) state, slots and accumulators
  const carried = [
    ...Array.from({ length: step.weightCount }, (_, j) => at.weights + j),
    ...Array.from({ length: args.length - at.weights - step.weightCount - frozen }, (_, j) => at.weights + step.weightCount + frozen + j),
  ];
  if (carried.length !== step.outputCount - 1)
    throw new Error(`multi-step: ${carried.length} carried inputs for ${step.outputCount - 1} outputs`);
  const g = new FunctionBuilder(`${step.name}_x${steps}`);
  const o = new Ops(g);
  let v: Ref[] = args.map((a) => g.input(a.name, a.dtype));
  const [idxs, hypers] = [v[at.idx]!, v[at.hyper]!];
  const seeds = at.seed >= 0 ? v[at.seed]! : null;
  const losses: Ref[] = [];
  for (let k = 0; k < steps; k++) {
    const row = o.constI([k]);
    const callArgs = [...v];
    callArgs[at.idx] = o.gather(idxs, row, 'int32');
    callArgs[at.hyper] = o.gather(hypers, row, 'float32');
    if (seeds) callArgs[at.seed] = o.gather(seeds, row, 'int32');
    const out = g.node(
      step.name,
      callArgs,
      {},
      step.signature.outputs.map((r) => r.name),
      `step${k}`,
    );
    losses.push(out[0]!);
    const next = [...v];
    carried.forEach((arg, j) => (next[arg] = out[1 + j]!));
    v = next;
  }
  g.output('losses', 'float32', o.pack(losses, 0));
  for (const arg of carried) g.output(args[arg]!.name, args[arg]!.dtype, v[arg]!);
  return { name: g.name, steps, bytes: g.encode() };
}

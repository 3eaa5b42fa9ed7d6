// The optimizers' update formulas as graph ops, written as tfjs computes them (same slot names,
// same order, same epsilon defaults), so the graph step trains as the eager loop does and a
// checkpoint written by one engine resumes on the other.
import type { OptimizerSpec } from '../model-spec.ts';
import type { Ref } from './function-def.ts';
import type { Ops } from './ops.ts';

/** One weight's update: its new value and its new slots, in the optimizer's slot order. */
export interface WeightUpdate {
  weight: Ref;
  slots: Ref[];
}

export interface GraphOptimizer {
  /** Slot kinds per weight, in tfjs's order (all weights' first slot, then all weights' second…). */
  slotKinds: Array<{ suffix: string; init: number }>;
  /** The per-step scalars the step reads from `hyper` (learning rate first). */
  hyper(learningRate: number, iteration: number): number[];
  /**
   * Emit the update of weight `w` from its gradient `gr` and its current slots; `lr` is the
   * step's learning rate and `hyperIn` the whole `hyper` input (adam's bias corrections).
   */
  update(o: Ops, w: Ref, gr: Ref, slots: Ref[], lr: Ref, hyperIn: Ref): WeightUpdate;
}

/** The graph form of `opt`, or why it has none. */
export function graphOptimizer(opt: OptimizerSpec): GraphOptimizer | { unsupported: string } {
  switch (opt.type) {
    case 'sgd':
      return sgd(opt);
    case 'adam':
      return adam(opt);
    case 'rmsprop':
      return rmsprop(opt);
    case 'adagrad':
      return adagrad(opt);
    default:
      return { unsupported: `optimizer ${(opt as { type?: string }).type}` };
  }
}

const c = (o: Ops, v: number) => o.constF([v]);
const plainRate = (rate: number) => [rate];

function sgd(opt: Extract<OptimizerSpec, { type: 'sgd' }>): GraphOptimizer {
  return {
    slotKinds: opt.momentum ? [{ suffix: 'momentum', init: 0 }] : [],
    hyper: plainRate,
    update(o, w, gr, slots, lr) {
      if (!opt.momentum) return { weight: o.sub(w, o.mul(lr, gr)), slots: [] };
      const acc = o.add(o.mul(slots[0]!, c(o, opt.momentum)), gr);
      const step = opt.nesterov ? o.add(gr, o.mul(acc, c(o, opt.momentum))) : acc;
      return { weight: o.sub(w, o.mul(lr, step)), slots: [acc] };
    },
  };
}

function adam(opt: Extract<OptimizerSpec, { type: 'adam' }>): GraphOptimizer {
  const b1 = opt.beta1 ?? 0.9;
  const b2 = opt.beta2 ?? 0.999;
  return {
    slotKinds: [
      { suffix: 'm', init: 0 },
      { suffix: 'v', init: 0 },
    ],
    // the bias corrections 1 - β^(t+1) are computed on the host, once per step
    hyper: (rate, it) => [rate, 1 - b1 ** (it + 1), 1 - b2 ** (it + 1)],
    update(o, w, gr, slots, lr, hyperIn) {
      const m = o.add(o.mul(slots[0]!, c(o, b1)), o.mul(gr, c(o, 1 - b1)));
      const v = o.add(o.mul(slots[1]!, c(o, b2)), o.mul(o.square(gr), c(o, 1 - b2)));
      const mHat = o.div(m, o.element(hyperIn, 1));
      const vHat = o.div(v, o.element(hyperIn, 2));
      return { weight: o.sub(w, o.mul(o.div(mHat, o.add(o.sqrt(vHat), c(o, opt.epsilon ?? 1e-7))), lr)), slots: [m, v] };
    },
  };
}

function rmsprop(opt: Extract<OptimizerSpec, { type: 'rmsprop' }>): GraphOptimizer {
  return {
    slotKinds: [
      { suffix: 'rms', init: 0 },
      { suffix: 'momentum', init: 0 },
    ],
    hyper: plainRate,
    update(o, w, gr, slots, lr) {
      const rho = opt.rho ?? 0.9;
      const ms = o.add(o.mul(slots[0]!, c(o, rho)), o.mul(o.square(gr), c(o, 1 - rho)));
      const mom = o.add(o.mul(slots[1]!, c(o, opt.momentum ?? 0)), o.div(o.mul(gr, lr), o.sqrt(o.add(ms, c(o, opt.epsilon ?? 1e-7)))));
      return { weight: o.sub(w, mom), slots: [ms, mom] };
    },
  };
}

function adagrad(opt: Extract<OptimizerSpec, { type: 'adagrad' }>): GraphOptimizer {
  return {
    slotKinds: [{ suffix: 'accumulator', init: opt.initialAccumulatorValue ?? 0.1 }],
    hyper: plainRate,
    update(o, w, gr, slots, lr) {
      const acc = o.add(slots[0]!, o.square(gr));
      return { weight: o.sub(w, o.mul(o.div(gr, o.sqrt(o.add(acc, c(o, 1e-7)))), lr)), slots: [acc] };
    },
  };
}

// ASHA, asynchronous successive halving (Li et al. 2018), in its early-stopping form (as Optuna's
// SuccessiveHalvingPruner and Ray Tune's ASHAScheduler): rung k sits at step
// minResource · eta^(s + k); a trial that reaches a rung goes on only while its value there is in
// the top 1/eta of the values every trial has reported at that rung so far, itself included. The
// decision is taken when the trial's own result arrives, against whatever has arrived before it,
// never waiting for the rung to fill: the first trial at a rung always goes on.
//
// shouldPrune is a pure function of the reported intermediate values, so it can run anywhere the
// trial table is known (a workflow reading heartbeats): the same table gives the same answer.
import { reportedSteps, type Direction, type Trial } from './trials.ts';

export interface AshaOptions {
  /** Steps (epochs) before the first rung (default 1). */
  minResource?: number;
  /** eta: one in eta trials goes on at each rung (default 4, as Optuna and Ray Tune). */
  reductionFactor?: number;
  /** s: the first rung at minResource · eta^s (default 0). */
  minEarlyStoppingRate?: number;
  /** Trials that must have reached a rung before any goes on from it (default 0). */
  bootstrapCount?: number;
}

export class AshaOptionsError extends Error {}

export function checkAshaOptions(o: AshaOptions): void {
  const whole = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min))
      throw new AshaOptionsError(`asha: ${name} must be a whole number of at least ${min} (got ${v})`);
  };
  whole('minResource', o.minResource, 1);
  whole('reductionFactor', o.reductionFactor, 2);
  whole('minEarlyStoppingRate', o.minEarlyStoppingRate, 0);
  whole('bootstrapCount', o.bootstrapCount, 0);
}

/** The step of rung k. */
export function rungStep(k: number, o: AshaOptions = {}): number {
  const eta = o.reductionFactor ?? 4;
  return (o.minResource ?? 1) * eta ** ((o.minEarlyStoppingRate ?? 0) + k);
}

/** A trial's value at a rung: what it reported at the first step at or past the rung's. */
function valueAtRung(t: Trial, step: number): number | undefined {
  const at = reportedSteps(t).find((s) => s >= step);
  return at === undefined ? undefined : t.intermediate![String(at)];
}

/**
 * Whether trial `trialId`, reporting `value` at `step`, stops here. Every rung passed since its
 * previous report in `history` is judged in turn; `history` may or may not hold this report.
 */
export function shouldPrune(
  trialId: number,
  step: number,
  value: number,
  history: readonly Trial[],
  o: AshaOptions & { direction: Direction },
): boolean {
  const self = history.find((t) => t.id === trialId);
  const previous = self
    ? (reportedSteps(self)
        .filter((s) => s < step)
        .pop() ?? 0)
    : 0;
  const others = history.filter((t) => t.id !== trialId);
  const eta = o.reductionFactor ?? 4;
  for (let k = 0; rungStep(k, o) <= step; k++) {
    const at = rungStep(k, o);
    if (at <= previous) continue;
    if (Number.isNaN(value)) return true;
    const competing = [value];
    for (const t of others) {
      const v = valueAtRung(t, at);
      if (v !== undefined && !Number.isNaN(v)) competing.push(v);
    }
    if (competing.length <= (o.bootstrapCount ?? 0)) return true;
    if (!promotable(value, competing, eta, o.direction)) return true;
  }
  return false;
}

/** In the top 1/eta of `competing` (at least the best one of them goes on). */
function promotable(value: number, competing: number[], eta: number, direction: Direction): boolean {
  const k = Math.max(0, Math.floor(competing.length / eta) - 1);
  const sorted = competing.slice().sort((a, b) => a - b);
  return direction === 'maximize' ? value >= sorted[sorted.length - 1 - k]! : value <= sorted[k]!;
}

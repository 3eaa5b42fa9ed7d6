// The trial table: the whole state of a search. Samplers and the pruner read nothing else, so a
// search resumed from a persisted table continues exactly as the uninterrupted one would.
import type { ParamValues } from './space.ts';

export type Direction = 'minimize' | 'maximize';
export type TrialState = 'running' | 'complete' | 'pruned' | 'failed';

export interface Trial {
  /** 0, 1, 2, ... in the order the trials were asked for. */
  id: number;
  /** The active dimensions' values. */
  params: ParamValues;
  state: TrialState;
  /** The objective of a complete trial. */
  value?: number;
  /** Reported intermediate values (per-epoch validation metrics) by step. */
  intermediate?: Record<string, number>;
  error?: string;
}

/** The reported steps of a trial, ascending. */
export function reportedSteps(t: Trial): number[] {
  return Object.keys(t.intermediate ?? {})
    .map(Number)
    .sort((a, b) => a - b);
}

/** Whether `a` beats `b`; a missing or non-finite value (a diverged trial) never does. */
export function better(a: number | null | undefined, b: number | null | undefined, direction: Direction): boolean {
  if (a === null || a === undefined || !Number.isFinite(a)) return false;
  if (b === null || b === undefined || !Number.isFinite(b)) return true;
  return direction === 'maximize' ? a > b : a < b;
}

/** The complete trial with the best value (the first of equals). */
export function bestTrial(trials: readonly Trial[], direction: Direction): Trial | undefined {
  let best: Trial | undefined;
  for (const t of trials) if (t.state === 'complete' && (!best || better(t.value, best.value, direction))) best = t;
  return best;
}

/** A copy of a trial that shares nothing with it (structuredClone is not in the workflow sandbox). */
export function copyTrial(t: Trial): Trial {
  return { ...t, params: { ...t.params }, ...(t.intermediate ? { intermediate: { ...t.intermediate } } : {}) };
}

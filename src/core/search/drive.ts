// Drives a Study whose trials run elsewhere: keeps `parallelism` trials in flight, trains each one
// leg by leg (one leg, or one per ASHA rung), reports each rung's value and stops a pruned trial,
// and keeps the table with what the legs returned. The optimizeStudy workflow runs it with train
// activities as legs; it is pure (no I/O, clocks or randomness of its own), so it is
// workflow-safe and unit-testable with legs that are plain functions.
import type { ArtifactRef, StudyTrial } from '../plan.ts';
import { rungStep, type AshaOptions } from './asha.ts';
import type { ParamValues } from './space.ts';
import type { Study } from './study.ts';
import type { Trial } from './trials.ts';

/** What one leg of a trial (a train activity) returned. */
export interface LegResult {
  /** The objective after this leg; null: none (diverged). */
  value: number | null;
  model?: ArtifactRef;
  epochs?: number;
  /** The epoch the leg's final attempt started from (above 0: it resumed a checkpoint). */
  resumedFromEpoch?: number;
  attempt?: number;
  /** The leg's outputs came from the step cache, not from a train activity. */
  cached?: boolean;
}

export interface Leg {
  trial: number;
  params: ParamValues;
  /** 0 for a trial's first leg; k > 0 continues the trial from its checkpoint. */
  index: number;
  epochs: number;
  /** How many legs the trial has at most. */
  legs: number;
  /** What the trial's leg before this one returned (k > 0): the checkpoint this one continues. */
  previous?: LegResult;
}

export interface DriveOptions {
  study: Study;
  /** Trials in all (a grid may have fewer points). */
  trials: number;
  parallelism: number;
  /** The epoch budgets of a trial's legs (legBudgets). */
  budgets: number[];
  /** Runs one leg. A rejection with `fatal(err)` true stops the search; any other fails only the trial. */
  runLeg: (leg: Leg) => Promise<LegResult>;
  fatal: (err: unknown) => boolean;
  /** One-line reason for a failed trial. */
  describe: (err: unknown) => string;
  /** Says why a pruned trial stopped. */
  prunedReason: (epochs: number, value: number) => string;
  /** Called when a trial starts and when it ends, with the table so far (progress for people). */
  onChange?: (table: StudyTrial[]) => void;
  /**
   * The finished rows of the search this one continues (its study was built from them): kept in
   * the table and counted against `trials`.
   */
  done?: StudyTrial[];
  /** True: ask for no more trials, finish those in flight and return (the caller continues as new). */
  pause?: () => boolean;
}

/** A search's table, and whether it paused before its end (`pause`) and should continue. */
export interface DriveResult {
  table: StudyTrial[];
  paused: boolean;
}

/** The epoch budgets of a trial's legs: each ASHA rung below the full epochs, then the full epochs. */
export function legBudgets(fullEpochs: number, asha: AshaOptions | undefined): number[] {
  if (!asha) return [fullEpochs];
  const out: number[] = [];
  for (let k = 0; rungStep(k, asha) < fullEpochs; k++) out.push(rungStep(k, asha));
  return [...out, fullEpochs];
}

/** Runs the search to its end, or until `pause` says so; the table in trial order. */
export async function driveStudy(o: DriveOptions): Promise<DriveResult> {
  const rows = new Map<number, StudyTrial>((o.done ?? []).map((t) => [t.id, t]));
  const table = () => [...rows.values()].sort((a, b) => a.id - b.id);

  async function runTrial(id: number, params: ParamValues): Promise<void> {
    const row: StudyTrial = { id, params, state: 'running', resumedFromEpoch: [], attempts: [] };
    rows.set(id, row);
    let value: number | null = null;
    let cached = true;
    let previous: LegResult | undefined;
    try {
      for (let k = 0; k < o.budgets.length; k++) {
        const epochs = o.budgets[k]!;
        const res = await o.runLeg({ trial: id, params, index: k, epochs, legs: o.budgets.length, ...(previous ? { previous } : {}) });
        previous = res;
        cached &&= res.cached === true;
        if (cached) row.cached = true;
        else delete row.cached;
        value = res.value;
        if (res.model) row.model = res.model;
        if (res.epochs !== undefined) row.epochs = res.epochs;
        row.resumedFromEpoch!.push(res.resumedFromEpoch ?? 0);
        row.attempts!.push(res.attempt ?? 1);
        if (k === o.budgets.length - 1 || value === null) break;
        if (o.study.report(id, epochs, value)) {
          Object.assign(row, o.study.trials[id], { reason: o.prunedReason(epochs, value) });
          return;
        }
      }
    } catch (err) {
      if (o.fatal(err)) throw err;
      Object.assign(row, o.study.tell(id, null, o.describe(err)));
      return;
    }
    Object.assign(row, o.study.tell(id, value));
  }

  // A new trial is asked for as soon as one ends, so the sampler sees every result before then.
  const inFlight = new Map<number, Promise<void>>();
  let asked = rows.size;
  let exhausted = false;
  let paused = false;
  for (;;) {
    while (!exhausted && !(paused ||= o.pause?.() ?? false) && inFlight.size < Math.max(1, o.parallelism) && asked < o.trials) {
      const t = o.study.ask();
      if (!t) {
        exhausted = true; // a grid with fewer points than `trials`
        break;
      }
      asked++;
      inFlight.set(
        t.id,
        runTrial(t.id, t.params).finally(() => {
          inFlight.delete(t.id);
          o.onChange?.(table());
        }),
      );
      o.onChange?.(table());
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight.values());
  }
  return { table: table(), paused: paused && !exhausted && asked < o.trials };
}

/** The study's own view of a finished row (the table a continued study starts from). */
export function studyTrial(t: StudyTrial): Trial {
  return {
    id: t.id,
    params: t.params,
    state: t.state,
    ...(t.value !== undefined ? { value: t.value } : {}),
    ...(t.intermediate ? { intermediate: t.intermediate } : {}),
    ...(t.error !== undefined ? { error: t.error } : {}),
  };
}

// A search as ask / tell / report over its trial table, for a loop that runs each trial
// elsewhere (a durable activity) and keeps only the table: `new Study({ ..., trials: table })`
// continues exactly where the study that wrote the table was. Nothing else is kept: the random
// numbers of trial n come from a generator seeded by (seed, n), so the next suggestion depends on
// the seed and the table alone.
import { Rng } from '../rng.ts';
import { checkAshaOptions, shouldPrune, type AshaOptions } from './asha.ts';
import { gridParams } from './grid.ts';
import { allDimensions, checkSpace, invalidValue, sampleParams, walkSpace, type ParamValues, type Space } from './space.ts';
import { tpeParams, type TpeOptions } from './tpe.ts';
import { bestTrial, copyTrial, type Direction, type Trial } from './trials.ts';

/** `asha`: random sampling with ASHA early stopping (Li et al.'s setting). */
export type SearchMethod = 'grid' | 'random' | 'tpe' | 'asha';

export interface StudyOptions {
  space: Space;
  method: SearchMethod;
  direction: Direction;
  seed?: number;
  tpe?: TpeOptions;
  /** ASHA early stopping on reported values; implied by method `asha`, optional with the others. */
  asha?: AshaOptions;
  /** The table of the study to continue (trials in id order). */
  trials?: Trial[];
}

export class StudyError extends Error {}

/** The seed of trial `id`'s random numbers: murmur3's finaliser over (seed, id). */
export function trialSeed(seed: number, id: number): number {
  let h = Math.imul(Math.trunc(seed) ^ 0x85ebca6b, 0xcc9e2d51) ^ Math.imul(id + 1, 0x1b873593);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Study {
  readonly trials: Trial[];
  private readonly grid: ParamValues[] | undefined;

  constructor(private readonly o: StudyOptions) {
    checkSpace(o.space);
    if (o.asha) checkAshaOptions(o.asha);
    this.grid = o.method === 'grid' ? gridParams(o.space) : undefined;
    this.trials = (o.trials ?? []).map((t) => copyTrial(t));
    this.trials.forEach((t, i) => checkTrial(o.space, t, i));
  }

  /** The next trial, now running; undefined when a grid is exhausted. */
  ask(): Trial | undefined {
    const id = this.trials.length;
    const rng = new Rng(trialSeed(this.o.seed ?? 0, id));
    let params: ParamValues;
    if (this.grid) {
      if (id >= this.grid.length) return undefined;
      params = { ...this.grid[id]! };
    } else if (this.o.method === 'tpe') params = tpeParams(this.o.space, this.trials, this.o.direction, rng, this.o.tpe);
    else params = sampleParams(this.o.space, rng);
    const t: Trial = { id, params, state: 'running' };
    this.trials.push(t);
    return copyTrial(t);
  }

  /** A trial's final objective; null or NaN: it failed (diverged, crashed) and informs no sampler. */
  tell(id: number, value: number | null, error?: string): Trial {
    const t = this.running(id, 'tell');
    if (value === null || Number.isNaN(value)) {
      t.state = 'failed';
      if (error !== undefined) t.error = error;
    } else {
      t.state = 'complete';
      t.value = value;
    }
    return copyTrial(t);
  }

  /**
   * Records an intermediate value (a per-epoch validation metric) and says whether the trial
   * should stop; a stopped trial is pruned. Reporting to a pruned trial again says stop again.
   */
  report(id: number, step: number, value: number): boolean {
    if (this.trials[id]?.state === 'pruned') return true;
    const t = this.running(id, 'report');
    if (!(Number.isInteger(step) && step >= 1))
      throw new StudyError(`report: trial ${id}: step ${step} must be a whole number from 1 (the epoch)`);
    const prune = this.pruning() ? shouldPrune(id, step, value, this.trials, { ...this.o.asha, direction: this.o.direction }) : false;
    t.intermediate = { ...t.intermediate, [String(step)]: value };
    if (prune) t.state = 'pruned';
    return prune;
  }

  best(): Trial | undefined {
    return bestTrial(this.trials, this.o.direction);
  }

  private pruning(): boolean {
    return this.o.method === 'asha' || this.o.asha !== undefined;
  }

  private running(id: number, verb: string): Trial {
    const t = this.trials[id];
    if (!t) throw new StudyError(`${verb}: no trial ${id} (the study has ${this.trials.length})`);
    if (t.state !== 'running') throw new StudyError(`${verb}: trial ${id} is already ${t.state}`);
    return t;
  }
}

/** A table row must be one this space could have produced: the space may not change mid-search. */
function checkTrial(space: Space, t: Trial, index: number): void {
  const bad = (why: string) => {
    throw new StudyError(`trial table: row ${index} (trial ${t.id}): ${why}; a search continues only with the space it started with`);
  };
  if (t.id !== index) bad(`id ${t.id} where ${index} was expected (rows are in id order from 0)`);
  if (!['running', 'complete', 'pruned', 'failed'].includes(t.state)) bad(`unknown state ${JSON.stringify(t.state)}`);
  if (t.state === 'complete' && typeof t.value !== 'number') bad('a complete trial needs a numeric value');
  const dims = allDimensions(space);
  for (const [path, v] of Object.entries(t.params)) {
    const d = dims.get(path);
    if (!d) bad(`${path} is not a dimension of the space`);
    const why = invalidValue(d!.dim, v);
    if (why) bad(`${path}: ${why}`);
  }
  const active = walkSpace(space, (path) => {
    if (!(path in t.params)) bad(`${path} is missing`);
    return t.params[path]!;
  });
  const extra = Object.keys(t.params).filter((p) => !(p in active));
  if (extra.length) bad(`${extra.join(', ')} ${extra.length === 1 ? 'is' : 'are'} not active for its choices`);
}

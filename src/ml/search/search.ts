// The in-process search that the optimize stage runs today: every trial in one call, over a
// `space` of config paths: grid, seeded random, and successive halving (many configs on a small
// budget, the better half promoted to twice the budget until one is left at the full budget).
// The trial itself is a callback, so the same search drives real training and the unit tests.
// (study.ts is the ask/tell form, with TPE and ASHA, for trials run as separate activities.)
import { Rng } from '../../core/rng.ts';
import { gridParams } from '../../core/search/grid.ts';
import { sampleParams, type ParamValues, type Space } from '../../core/search/space.ts';
import { better } from '../../core/search/trials.ts';

export type Method = 'grid' | 'random' | 'successiveHalving';

/**
 * Thrown by a trial to stop the whole search (the run was cancelled, the objective is not an
 * output at all), where any other error only loses that trial. `cause` is what stopped it.
 */
export class StopSearch extends Error {
  override name = 'StopSearch';
}

export interface TrialRecord<A = unknown> {
  id: number;
  params: ParamValues;
  /** Budget (epochs) the trial trained for; undefined: the tuned stage's own. */
  budget?: number;
  rung?: number;
  value: number | null;
  artifact?: A;
  error?: string;
}

export interface SearchOptions<A> {
  space: Space;
  method: Method;
  /** Configs in all (random, successive halving; caps grid). */
  trials: number;
  parallelism?: number;
  seed?: number;
  direction: 'minimize' | 'maximize';
  /** Full budget (epochs), for successive halving. */
  maxBudget?: number;
  /** Trials a previous attempt finished, by `key(id, rung)`: not run again. */
  done?: TrialRecord<A>[];
  run: (params: ParamValues, id: number, budget?: number) => Promise<{ value: number | null; artifact?: A }>;
  onTrial?: (t: TrialRecord<A>, all: TrialRecord<A>[]) => void;
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

export async function search<A>(o: SearchOptions<A>): Promise<{ best: TrialRecord<A> | undefined; trials: TrialRecord<A>[] }> {
  const rng = new Rng(o.seed ?? 0);
  const all: TrialRecord<A>[] = [];
  const done = new Map((o.done ?? []).map((t) => [`${t.id}/${t.rung ?? 0}`, t]));
  const runOne = async (id: number, params: ParamValues, budget?: number, rung?: number): Promise<TrialRecord<A>> => {
    const prior = done.get(`${id}/${rung ?? 0}`);
    let t: TrialRecord<A>;
    if (prior) t = prior;
    else {
      try {
        const r = await o.run(params, id, budget);
        t = {
          id,
          params,
          value: r.value,
          ...(budget !== undefined ? { budget } : {}),
          ...(rung !== undefined ? { rung } : {}),
          ...(r.artifact !== undefined ? { artifact: r.artifact } : {}),
        };
      } catch (e) {
        // A diverging config (NaN loss, bad shape) loses; StopSearch ends the search.
        if (e instanceof StopSearch) throw e;
        t = {
          id,
          params,
          value: null,
          ...(budget !== undefined ? { budget } : {}),
          ...(rung !== undefined ? { rung } : {}),
          error: (e as Error).message,
        };
      }
    }
    all.push(t);
    o.onTrial?.(t, all);
    return t;
  };
  const par = o.parallelism ?? 1;
  if (o.method === 'successiveHalving') {
    const n = Math.max(1, o.trials);
    let configs = Array.from({ length: n }, (_, id) => ({ id, params: sampleParams(o.space, rng) }));
    const full = Math.max(1, o.maxBudget ?? 1);
    const rungs = Math.floor(Math.log2(n)) + 1;
    let budget = Math.max(1, Math.floor(full / 2 ** (rungs - 1)));
    let last: TrialRecord<A>[] = [];
    for (let rung = 0; configs.length > 0; rung++) {
      const results: TrialRecord<A>[] = [];
      const finalRung = configs.length === 1 || rung === rungs - 1;
      const b = finalRung ? full : Math.min(full, budget);
      await pool(configs, par, async (c) => void results.push(await runOne(c.id, c.params, b, rung)));
      last = results;
      if (finalRung) break;
      results.sort((x, y) => (better(x.value, y.value, o.direction) ? -1 : better(y.value, x.value, o.direction) ? 1 : x.id - y.id));
      const keep = new Set(results.slice(0, Math.ceil(results.length / 2)).map((r) => r.id));
      configs = configs.filter((c) => keep.has(c.id));
      budget *= 2;
    }
    // The best of the full-budget rung: its artifact was trained like the tuned stage.
    let best: TrialRecord<A> | undefined;
    for (const t of last) if (!best || better(t.value, best.value, o.direction)) best = t;
    return { best, trials: all.sort((x, y) => (x.rung ?? 0) - (y.rung ?? 0) || x.id - y.id) };
  }
  const configs =
    o.method === 'grid' ? gridParams(o.space).slice(0, o.trials) : Array.from({ length: o.trials }, () => sampleParams(o.space, rng));
  await pool(
    configs.map((params, id) => ({ id, params })),
    par,
    async (c) => void (await runOne(c.id, c.params)),
  );
  all.sort((x, y) => x.id - y.id);
  let best: TrialRecord<A> | undefined;
  for (const t of all) if (!best || better(t.value, best.value, o.direction)) best = t;
  return { best, trials: all };
}

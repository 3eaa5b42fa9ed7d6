/**
 * The study-driving loop of a durable search (src/core/search/drive.ts) with legs that are plain
 * functions: trials in flight bounded by `parallelism`, every trial run once, ASHA legs (pruned
 * trials stop with a reason, promoted ones continue as the next leg), failed and fatal legs, and
 * the same seed giving the same table whatever order the legs finish in. The same loop with real
 * train activities: test/workflows/optimize-study.test.ts and test/durability/trials-kill.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  driveStudy,
  legBudgets,
  Study,
  studyTrial,
  type DriveOptions,
  type Leg,
  type LegResult,
  type Space,
} from '../../src/core/search/index.ts';

const space: Space = { lr: { type: 'logUniform', min: 1e-4, max: 1e-1 }, units: { type: 'int', min: 4, max: 64, step: 4 } };
/** A known objective (lower is better): best near lr 0.01, units 32; a rung's value improves with epochs. */
const objective = (l: Leg) => (Math.log10(l.params.lr as number) + 2) ** 2 + ((l.params.units as number) - 32) ** 2 / 400 + 1 / l.epochs;

function options(o: Partial<DriveOptions> & { method?: 'random' | 'tpe' | 'asha' | 'grid'; seed?: number } = {}): DriveOptions {
  const { method = 'random', seed = 1, ...rest } = o;
  return {
    study: new Study({
      space: method === 'grid' ? { units: { type: 'choice', values: [8, 16, 32] } } : space,
      method,
      direction: 'minimize',
      seed,
      ...(method === 'asha' ? { asha: { reductionFactor: 2 } } : {}),
    }),
    trials: 8,
    parallelism: 1,
    budgets: [4],
    runLeg: async (l) => ({ value: objective(l), epochs: l.epochs }),
    fatal: () => false,
    describe: (e) => (e as Error).message,
    prunedReason: (epochs, v) => `pruned at ${epochs} with ${v}`,
    ...rest,
  };
}

/** The table of a search run to its end. */
const drive = async (o: DriveOptions) => (await driveStudy(o)).table;

/** Lets every pending promise callback run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('legBudgets', () => {
  it('is the rungs below the full epochs, then the full epochs', () => {
    expect(legBudgets(16, { minResource: 1, reductionFactor: 4 })).toEqual([1, 4, 16]);
    expect(legBudgets(4, { minResource: 1, reductionFactor: 2 })).toEqual([1, 2, 4]);
    expect(legBudgets(10, { minResource: 2, reductionFactor: 3 })).toEqual([2, 6, 10]);
    expect(legBudgets(3, { minResource: 4, reductionFactor: 2 })).toEqual([3]);
    expect(legBudgets(5, undefined)).toEqual([5]);
  });
});

describe('driveStudy', () => {
  it('keeps at most `parallelism` trials in flight and runs every trial once', async () => {
    const pending: { leg: Leg; done: (r: LegResult) => void }[] = [];
    let max = 0;
    const run = drive(
      options({
        trials: 7,
        parallelism: 3,
        runLeg: (leg) =>
          new Promise((done) => {
            pending.push({ leg, done });
            max = Math.max(max, pending.length);
          }),
      }),
    );
    const started: number[] = [];
    for (let n = 0; n < 7; n++) {
      await settle();
      // finish the newest trial first: completion order differs from ask order
      const p = pending.pop()!;
      started.push(p.leg.trial);
      p.done({ value: objective(p.leg) });
    }
    const table = await run;
    expect(max).toBe(3);
    expect(started.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(table.map((t) => [t.id, t.state])).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => [i, 'complete']));
  });

  it('the same seed gives the same trials and best, whatever order the legs finish in (random)', async () => {
    const inOrder = await drive(options({ trials: 6, parallelism: 1, seed: 9 }));
    const shuffled = await drive(
      options({
        trials: 6,
        parallelism: 3,
        seed: 9,
        runLeg: (l) => new Promise((r) => setTimeout(() => r({ value: objective(l) }), (l.trial * 7) % 5)),
      }),
    );
    expect(shuffled.map((t) => [t.params, t.value])).toEqual(inOrder.map((t) => [t.params, t.value]));
    const tpeA = await drive(options({ method: 'tpe', trials: 14, seed: 4 }));
    const tpeB = await drive(options({ method: 'tpe', trials: 14, seed: 4 }));
    expect(tpeB).toEqual(tpeA);
  });

  it('asha: legs per rung; the workflow stops a pruned trial with its reason and continues a promoted one', async () => {
    const legs: Leg[] = [];
    const table = await drive(
      options({
        method: 'asha',
        trials: 8,
        budgets: [1, 2, 4],
        runLeg: async (l) => {
          legs.push(l);
          return { value: objective(l), epochs: l.epochs, resumedFromEpoch: l.index === 0 ? 0 : [0, 1, 2][l.index]! };
        },
      }),
    );
    const pruned = table.filter((t) => t.state === 'pruned');
    const complete = table.filter((t) => t.state === 'complete');
    expect(pruned.length).toBeGreaterThan(0);
    expect(complete.length).toBeGreaterThan(0);
    expect(pruned.length + complete.length).toBe(8);
    for (const t of pruned) {
      const own = legs.filter((l) => l.trial === t.id);
      expect(own.length).toBeLessThan(3); // stopped before the full budget
      const last = own.at(-1)!;
      expect(t.reason).toBe(`pruned at ${last.epochs} with ${objective(last)}`);
      expect(t.intermediate![String(last.epochs)]).toBe(objective(last));
    }
    for (const t of complete) {
      expect(legs.filter((l) => l.trial === t.id).map((l) => [l.index, l.epochs])).toEqual([
        [0, 1],
        [1, 2],
        [2, 4],
      ]);
      expect(t.resumedFromEpoch).toEqual([0, 1, 2]);
      expect(t.value).toBe(objective({ ...legs.find((l) => l.trial === t.id)!, epochs: 4 }));
    }
    // the first trial at each rung always goes on (nothing to compare with yet)
    expect(table[0]!.state).toBe('complete');
  });

  it('a failed leg fails its trial only; a fatal one stops the search', async () => {
    const table = await drive(
      options({
        trials: 4,
        runLeg: async (l) => {
          if (l.trial === 1) throw new Error('out of memory');
          return { value: objective(l) };
        },
      }),
    );
    expect(table.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'complete']);
    expect(table[1]!.error).toBe('out of memory');
    const fatal = drive(
      options({
        trials: 4,
        fatal: (e) => (e as Error).message === 'cancelled',
        runLeg: async (l) => {
          if (l.trial === 2) throw new Error('cancelled');
          return { value: objective(l) };
        },
      }),
    );
    await expect(fatal).rejects.toThrow('cancelled');
  });

  it('a diverged leg (no value) fails the trial; a grid stops at its last point', async () => {
    const table = await drive(options({ trials: 3, runLeg: async (l) => ({ value: l.trial === 0 ? null : objective(l) }) }));
    expect(table.map((t) => t.state)).toEqual(['failed', 'complete', 'complete']);
    const grid = await drive(options({ method: 'grid', trials: 10, parallelism: 2 }));
    expect(grid.map((t) => t.params.units)).toEqual([8, 16, 32]);
  });

  it('pauses between trials when asked, and a study continued from the finished rows ends where an uninterrupted one does', async () => {
    const whole = await drive(options({ method: 'tpe', trials: 14, seed: 6 }));
    let rows: Awaited<ReturnType<typeof driveStudy>>['table'] = [];
    let pauses = 0;
    // pause after every 4 trials asked, as a workflow continuing as new would; carry the finished rows
    for (;;) {
      const study = new Study({ space, method: 'tpe', direction: 'minimize', seed: 6, trials: rows.map(studyTrial) });
      const start = rows.length;
      let size = start;
      const r = await driveStudy(
        options({
          method: 'tpe',
          trials: 14,
          seed: 6,
          study,
          done: rows,
          onChange: (t) => (size = t.length),
          pause: () => size - start >= 4,
        }),
      );
      expect(r.table.every((t) => t.state !== 'running')).toBe(true);
      rows = r.table;
      if (!r.paused) break;
      pauses++;
    }
    expect(pauses).toBe(3);
    expect(rows).toEqual(whole);
  });
});

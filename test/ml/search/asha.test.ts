import { describe, expect, it } from 'vitest';
import { rungStep, shouldPrune, Study, type AshaOptions, type Direction, type Trial } from '../../../src/ml/search/index.ts';

/** Feeds reports in the given order into a table, as a loop over heartbeats would. */
function play(
  reports: [trial: number, step: number, value: number][],
  o: AshaOptions & { direction: Direction },
): { decisions: string[]; table: Trial[] } {
  const table: Trial[] = [];
  const decisions: string[] = [];
  for (const [id, step, value] of reports) {
    const t = (table[id] ??= { id, params: {}, state: 'running' });
    const prune = shouldPrune(id, step, value, table, o);
    t.intermediate = { ...t.intermediate, [String(step)]: value };
    if (prune) t.state = 'pruned';
    decisions.push(`T${id}@${step}:${prune ? 'prune' : 'go'}`);
  }
  return { decisions, table };
}

describe('ASHA', () => {
  it('puts rungs at minResource · eta^(s + k)', () => {
    expect([0, 1, 2, 3].map((k) => rungStep(k, { minResource: 2, reductionFactor: 3 }))).toEqual([2, 6, 18, 54]);
    expect([0, 1].map((k) => rungStep(k, { minResource: 1, reductionFactor: 2, minEarlyStoppingRate: 2 }))).toEqual([4, 8]);
    expect(rungStep(0)).toBe(1);
    expect(rungStep(1)).toBe(4); // eta defaults to 4, as Optuna and Ray Tune
  });

  it('promotes the top 1/eta of a rung as results arrive, never waiting for the rung to fill', () => {
    // eta 3, rungs at steps 1, 3, 9; lower is better.
    const { decisions } = play(
      [
        [0, 1, 0.5], // alone at rung 0: goes on
        [1, 1, 0.7], // 2 at the rung: only the best goes on
        [2, 1, 0.3], // 3 at the rung: top 1 → it is the best
        [0, 2, 0.45], // no rung at step 2
        [3, 1, 0.4], // behind 0.3
        [0, 3, 0.42], // first at rung 1: goes on, though trial 2 has done better at rung 0
        [2, 2, 0.25],
        [2, 3, 0.2], // best at rung 1
        [4, 1, 0.1], // 5 at rung 0, top 1: the new best
        [5, 1, 0.35], // 6 at rung 0: top 2 = 0.1, 0.3
        [6, 1, 0.3], // 7 at rung 0: top 2, ties go on
        [0, 4, 0.41], // trial 0 stays promoted: rung 0 is not judged again
      ],
      { reductionFactor: 3, direction: 'minimize' },
    );
    expect(decisions).toEqual([
      'T0@1:go',
      'T1@1:prune',
      'T2@1:go',
      'T0@2:go',
      'T3@1:prune',
      'T0@3:go',
      'T2@2:go',
      'T2@3:go',
      'T4@1:go',
      'T5@1:prune',
      'T6@1:go',
      'T0@4:go',
    ]);
  });

  it('maximises when asked to, and judges every rung a report skips past', () => {
    const up = play(
      [
        [0, 1, 0.9],
        [1, 1, 0.5],
        [2, 1, 0.95],
      ],
      { reductionFactor: 2, direction: 'maximize' },
    );
    expect(up.decisions).toEqual(['T0@1:go', 'T1@1:prune', 'T2@1:go']);
    // eta 2, rungs at 1, 2, 4. Trial 1's first report is at step 4: each rung judges that value
    // against the others' values there. Trial 0 is better than 0.3 at step 4 only, then at step 1 only.
    const o = { reductionFactor: 2, direction: 'minimize' as const };
    const skip = (t0: [number, number, number], v: number) =>
      play(
        [
          [0, 1, t0[0]],
          [0, 2, t0[1]],
          [0, 4, t0[2]],
          [1, 4, v],
        ],
        o,
      ).decisions.at(-1);
    expect(skip([0.5, 0.4, 0.1], 0.3)).toBe('T1@4:prune');
    expect(skip([0.2, 0.4, 0.5], 0.3)).toBe('T1@4:prune');
    expect(skip([0.5, 0.4, 0.5], 0.3)).toBe('T1@4:go');
  });

  it('stops a NaN at once at a rung; bootstrapCount holds promotions until enough trials reached the rung', () => {
    expect(shouldPrune(0, 1, NaN, [], { direction: 'minimize' })).toBe(true);
    // Past rung 0 already, and step 2 is no rung (eta 4: 1, 4, 16).
    expect(shouldPrune(0, 2, NaN, [{ id: 0, params: {}, state: 'running', intermediate: { '1': 0.5 } }], { direction: 'minimize' })).toBe(
      false,
    );
    const { decisions } = play(
      [
        [0, 1, 0.1],
        [1, 1, 0.2],
        [2, 1, 0.05],
        [3, 1, 0.04],
      ],
      { reductionFactor: 2, bootstrapCount: 2, direction: 'minimize' },
    );
    expect(decisions).toEqual(['T0@1:prune', 'T1@1:prune', 'T2@1:go', 'T3@1:go']);
  });

  it('is a pure function of the reports: same table, same answer, whether or not it holds this report', () => {
    const { table } = play(
      [
        [0, 1, 0.5],
        [1, 1, 0.4],
        [2, 1, 0.3],
        [0, 2, 0.45],
      ],
      { reductionFactor: 3, direction: 'minimize' },
    );
    const frozen = JSON.parse(JSON.stringify(table)) as Trial[];
    const o = { reductionFactor: 3, direction: 'minimize' as const };
    const asked = shouldPrune(3, 1, 0.35, frozen, o);
    expect(shouldPrune(3, 1, 0.35, frozen, o)).toBe(asked);
    expect(frozen).toEqual(table);
    const withOwn = [...frozen, { id: 3, params: {}, state: 'running' as const, intermediate: { '1': 0.35 } }];
    expect(shouldPrune(3, 1, 0.35, withOwn, o)).toBe(asked);
    expect(asked).toBe(true); // four at rung 0, top 1 of 3 is 0.3
  });

  it('through a study: report says stop, the trial is pruned and stays stopped', () => {
    const s = new Study({
      space: { x: { type: 'uniform', min: 0, max: 1 } },
      method: 'asha',
      direction: 'minimize',
      seed: 1,
      asha: { reductionFactor: 2 },
    });
    const a = s.ask()!;
    const b = s.ask()!;
    expect(s.report(a.id, 1, 0.3)).toBe(false);
    expect(s.report(b.id, 1, 0.6)).toBe(true);
    expect(s.trials[b.id]).toMatchObject({ state: 'pruned', intermediate: { '1': 0.6 } });
    expect(s.report(b.id, 2, 0.1)).toBe(true); // a replayed heartbeat of a stopped trial
    expect(() => s.tell(b.id, 0.1)).toThrow(/trial 1 is already pruned/);
    expect(s.report(a.id, 2, 0.25)).toBe(false);
    s.tell(a.id, 0.2);
    expect(() => s.report(a.id, 3, 0.1)).toThrow(/trial 0 is already complete/);
    expect(s.best()!.id).toBe(a.id);
    // Without ASHA a study records reports and never stops a trial.
    const plain = new Study({ space: { x: { type: 'uniform', min: 0, max: 1 } }, method: 'random', direction: 'minimize' });
    plain.ask();
    plain.ask();
    expect(plain.report(0, 1, 0.3)).toBe(false);
    expect(plain.report(1, 1, 0.9)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { Study, type ParamValues, type SearchMethod, type Space, type StudyOptions, type Trial } from '../../../src/ml/search/index.ts';

const space: Space = {
  'optimizer.learningRate': { type: 'logUniform', min: 1e-4, max: 1 },
  'optimizer.type': {
    type: 'choice',
    values: ['adam', { value: 'sgd', space: { 'optimizer.momentum': { type: 'uniform', min: 0, max: 0.99 } } }],
  },
  'model.layers[0].units': { type: 'int', min: 4, max: 256, log: true },
};
/** A validation loss curve per epoch: better configs descend lower; too high a learning rate diverges. */
function curve(p: ParamValues, epoch: number): number {
  const lr = p['optimizer.learningRate'] as number;
  if (lr > 0.5) return NaN;
  const floor =
    (Math.log10(lr) + 2) ** 2 +
    (Math.log2(p['model.layers[0].units'] as number) - 6) ** 2 / 8 +
    (p['optimizer.type'] === 'sgd' ? ((p['optimizer.momentum'] as number) - 0.9) ** 2 : 0.1);
  return floor + 1 / epoch;
}
const EPOCHS = 8;

/**
 * Runs a search with three trials in flight, interleaving their epochs; before every ask, a study
 * rebuilt from a JSON copy of the table must ask for exactly what the running one asks for.
 */
function runChecked(o: Omit<StudyOptions, 'trials'>, total: number): Study {
  const s = new Study(o);
  const inFlight: { id: number; epoch: number }[] = [];
  let turn = 0;
  while (s.trials.length < total || inFlight.length) {
    if (inFlight.length < 3 && s.trials.length < total) {
      const table = JSON.parse(JSON.stringify(s.trials)) as Trial[];
      const rebuilt = new Study({ ...o, trials: table }).ask();
      const t = s.ask();
      expect(rebuilt).toEqual(t);
      if (!t) break;
      inFlight.push({ id: t.id, epoch: 0 });
      continue;
    }
    // The trials move on in a fixed rotation, so the table interleaves their reports.
    const slot = inFlight[turn++ % inFlight.length]!;
    const params = s.trials[slot.id]!.params;
    slot.epoch++;
    const v = curve(params, slot.epoch);
    const stop = s.report(slot.id, slot.epoch, v);
    if (stop || slot.epoch === EPOCHS || Number.isNaN(v)) {
      if (!stop) s.tell(slot.id, Number.isNaN(v) ? null : v, Number.isNaN(v) ? 'loss is NaN' : undefined);
      inFlight.splice(inFlight.indexOf(slot), 1);
    }
  }
  return s;
}

describe('study: ask / tell / report over the trial table', () => {
  for (const method of ['tpe', 'asha', 'random', 'grid'] as SearchMethod[]) {
    it(`${method}: a study rebuilt from the table alone asks what the original would, with trials in flight`, () => {
      const o = { space, method, direction: 'minimize' as const, seed: 5, ...(method === 'tpe' ? { asha: { reductionFactor: 2 } } : {}) };
      const s = runChecked(o, 30);
      const states = new Set(s.trials.map((t) => t.state));
      expect(s.trials).toHaveLength(30);
      if (method === 'tpe' || method === 'asha') expect(states).toContain('pruned');
      expect(states).toContain('complete');
      // And once more from the finished table.
      expect(new Study({ ...o, trials: s.trials }).ask()).toEqual(s.ask());
    });
  }

  it('is reproducible for a seed, different for another', () => {
    const run = (seed: number) =>
      runChecked({ space, method: 'tpe', direction: 'minimize', seed, asha: { reductionFactor: 3 } }, 24).trials;
    expect(run(2)).toEqual(run(2));
    expect(run(2).map((t) => t.params)).not.toEqual(run(3).map((t) => t.params));
  });

  it('grid: each point once, then nothing more to ask', () => {
    const s = new Study({
      space: { a: { type: 'choice', values: [1, 2] }, b: { type: 'int', min: 0, max: 2 } },
      method: 'grid',
      direction: 'maximize',
    });
    const asked: ParamValues[] = [];
    for (let t = s.ask(); t; t = s.ask()) {
      asked.push(t.params);
      s.tell(t.id, (t.params.a as number) * 10 + (t.params.b as number));
    }
    expect(asked).toHaveLength(6);
    expect(new Set(asked.map((p) => `${p.a},${p.b}`)).size).toBe(6);
    expect(s.best()!.params).toEqual({ a: 2, b: 2 });
  });

  it('a failed trial informs no sampler and is never best', () => {
    const s = new Study({ space, method: 'random', direction: 'minimize', seed: 1 });
    const a = s.ask()!;
    const b = s.ask()!;
    s.tell(a.id, null, 'loss is NaN');
    s.tell(b.id, 3);
    expect(s.trials[a.id]).toMatchObject({ state: 'failed', error: 'loss is NaN' });
    expect(s.best()!.id).toBe(b.id);
  });

  it('refuses a table that does not fit the space, naming the row and what is wrong', () => {
    const s = new Study({ space, method: 'random', direction: 'minimize', seed: 1 });
    for (let i = 0; i < 3; i++) s.tell(s.ask()!.id, i);
    const table = s.trials;
    const refuse = (trials: unknown, msg: RegExp) =>
      expect(() => new Study({ space, method: 'tpe', direction: 'minimize', trials: trials as Trial[] })).toThrow(msg);
    refuse([table[1]], /row 0 \(trial 1\): id 1 where 0 was expected/);
    refuse(
      [{ ...table[0], params: { ...table[0]!.params, 'optimizer.learningRate': 2 } }],
      /row 0 \(trial 0\): optimizer.learningRate: 2 is outside \[0.0001, 1\]; a search continues only with the space it started with/,
    );
    refuse(
      [{ ...table[0], params: { ...table[0]!.params, 'model.layers[1].rate': 0.5 } }],
      /model.layers\[1\].rate is not a dimension of the space/,
    );
    refuse(
      [
        {
          ...table[0],
          params: { 'optimizer.learningRate': 0.01, 'optimizer.type': 'adam', 'optimizer.momentum': 0.5, 'model.layers[0].units': 8 },
        },
      ],
      /optimizer.momentum is not active for its choices/,
    );
    refuse(
      [{ ...table[0], params: { 'optimizer.learningRate': 0.01, 'optimizer.type': 'sgd', 'model.layers[0].units': 8 } }],
      /optimizer.momentum is missing/,
    );
    refuse([{ ...table[0], state: 'complete', value: undefined }], /a complete trial needs a numeric value/);
    expect(() => s.tell(7, 1)).toThrow(/tell: no trial 7 \(the study has 3\)/);
    expect(() => s.tell(0, 1)).toThrow(/tell: trial 0 is already complete/);
    expect(() => new Study({ space, method: 'asha', direction: 'minimize', asha: { reductionFactor: 1 } })).toThrow(
      /asha: reductionFactor must be a whole number of at least 2/,
    );
  });
});

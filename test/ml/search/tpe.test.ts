import { describe, expect, it } from 'vitest';
import { Study, walkSpace, type ParamValues, type SearchMethod, type Space, type TpeOptions } from '../../../src/ml/search/index.ts';

// A known function of four hyper-parameters, smallest (0) at learning rate 10^-2.3, 96 units,
// dropout 0.25 and tanh; any other activation costs 0.5.
const space: Space = {
  'optimizer.learningRate': { type: 'logUniform', min: 1e-5, max: 1 },
  'model.layers[0].units': { type: 'int', min: 8, max: 256, step: 8 },
  'model.layers[1].rate': { type: 'uniform', min: 0, max: 0.8 },
  'model.layers[0].activation': { type: 'choice', values: ['relu', 'tanh', 'sigmoid', 'linear'] },
};
const f = (p: ParamValues) =>
  (Math.log10(p['optimizer.learningRate'] as number) + 2.3) ** 2 +
  (((p['model.layers[0].units'] as number) - 96) / 64) ** 2 +
  4 * ((p['model.layers[1].rate'] as number) - 0.25) ** 2 +
  (p['model.layers[0].activation'] === 'tanh' ? 0 : 0.5);

function minimise(s: Study, objective: (p: ParamValues) => number, n: number): Study {
  for (let i = 0; i < n; i++) {
    const t = s.ask()!;
    s.tell(t.id, objective(t.params));
  }
  return s;
}
const bestAfter = (method: SearchMethod, seed: number, n: number, tpe?: TpeOptions) =>
  minimise(new Study({ space, method, direction: 'minimize', seed, ...(tpe ? { tpe } : {}) }), f, n).best()!.value!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const seeds = Array.from({ length: 10 }, (_, i) => i);

describe('TPE', () => {
  // Measured over 20 seeds at 50 trials: TPE 0.19, multivariate TPE 0.13, random 0.52 (Optuna
  // 5.0's TPE on the same function: 0.19 univariate, 0.21 multivariate).
  it('beats random search on a known function, averaged over seeds', () => {
    const random = mean(seeds.map((s) => bestAfter('random', s, 50)));
    const tpe = mean(seeds.map((s) => bestAfter('tpe', s, 50)));
    const multivariate = mean(seeds.map((s) => bestAfter('tpe', s, 50, { multivariate: true })));
    expect(tpe).toBeLessThan(0.7 * random);
    expect(multivariate).toBeLessThan(0.7 * random);
  });

  it('starts with the random sampler for nStartupTrials, then leaves it', () => {
    const tpe = minimise(new Study({ space, method: 'tpe', direction: 'minimize', seed: 3 }), f, 14).trials;
    const random = minimise(new Study({ space, method: 'random', direction: 'minimize', seed: 3 }), f, 14).trials;
    expect(tpe.slice(0, 10).map((t) => t.params)).toEqual(random.slice(0, 10).map((t) => t.params));
    for (let i = 10; i < 14; i++) expect(tpe[i]!.params).not.toEqual(random[i]!.params);
    const later = minimise(new Study({ space, method: 'tpe', direction: 'minimize', seed: 3, tpe: { nStartupTrials: 4 } }), f, 5).trials;
    expect(later.slice(0, 4).map((t) => t.params)).toEqual(random.slice(0, 4).map((t) => t.params));
    expect(later[4]!.params).not.toEqual(random[4]!.params);
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const run = (seed: number) => minimise(new Study({ space, method: 'tpe', direction: 'minimize', seed }), f, 25).trials;
    expect(run(11)).toEqual(run(11));
    expect(run(11).map((t) => t.params)).not.toEqual(run(12).map((t) => t.params));
  });

  it('in a conditional space, learns the branch and its own dimension, never emitting inactive ones', () => {
    const cond: Space = {
      'optimizer.learningRate': { type: 'logUniform', min: 1e-4, max: 1 },
      'optimizer.type': {
        type: 'choice',
        values: ['adam', { value: 'sgd', space: { 'optimizer.momentum': { type: 'uniform', min: 0, max: 0.99 } } }, 'rmsprop'],
      },
    };
    // sgd with momentum 0.9 is best, adam second, rmsprop worst.
    const g = (p: ParamValues) =>
      (Math.log10(p['optimizer.learningRate'] as number) + 2) ** 2 +
      (p['optimizer.type'] === 'sgd' ? 4 * ((p['optimizer.momentum'] as number) - 0.9) ** 2 : p['optimizer.type'] === 'adam' ? 0.5 : 1.5);
    const runs = (method: SearchMethod) =>
      seeds.map((seed) => minimise(new Study({ space: cond, method, direction: 'minimize', seed }), g, 40));
    const tpe = runs('tpe');
    const random = runs('random');
    for (const s of tpe) for (const t of s.trials) expect(t.params).toEqual(walkSpace(cond, (path) => t.params[path]!));
    // How often the last 20 trials pick a branch (measured: TPE sgd 0.63, rmsprop 0.14; random 0.34, 0.32).
    const lateShare = (studies: Study[], type: string) =>
      mean(studies.map((s) => s.trials.slice(20).filter((t) => t.params['optimizer.type'] === type).length / 20));
    expect(lateShare(tpe, 'sgd')).toBeGreaterThan(1.5 * lateShare(random, 'sgd'));
    expect(lateShare(tpe, 'rmsprop')).toBeLessThan(0.6 * lateShare(random, 'rmsprop'));
  });

  it('maximises when asked to', () => {
    const up = mean(
      seeds.map((seed) => minimise(new Study({ space, method: 'tpe', direction: 'maximize', seed }), (p) => -f(p), 50).best()!.value!),
    );
    const random = mean(
      seeds.map((seed) => minimise(new Study({ space, method: 'random', direction: 'maximize', seed }), (p) => -f(p), 50).best()!.value!),
    );
    expect(-up).toBeLessThan(0.7 * -random);
  });
});

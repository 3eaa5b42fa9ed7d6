import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/ml/data/rng.ts';
import { checkSpace, gridParams, sampleParams, walkSpace, type ParamValues, type Space } from '../../../src/ml/search/index.ts';

// An optimizer choice whose values open their own dimensions, one of them nested once more.
const conditional: Space = {
  'optimizer.learningRate': { type: 'logUniform', min: 1e-4, max: 1e-1 },
  'optimizer.type': {
    type: 'choice',
    values: [
      'adam',
      { value: 'sgd', space: { 'optimizer.momentum': { type: 'uniform', min: 0, max: 0.99 } } },
      {
        value: 'rmsprop',
        space: {
          'optimizer.centered': {
            type: 'choice',
            values: [false, { value: true, space: { 'optimizer.epsilon': { type: 'logUniform', min: 1e-8, max: 1e-4 } } }],
          },
        },
      },
    ],
  },
  'model.layers[0].units': { type: 'int', min: 8, max: 128, step: 8 },
};

/** The parameters the choices in `p` make active: walking the space with p's own values. */
const activeFor = (space: Space, p: ParamValues) => walkSpace(space, (path) => p[path]!);

describe('search spaces', () => {
  it('random draws follow each distribution: uniform, log-uniform, int steps, log ints, choices', () => {
    const space: Space = {
      u: { type: 'uniform', min: -1, max: 3 },
      lu: { type: 'logUniform', min: 1e-6, max: 1 },
      i: { type: 'int', min: 8, max: 130, step: 8 },
      li: { type: 'int', min: 1, max: 1000, log: true },
      c: { type: 'choice', values: ['a', 'b', 'c', 'd'] },
    };
    const rng = new Rng(1);
    const draws = Array.from({ length: 4000 }, () => sampleParams(space, rng));
    const mean = (f: (p: ParamValues) => number) => draws.reduce((a, p) => a + f(p), 0) / draws.length;
    const share = (f: (p: ParamValues) => boolean) => draws.filter(f).length / draws.length;
    for (const p of draws) {
      expect(p.u).toBeGreaterThanOrEqual(-1);
      expect(p.u).toBeLessThan(3);
      expect(((p.i as number) - 8) % 8).toBe(0);
      expect(p.i).toBeLessThanOrEqual(128);
      expect(Number.isInteger(p.li)).toBe(true);
      expect(p.li).toBeGreaterThanOrEqual(1);
      expect(p.li).toBeLessThanOrEqual(1000);
    }
    expect(mean((p) => p.u as number)).toBeCloseTo(1, 1);
    // Uniform in the log: each decade gets a sixth of the draws.
    expect(mean((p) => Math.log10(p.lu as number))).toBeCloseTo(-3, 1);
    expect(share((p) => (p.lu as number) < 1e-5)).toBeGreaterThan(0.13);
    expect(share((p) => (p.li as number) <= 10)).toBeGreaterThan(0.28); // a third of the log range; uniform would give 1%
    expect(new Set(draws.map((p) => p.i)).size).toBe(16);
    for (const v of ['a', 'b', 'c', 'd']) expect(share((p) => p.c === v)).toBeGreaterThan(0.2);
  });

  it('a conditional space never emits an inactive dimension, and reaches every branch', () => {
    const rng = new Rng(7);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const p = sampleParams(conditional, rng);
      expect(p).toEqual(activeFor(conditional, p));
      if (p['optimizer.type'] !== 'sgd') expect(p).not.toHaveProperty(['optimizer.momentum']);
      if (p['optimizer.centered'] !== true) expect(p).not.toHaveProperty(['optimizer.epsilon']);
      seen.add(Object.keys(p).sort().join(','));
    }
    expect(seen.size).toBe(4); // adam; sgd + momentum; rmsprop uncentered; rmsprop centered + epsilon
  });

  it('grid: every combination, choices with their sub-grids, ints by step, 3 points on a range', () => {
    const g = gridParams(conditional);
    // learning rate 3 × units 3 (of 16) × (adam 1 + sgd 3 momenta + rmsprop (false 1 + true 3 epsilons))
    expect(g).toHaveLength(3 * 3 * (1 + 3 + 1 + 3));
    const key = (p: ParamValues) => JSON.stringify(Object.entries(p).sort());
    expect(new Set(g.map(key)).size).toBe(g.length);
    for (const p of g) expect(p).toEqual(activeFor(conditional, p));
    const count = (path: string) => {
      const out = new Map<unknown, number>();
      for (const p of g) if (path in p) out.set(p[path], (out.get(p[path]) ?? 0) + 1);
      return out;
    };
    expect(count('optimizer.momentum')).toEqual(
      new Map([
        [0, 9],
        [0.495, 9],
        [0.99, 9],
      ]),
    );
    expect(count('optimizer.centered')).toEqual(
      new Map([
        [false, 9],
        [true, 27],
      ]),
    );
    const lrs = [...count('optimizer.learningRate').keys()] as number[];
    [1e-4, 10 ** -2.5, 0.1].forEach((x, i) => expect(lrs[i]).toBeCloseTo(x, 12));
    expect(gridParams({ n: { type: 'int', min: 1, max: 5 } }).map((p) => p.n)).toEqual([1, 2, 3, 4, 5]);
    expect(gridParams({ n: { type: 'int', min: 1, max: 1000, log: true } }).map((p) => p.n)).toEqual([1, 32, 1000]);
  });

  it('bad spaces are refused with the dimension and the fix', () => {
    const refuse = (space: unknown, msg: RegExp) => expect(() => checkSpace(space as Space)).toThrow(msg);
    refuse({}, /no dimensions/);
    refuse(
      { lr: { type: 'logUniform', min: 0, max: 1 } },
      /space: lr: a logUniform range must be positive .*raise min above 0 or use uniform/,
    );
    refuse({ lr: { type: 'uniform', min: 2, max: 1 } }, /space: lr: min 2 is above max 1; swap them/);
    refuse({ n: { type: 'int', min: 1, max: 9, step: 2, log: true } }, /space: n: a log-scaled int range takes no step/);
    refuse({ n: { type: 'int', min: 0, max: 9, log: true } }, /starts at 1 or above/);
    refuse({ n: { type: 'int', min: 1.5, max: 9 } }, /integer min and max/);
    refuse({ o: { type: 'choice', values: [] } }, /space: o: a choice needs at least one value/);
    refuse({ o: { type: 'choice', values: ['a', 'a'] } }, /"a" is listed twice/);
    refuse({ 'model.layers[x].units': { type: 'int', min: 1, max: 2 } }, /not a config path; write it like optimizer.learningRate/);
    refuse({ x: { type: 'normal', min: 1, max: 2 } }, /space: x: unknown type "normal"; use uniform, logUniform, int or choice/);
    refuse(
      {
        o: { type: 'choice', values: [{ value: 'sgd', space: { m: { type: 'uniform', min: 0, max: 1 } } }] },
        m: { type: 'uniform', min: 0, max: 1 },
      },
      /space: o = "sgd" → m: the path is already a dimension at m/,
    );
    refuse(
      { o: { type: 'choice', values: [{ value: 'sgd', space: { m: { type: 'uniform', min: 1, max: 0 } } }] } },
      /space: o = "sgd" → m: min 1 is above max 0/,
    );
  });
});

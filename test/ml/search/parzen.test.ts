// The TPE building blocks against Optuna's own code: fixtures/optuna-golden.json holds densities
// of Optuna's Parzen estimators, its truncated-normal quantiles and masses, and its trial splits,
// computed by fixtures/optuna_golden.py from the same inputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/ml/data/rng.ts';
import { buildParzen, defaultWeights, logPdfParzen, sampleParzen } from '../../../src/core/search/parzen.ts';
import type { Dimension, Scalar } from '../../../src/core/search/space.ts';
import { splitTrials } from '../../../src/core/search/tpe.ts';
import type { Direction, Trial } from '../../../src/core/search/trials.ts';
import { logGaussMass, ppf } from '../../../src/core/search/truncnorm.ts';

interface Golden {
  optuna: string;
  parzen: { name: string; dims: Dimension[]; observations: Scalar[][]; points: Scalar[][]; logPdf: number[] }[];
  ppf: { q: number; a: number; b: number; ppf: number }[];
  logGaussMass: { a: number; b: number; logMass: number }[];
  split: { direction: Direction; table: Trial[]; splits: { nBelow: number; below: number[]; above: number[] }[] }[];
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/optuna-golden.json', import.meta.url), 'utf8')) as Golden;

const internal = (d: Dimension, v: Scalar) => (d.type === 'choice' ? d.values.indexOf(v) : (v as number));
const transpose = (cols: number[][]) => (cols[0] ?? []).map((_, i) => cols.map((c) => c[i]!));

describe(`Parzen estimator and truncated normal, against Optuna ${golden.optuna}`, () => {
  for (const c of golden.parzen) {
    it(`log density: ${c.name}`, () => {
      const pe = buildParzen(
        c.dims,
        c.dims.map((d, i) => c.observations[i]!.map((v) => internal(d, v))),
      );
      const got = logPdfParzen(pe, transpose(c.dims.map((d, i) => c.points[i]!.map((v) => internal(d, v)))));
      got.forEach((g, i) => expect(g).toBeCloseTo(c.logPdf[i]!, 9));
    });
  }

  it('quantiles of truncated normals, tails included', () => {
    for (const q of golden.ppf) expect(ppf(q.q, q.a, q.b), JSON.stringify(q)).toBeCloseTo(q.ppf, 6);
  });

  it('log masses of normal intervals, far tails included', () => {
    for (const m of golden.logGaussMass)
      expect(Math.abs(logGaussMass(m.a, m.b) - m.logMass)).toBeLessThan(1e-9 * Math.max(1, Math.abs(m.logMass)));
  });

  for (const s of golden.split) {
    it(`below/above split of complete and pruned trials (${s.direction})`, () => {
      for (const want of s.splits) {
        const finished = s.table.filter((t) => t.state !== 'running');
        const { below, above } = splitTrials(finished, [], want.nBelow, s.direction);
        expect({ nBelow: want.nBelow, below: below.map((t) => t.id), above: above.map((t) => t.id) }).toEqual(want);
      }
    });
  }

  it('weights: equal up to 25 observations, then the older ones ramp down from 1/n', () => {
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBeCloseTo(1, 12);
    expect(w.slice(5)).toEqual(Array(25).fill(1));
  });

  it('draws stay in range, on the step, and follow the kernels', () => {
    const dims: Dimension[] = [
      { type: 'int', min: 8, max: 130, step: 8 },
      { type: 'logUniform', min: 1e-5, max: 1 },
      { type: 'choice', values: ['a', 'b', 'c'] },
    ];
    // Ten observations at the same point: most of the mass sits near it.
    const pe = buildParzen(dims, [Array(10).fill(64), Array(10).fill(1e-3), Array(10).fill(1)]);
    const draws = sampleParzen(pe, new Rng(4), 2000);
    for (const [units, lr, c] of draws) {
      expect((units! - 8) % 8).toBe(0);
      expect(units).toBeGreaterThanOrEqual(8);
      expect(units).toBeLessThanOrEqual(128); // 130 is off the step grid
      expect(lr).toBeGreaterThanOrEqual(1e-5);
      expect(lr).toBeLessThanOrEqual(1);
      expect([0, 1, 2]).toContain(c);
    }
    const near = draws.filter(([u, lr, c]) => Math.abs(u! - 64) <= 16 && Math.abs(Math.log10(lr!) + 3) < 1 && c === 1).length;
    expect(near / draws.length).toBeGreaterThan(0.5);
  });
});

// Statistics and expectations fed a chunk at a time agree with computeStats and
// evaluateExpectations on the gathered dataset.
import { describe, expect, it } from 'vitest';
import { inMemoryChunks } from '../../../src/ml/data/chunked.ts';
import type { Dataset } from '../../../src/ml/data/dataset.ts';
import { computeStats, type NumericStats, type TextStats } from '../../../src/ml/data/dataset-stats.ts';
import { StatsAccumulator } from '../../../src/ml/data/dataset-stats-merge.ts';
import { ChunkedExpectations } from '../../../src/ml/data/expectations-chunked.ts';
import { evaluateExpectations } from '../../../src/ml/data/expectations.ts';
import { Rng } from '../../../src/ml/data/rng.ts';
import type { Expectation } from '../../../src/spec/types.gen.ts';

function dataset(n: number): Dataset {
  const rng = new Rng(7);
  return {
    rows: n,
    label: 'y',
    columns: [
      // large offset: a naive sum-of-squares merge would lose the variance
      {
        name: 'x',
        type: 'number',
        shape: [],
        data: Float32Array.from({ length: n }, (_, i) => (i % 17 === 3 ? NaN : 1000 + rng.normal() * 3)),
      },
      { name: 'px', type: 'number', shape: [2], data: Float32Array.from({ length: 2 * n }, () => rng.next()) },
      { name: 'empty', type: 'number', shape: [], nullable: true, data: new Float32Array(n).fill(NaN) },
      { name: 't', type: 'string', values: Array.from({ length: n }, (_, i) => (i % 11 === 0 ? null : `w${Math.floor(rng.next() * 60)}`)) },
      { name: 'id', type: 'integer', shape: [], data: Float32Array.from({ length: n }, (_, i) => (i === 4321 || i === 9000 ? 5 : i)) },
      { name: 'y', type: 'integer', shape: [], data: Float32Array.from({ length: n }, () => rng.int(4)) },
    ],
    origin: { file: 'd.csv', unit: 'line', at: Uint32Array.from({ length: n }, (_, i) => i + 2) },
  };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describe('statistics merged over chunks', () => {
  it('equal computeStats on the whole: exact counts, extremes, histogram; mean and std within 1e-6; quantiles from a sample', async () => {
    const ds = dataset(160_000);
    const whole = computeStats(ds, 4);
    const acc = new StatsAccumulator();
    const chunks = inMemoryChunks(ds, 7000);
    for (let i = 0; i < chunks.chunkRows.length; i++) acc.add(await chunks.chunk(i));
    const merged = acc.result(4);
    expect(merged.rows).toBe(whole.rows);
    expect(merged.droppedRows).toBe(4);
    expect(merged.classHistogram).toEqual(whole.classHistogram);
    for (const name of ['x', 'px', 'id', 'y']) {
      const w = whole.columns[name] as NumericStats;
      const m = merged.columns[name] as NumericStats;
      expect({ count: m.count, missing: m.missing, min: m.min, max: m.max }, name).toEqual({
        count: w.count,
        missing: w.missing,
        min: w.min,
        max: w.max,
      });
      expect(rel(m.mean!, w.mean!), `${name} mean`).toBeLessThan(1e-6);
      expect(rel(m.std!, w.std!), `${name} std`).toBeLessThan(1e-6);
      // a sample's quantiles of a 4-valued column may sit on the next value: held to continuous ones
      if (name === 'y') continue;
      const spread = w.max! - w.min!;
      for (const q of ['p05', 'p25', 'p50', 'p75', 'p95'] as const) {
        expect(Math.abs(m.quantiles![q] - w.quantiles![q]) / spread, `${name} ${q}`).toBeLessThan(0.02);
      }
    }
    expect(merged.columns.empty).toEqual(whole.columns.empty);
    expect(merged.columns.t as TextStats).toEqual(whole.columns.t as TextStats);
  });
});

describe('expectations over chunks', () => {
  it('give what evaluateExpectations gives on the whole, with the same five source places', async () => {
    const ds = dataset(12_000);
    const rules: Expectation[] = [
      { rows: { min: 10_000 } },
      { column: 'x', range: { min: 995, max: 1005 } },
      { column: 'y', values: [0, 1, 2] },
      { column: 't', values: ['w1', 'w2'], severity: 'warn' },
      { column: 'id', unique: true },
      { column: 'x', nullShare: { max: 0.01 } },
      { column: 'px', range: { min: 0, max: 1 } },
    ];
    const whole = evaluateExpectations(ds, rules, undefined, 'collect stage "d"');
    const stats = new StatsAccumulator();
    const checks = new ChunkedExpectations(rules, undefined, 'collect stage "d"', (c) => stats.sample(c));
    const chunks = inMemoryChunks(ds, 1000);
    for (let i = 0; i < chunks.chunkRows.length; i++) {
      const c = await chunks.chunk(i);
      stats.add(c);
      checks.add(c);
    }
    const merged = checks.summary();
    expect(merged).toEqual(whole);
    const unique = merged.results.find((r) => r.rule === 'unique')!;
    expect(unique.places, 'the repeats on lines 4323 and 9002, in a later chunk than their first').toEqual([
      'd.csv line 4323, column "id"',
      'd.csv line 9002, column "id"',
    ]);
    expect(merged.failed).toBeGreaterThan(0);
  });

  it('compare a distribution through the seeded sample, close to the whole', async () => {
    const ds = dataset(150_000);
    const rules: Expectation[] = [{ column: 'x', distribution: { max: 0.1 } }];
    const ref = dataset(5000);
    const whole = evaluateExpectations(ds, rules, ref, 'at');
    const stats = new StatsAccumulator();
    const checks = new ChunkedExpectations(rules, ref, 'at', (c) => stats.sample(c));
    const chunks = inMemoryChunks(ds, 16_384);
    for (let i = 0; i < chunks.chunkRows.length; i++) {
      const c = await chunks.chunk(i);
      stats.add(c);
      checks.add(c);
    }
    const m = checks.summary().results[0]!;
    const w = whole.results[0]!;
    expect(m.passed).toBe(w.passed);
    const value = (s: string) => Number(s.split(' ')[1]);
    expect(Math.abs(value(m.observed) - value(w.observed))).toBeLessThan(0.01);
    expect(() => new ChunkedExpectations([{ column: 'nope', unique: true }], undefined, 'at', () => undefined).add(ds)).toThrow(
      /expectation unique names column "nope", which the data does not have/,
    );
  });
});

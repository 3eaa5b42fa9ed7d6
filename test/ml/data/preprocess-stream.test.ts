import { describe, expect, it } from 'vitest';
import { concatDatasets, inMemoryChunks } from '../../../src/ml/data/chunked.ts';
import { computeStats, type NumericStats } from '../../../src/ml/data/dataset-stats.ts';
import { type Dataset, featureTensor, labelVector } from '../../../src/ml/data/dataset.ts';
import {
  applyStep,
  applyTransform,
  type FittedStep,
  type PreprocessStep,
  runPreprocess,
  type Transform,
} from '../../../src/ml/data/preprocess.ts';
import { emptyLike, placeholder, planPass } from '../../../src/ml/data/preprocess-fit-stream.ts';
import { chunkSplits, rowPlan } from '../../../src/ml/data/preprocess-rows-stream.ts';
import { preprocessStream, type StreamOptions, type StreamProgress } from '../../../src/ml/data/preprocess-stream.ts';
import { Reservoir } from '../../../src/ml/data/reservoir.ts';
import { StatsAccumulator } from '../../../src/ml/data/stats-stream.ts';
import { generatedTable } from '../../support/generated-table.ts';

const ROWS = 20_000;
const table = generatedTable(ROWS);

const columnSteps: PreprocessStep[] = [
  { type: 'impute', columns: ['a'], strategy: 'mean' },
  { type: 'impute', columns: ['m'], strategy: 'median' },
  { type: 'impute', columns: ['cat'], strategy: 'mostFrequent' },
  { type: 'standardize', columns: ['a', 'b'] },
  { type: 'minMaxScale', columns: ['m'] },
  { type: 'oneHot', columns: ['cat'] },
  { type: 'labelEncode', columns: ['y'] },
];
const split: PreprocessStep = { type: 'split', train: 0.7, validation: 0.1, test: 0.2, seed: 7, stratify: true };

async function stream(ds: Dataset, chunkRows: number, steps: PreprocessStep[], opts: StreamOptions = {}) {
  const run = await preprocessStream(inMemoryChunks(ds, chunkRows), steps, undefined, 'preprocess stage "prep"', opts);
  const chunks: Dataset[] = [];
  for await (const c of run.chunks) chunks.push(c);
  return { chunks, passes: run.passes, ...run.finish() };
}

const stepOf = <T extends FittedStep['type']>(t: Transform, type: T, i = 0) =>
  t.steps.filter((s) => s.type === type)[i] as Extract<FittedStep, { type: T }>;

function expectRelClose(a: number, b: number, rel = 1e-5) {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.max(Math.abs(a), Math.abs(b), 1e-12));
}

/** Global indices of each split's rows over the chunks. */
function globalSplits(chunks: Dataset[]): Record<string, Set<number>> {
  const out: Record<string, Set<number>> = { train: new Set(), validation: new Set(), test: new Set() };
  let base = 0;
  for (const c of chunks) {
    for (const [name, idx] of Object.entries(c.splits ?? {})) for (const r of idx!) out[name]!.add(base + r);
    base += c.rows;
  }
  return out;
}

describe('preprocess over chunks', () => {
  it('without a split, fits the same parameters as the in-memory path and writes the same features', async () => {
    const mem = runPreprocess(table, columnSteps, undefined, 'mem');
    const s = await stream(table, 1_000, columnSteps);
    expect(s.chunks.map((c) => c.rows)).toEqual(Array(20).fill(1_000));
    const fills = stepOf(s.transform, 'impute', 0).fills;
    expectRelClose(fills.a as number, stepOf(mem.transform, 'impute', 0).fills.a as number);
    // Every train value fits the median's sample: exact.
    expect(stepOf(s.transform, 'impute', 1).fills.m).toBe(stepOf(mem.transform, 'impute', 1).fills.m);
    expect(stepOf(s.transform, 'impute', 2).fills.cat).toBe('red');
    expect(stepOf(mem.transform, 'impute', 2).fills.cat).toBe('red');
    for (const [i, name] of [
      [0, 'a'],
      [0, 'b'],
      [1, 'm'],
    ] as const) {
      const got = stepOf(s.transform, 'scale', i).columns[name]!;
      const want = stepOf(mem.transform, 'scale', i).columns[name]!;
      expectRelClose(got.shift, want.shift);
      expectRelClose(got.scale, want.scale);
    }
    expect(stepOf(s.transform, 'oneHot').columns).toEqual({ cat: ['blue', 'green', 'red'] });
    expect(s.transform.classes).toEqual(['no', 'yes']);
    expect({ ...s.transform, steps: [] }).toEqual({ ...mem.transform, steps: [] });
    const all = concatDatasets(s.chunks, s);
    const got = featureTensor(all).data;
    const want = featureTensor(mem.dataset).data;
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-5);
    expect(Array.from(labelVector(all))).toEqual(Array.from(labelVector(mem.dataset)));
    // Output statistics over the chunks are those of the whole output.
    const whole = computeStats(all);
    expect(s.stats.rows).toBe(ROWS);
    expect(s.stats.classHistogram).toEqual(whole.classHistogram);
    for (const [name, st] of Object.entries(whole.columns)) {
      const mine = s.stats.columns[name] as NumericStats;
      const ref = st as NumericStats;
      expect([mine.count, mine.missing, mine.min, mine.max, mine.quantiles]).toEqual([
        ref.count,
        ref.missing,
        ref.min,
        ref.max,
        ref.quantiles,
      ]);
      expect(mine.mean!).toBeCloseTo(ref.mean!, 9);
      expect(mine.std!).toBeCloseTo(ref.std!, 9);
    }
  });

  it('chunks of 1,000 and one chunk fit the same transform and split the same rows; impute, standardize and oneHot share a pass', async () => {
    const steps = [split, ...columnSteps];
    const beats: StreamProgress[] = [];
    const small = await stream(table, 1_000, steps, { progress: (p) => beats.push(p) });
    const one = await stream(table, ROWS, steps);
    // impute ×3 | standardize, minMaxScale, oneHot, labelEncode | apply
    expect(small.passes).toBe(3);
    expect(beats[0]!.message).toBe('pass 1/3 · chunk 1/20 · fit impute, impute, impute');
    expect(beats[20]!.message).toBe('pass 2/3 · chunk 1/20 · fit standardize, minMaxScale, oneHot, labelEncode');
    expect(beats.at(-1)!.message).toBe('pass 3/3 · chunk 20/20 · apply');
    expect(beats).toHaveLength(60);
    // Each pass reads every chunk once, in order: nothing gathers the dataset.
    const src = inMemoryChunks(table, 1_000);
    const reads: number[] = [];
    const counted = {
      ...src,
      chunk: (i: number) => {
        reads.push(i);
        return src.chunk(i);
      },
    };
    const run = await preprocessStream(counted, steps, undefined, 'x');
    let rows = 0;
    for await (const c of run.chunks) rows += c.rows;
    expect(rows).toBe(ROWS);
    expect(reads).toEqual([...Array(3)].flatMap(() => Array.from({ length: 20 }, (_, i) => i)));

    expect(stepOf(small.transform, 'impute', 2).fills).toEqual(stepOf(one.transform, 'impute', 2).fills);
    expect(stepOf(small.transform, 'impute', 1).fills).toEqual(stepOf(one.transform, 'impute', 1).fills);
    expectRelClose(stepOf(small.transform, 'impute', 0).fills.a as number, stepOf(one.transform, 'impute', 0).fills.a as number);
    for (const [i, name] of [
      [0, 'a'],
      [0, 'b'],
      [1, 'm'],
    ] as const) {
      expectRelClose(stepOf(small.transform, 'scale', i).columns[name]!.shift, stepOf(one.transform, 'scale', i).columns[name]!.shift);
      expectRelClose(stepOf(small.transform, 'scale', i).columns[name]!.scale, stepOf(one.transform, 'scale', i).columns[name]!.scale);
    }
    expect(stepOf(small.transform, 'oneHot')).toEqual(stepOf(one.transform, 'oneHot'));
    expect(stepOf(small.transform, 'labelEncode')).toEqual(stepOf(one.transform, 'labelEncode'));

    const a = globalSplits(small.chunks);
    const b = globalSplits(one.chunks);
    for (const name of ['train', 'validation', 'test'])
      expect([...a[name]!].sort((x, y) => x - y)).toEqual([...b[name]!].sort((x, y) => x - y));
    // Per-row draws: each split's size is binomial around its share (4 standard deviations), per class too.
    const n = { train: 0.7, validation: 0.1, test: 0.2 };
    for (const [name, p] of Object.entries(n)) expect(Math.abs(a[name]!.size - ROWS * p)).toBeLessThan(4 * Math.sqrt(ROWS * p * (1 - p)));
    expect(a.train!.size + a.validation!.size + a.test!.size).toBe(ROWS);
    const all = concatDatasets(small.chunks, small);
    const y = labelVector(all);
    const yes = Array.from(y).filter((v) => v === 1).length;
    const trainYes = [...a.train!].filter((r) => y[r] === 1).length;
    expect(Math.abs(trainYes - yes * 0.7)).toBeLessThan(4 * Math.sqrt(yes * 0.21));
    expect(small.chunks.reduce((s, c) => s + c.rows, 0)).toBe(ROWS);

    // The transform serves raw rows as the chunks hold them (a test row of chunk 13).
    const c = small.chunks[13]!;
    const r = c.splits!.test![0]!;
    const g = 13_000 + r;
    const raw = Object.fromEntries(
      table.columns.map((col) => [col.name, 'data' in col ? (Number.isNaN(col.data[g]!) ? null : col.data[g]) : col.values[g]]),
    );
    const served = applyTransform(small.transform, [raw]).data;
    const stored = featureTensor(c, [r]).data;
    for (let i = 0; i < stored.length; i++) expect(served[i]!).toBeCloseTo(stored[i]!, 5);
  });

  it('a median past its sample is approximate: within the sample rank tolerance of the exact one', async () => {
    const steps: PreprocessStep[] = [{ type: 'impute', columns: ['m'], strategy: 'median' }];
    const exact = await stream(table, 1_000, steps);
    const approx = await stream(table, 1_000, steps, { medianSample: 2_000 });
    const present = Array.from((table.columns[2] as { data: Float32Array }).data)
      .filter((v) => !Number.isNaN(v))
      .sort((x, y) => x - y);
    const rank = (v: number) => present.filter((x) => x < v).length / present.length;
    const e = stepOf(exact.transform, 'impute').fills.m as number;
    const a = stepOf(approx.transform, 'impute').fills.m as number;
    expect(Math.abs(rank(e) - 0.5)).toBeLessThan(1e-3);
    // A uniform sample of 2,000: the median's rank is off by about 1/(2·sqrt(2000)) ≈ 0.011; 4 of those.
    expect(Math.abs(rank(a) - 0.5)).toBeLessThan(0.045);
    expect(a).not.toBe(e);
    expect(stepOf((await stream(table, 500, steps, { medianSample: 2_000 })).transform, 'impute').fills.m).toBe(a);
  });

  it('names the source line of a bad row in a late chunk', async () => {
    const ds = generatedTable(ROWS);
    const y = ds.columns[4] as { values: (string | null)[] };
    // A label seen in no train row, in a row outside the train split of chunk 18.
    const plan = rowPlan([split], true, 'x');
    const local = chunkSplits(plan, 18, 18_000, 1_000).test![0]!;
    y.values[18_000 + local] = 'maybe';
    await expect(stream(ds, 1_000, [split, ...columnSteps])).rejects.toThrow(
      `preprocess stage "prep": labelEncode: gen.csv line ${18_000 + local + 2}, column "y": "maybe" is not one of the 2 values seen in training (no, yes)`,
    );
    // A missing label in a train row is found by the fit pass, named the same way.
    const ds2 = generatedTable(ROWS);
    const trainRow = chunkSplits(plan, 17, 17_000, 1_000).train![0]!;
    (ds2.columns[4] as { values: (string | null)[] }).values[17_000 + trainRow] = null;
    await expect(
      stream(ds2, 1_000, [split, { type: 'labelEncode', columns: ['y'] }, { type: 'standardize', columns: ['y'] }]),
    ).rejects.toThrow(`gen.csv line ${17_000 + trainRow + 2}, column "y": missing value is not one of the 2 values`);
  });

  it('refuses augment on chunks, pointing at train.augment, and shuffles rows within each chunk', async () => {
    await expect(stream(table, 1_000, [{ type: 'augment', flipHorizontal: true }])).rejects.toThrow(/augment: .*`train\.augment`/);
    await expect(stream(table, 1_000, [split, { ...split, seed: 1 } as PreprocessStep])).rejects.toThrow(/only one split step/);
    await expect(stream(table, 1_000, [{ type: 'split', train: 1e-9, test: 0, seed: 3 }])).rejects.toThrow(/the train split is empty/);
    const steps: PreprocessStep[] = [
      { type: 'shuffle', seed: 4 },
      { type: 'labelEncode', columns: ['y'] },
    ];
    const a = await stream(table, 1_000, steps);
    const b = await stream(table, 1_000, steps);
    const order = (c: Dataset) => Array.from(c.splits!.train!);
    expect(order(a.chunks[3]!)).toEqual(order(b.chunks[3]!));
    expect(order(a.chunks[3]!)).not.toEqual(order(a.chunks[4]!));
    expect([...order(a.chunks[3]!)].sort((x, y) => x - y)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(order(a.chunks[3]!).slice(0, 20)).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    const c = await stream(table, 1_000, [
      { type: 'shuffle', seed: 5 },
      { type: 'labelEncode', columns: ['y'] },
    ]);
    expect(order(c.chunks[3]!)).not.toEqual(order(a.chunks[3]!));
  });
});

describe('planning fit passes', () => {
  const schema = emptyLike(table.columns, { label: 'y' });
  /** The steps each pass fits, with stand-ins for the fitted ones as countPasses uses. */
  const passes = (steps: PreprocessStep[]) => {
    const out: string[][] = [];
    let s = schema;
    for (let k = 0; k < steps.length; ) {
      const p = planPass(s, steps, k, 'x');
      for (const f of p.before) s = applyStep(s, f, 'x');
      if (p.members.length === 0) break;
      out.push(p.members.map((m) => ('step' in m ? m.step.type : m.fitted.type)));
      for (const m of p.members) s = applyStep(s, 'acc' in m ? placeholder(s, m.step) : m.fitted, 'x');
      k = p.end;
    }
    return out;
  };

  it('puts steps on different columns in one pass and a step reading a changed column in the next', () => {
    expect(
      passes([
        { type: 'impute', columns: ['a'] },
        { type: 'standardize', columns: ['b'] },
        { type: 'oneHot', columns: ['cat'] },
      ]),
    ).toEqual([['impute', 'standardize', 'oneHot']]);
    expect(
      passes([
        { type: 'impute', columns: ['a'] },
        { type: 'standardize', columns: ['a'] },
      ]),
    ).toEqual([['impute'], ['standardize']]);
    // A default column list after a oneHot still being fitted waits for it; named known columns do not.
    expect(passes([{ type: 'oneHot', columns: ['cat'] }, { type: 'standardize' }])).toEqual([['oneHot'], ['standardize']]);
    expect(
      passes([
        { type: 'oneHot', columns: ['cat'] },
        { type: 'labelEncode', columns: ['y'] },
      ]),
    ).toEqual([['oneHot', 'labelEncode']]);
    // Steps that need no rows are fitted from the schema: before a pass, or inside one.
    expect(
      passes([
        { type: 'drop', columns: ['m'] },
        { type: 'impute', columns: ['a'] },
        { type: 'select', columns: ['a', 'b'] },
        { type: 'standardize', columns: ['b'] },
      ]),
    ).toEqual([['impute', 'select', 'standardize']]);
    expect(
      passes([
        { type: 'drop', columns: ['cat'] },
        { type: 'impute', columns: ['a'], strategy: 'constant', value: 0 },
        { type: 'reshape', shape: [1, 3] },
      ]),
    ).toEqual([]);
  });

  it('reports a bad step with the in-memory message', () => {
    expect(() => planPass(schema, [{ type: 'standardize', columns: ['cat'] }], 0, 'x')).toThrow(
      'x: step standardize: column "cat" holds text; labelEncode or oneHot it first',
    );
    expect(() => planPass(schema, [{ type: 'impute', columns: ['cat'], strategy: 'median' }], 0, 'x')).toThrow(
      /holds text; use strategy mostFrequent/,
    );
    expect(() => planPass(schema, [{ type: 'oneHot', columns: ['nope'] }], 0, 'x')).toThrow(/no column "nope"/);
  });
});

describe('reservoir', () => {
  it('keeps every value up to its capacity, then a uniform sample independent of how values arrive', () => {
    const r = new Reservoir(10, 1);
    for (let i = 0; i < 10; i++) r.add(i);
    expect(r.complete).toBe(true);
    expect(Array.from(r.sorted())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const big = new Reservoir(1_000, 2);
    for (let i = 0; i < 100_000; i++) big.add(i);
    expect(big.complete).toBe(false);
    const s = big.sorted();
    const mean = s.reduce((x, y) => x + y, 0) / s.length;
    // Uniform over 0..99,999: mean 50,000, sd of the sample mean ~ 28,868/sqrt(1000) ≈ 913.
    expect(Math.abs(mean - 50_000)).toBeLessThan(4 * 913);
    expect(new Set(s).size).toBe(1_000);
  });
});

describe('statistics over chunks', () => {
  it('are exact but for quantiles, which past 100,000 rows come from a row sample', () => {
    const n = 250_000;
    const u = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? NaN : ((i * 7919) % n) / n));
    const t = Float32Array.from({ length: 2 * n }, (_, i) => ((i * 104_729) % (2 * n)) / (2 * n));
    const ds: Dataset = {
      rows: n,
      columns: [
        { name: 'u', type: 'number', shape: [], data: u, nullable: true },
        { name: 't', type: 'number', shape: [2], data: t },
      ],
    };
    const acc = new StatsAccumulator();
    const chunks = inMemoryChunks(ds, 10_000);
    return (async () => {
      for (let i = 0; i < chunks.chunkRows.length; i++) acc.add(await chunks.chunk(i));
      const got = acc.result();
      const want = computeStats(ds);
      for (const name of ['u', 't']) {
        const g = got.columns[name] as NumericStats;
        const w = want.columns[name] as NumericStats;
        expect([g.count, g.missing, g.min, g.max]).toEqual([w.count, w.missing, w.min, w.max]);
        expect(g.mean!).toBeCloseTo(w.mean!, 9);
        expect(g.std!).toBeCloseTo(w.std!, 9);
        for (const q of ['p05', 'p25', 'p50', 'p75', 'p95'] as const)
          expect(Math.abs(g.quantiles![q] - w.quantiles![q])).toBeLessThan(0.01);
      }
      expect((got.columns.u as NumericStats).quantiles!.p50).not.toBe((want.columns.u as NumericStats).quantiles!.p50);
    })();
  });
});

describe('the in-memory split', () => {
  it('splits 300,000 rows (a spread of a split list overflowed the stack)', () => {
    const n = 300_000;
    const ds: Dataset = {
      rows: n,
      label: 'y',
      columns: [{ name: 'y', type: 'integer', shape: [], data: Float32Array.from({ length: n }, (_, i) => i % 2) }],
    };
    for (const stratify of [false, true]) {
      const { dataset } = runPreprocess(ds, [{ type: 'split', train: 0.8, test: 0.2, seed: 1, stratify }], undefined, 'x');
      expect([dataset.splits!.train!.length, dataset.splits!.test!.length]).toEqual([240_000, 60_000]);
    }
  });
});

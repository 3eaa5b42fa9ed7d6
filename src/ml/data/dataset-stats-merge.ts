// Statistics of a dataset that arrives a chunk at a time (a streamed collect), in memory bounded
// by the column count, not the row count. Merged exactly: count, missing, min, max, mean and
// standard deviation (Chan et al.'s pairwise update of each chunk's two-pass mean and sum of
// squares, so they agree with computeStats on the whole within float rounding), class
// histograms. Not exact: quantiles come from a seeded reservoir sample of at most 100,000 values
// per column (computeStats strides over the whole column instead), and text columns count at most
// 100,000 distinct values: past that, `distinct` is a lower bound and `top` counts only values
// first seen before the cap.
import { Moments } from './moments.ts';
import { Rng } from './rng.ts';
import { type Column, type Dataset, isNumeric, size } from './dataset.ts';
import { type DatasetStats, type NumericStats, quantile, type TextStats } from './dataset-stats.ts';

const SAMPLE = 100_000;
const TEXT_TRACKED = 100_000;
const f32 = (v: number) => Number(v.toPrecision(7));

interface NumericAcc {
  kind: 'numeric';
  /** Count, mean, squared deviations and range of the present values. */
  moments: Moments;
  missing: number;
  sample: number[];
  /** Present values offered to the reservoir. */
  offered: number;
}
interface TextAcc {
  kind: 'text';
  count: number;
  missing: number;
  counts: Map<string, number>;
}

export class StatsAccumulator {
  private readonly cols = new Map<string, NumericAcc | TextAcc>();
  private classHistogram: Record<string, number> | undefined;
  private rows = 0;
  private readonly rng: Rng;

  constructor(seed = 0) {
    this.rng = new Rng(seed);
  }

  /** Adds one chunk (its `label` and `classes` say which column is the class label). */
  add(ds: Dataset): void {
    this.rows += ds.rows;
    for (const c of ds.columns) {
      if (isNumeric(c)) this.addNumeric(c.name, c.data);
      else this.addText(c.name, c.values);
      if (c.name === ds.label) this.addClasses(ds, c);
    }
  }

  private addNumeric(name: string, data: Float32Array): void {
    let a = this.cols.get(name) as NumericAcc | undefined;
    if (!a) {
      a = { kind: 'numeric', moments: new Moments(), missing: 0, sample: [], offered: 0 };
      this.cols.set(name, a);
    }
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (Number.isNaN(v)) {
        a.missing++;
        continue;
      }
      // reservoir sampling (Algorithm R): every present value equally likely to be kept
      a.offered++;
      if (a.sample.length < SAMPLE) a.sample.push(v);
      else {
        const j = this.rng.int(a.offered);
        if (j < SAMPLE) a.sample[j] = v;
      }
    }
    a.moments.addAll(data);
  }

  private addText(name: string, values: (string | null)[]): void {
    let a = this.cols.get(name) as TextAcc | undefined;
    if (!a) {
      a = { kind: 'text', count: 0, missing: 0, counts: new Map() };
      this.cols.set(name, a);
    }
    for (const v of values) {
      if (v === null) {
        a.missing++;
        continue;
      }
      a.count++;
      const k = a.counts.get(v);
      if (k !== undefined) a.counts.set(v, k + 1);
      else if (a.counts.size < TEXT_TRACKED) a.counts.set(v, 1);
    }
  }

  private addClasses(ds: Dataset, c: Column): void {
    if (isNumeric(c)) {
      if (c.type === 'number' || size(c.shape) !== 1) return;
      this.classHistogram ??= {};
      for (const v of c.data) {
        if (Number.isNaN(v)) continue;
        const k = ds.classes?.[v] ?? String(v);
        this.classHistogram[k] = (this.classHistogram[k] ?? 0) + 1;
      }
    } else {
      this.classHistogram ??= {};
      for (const v of c.values) if (v !== null) this.classHistogram[v] = (this.classHistogram[v] ?? 0) + 1;
    }
  }

  /** A numeric column's sampled present values (at most 100,000, seeded), for the distribution rule. */
  sample(name: string): Float32Array | undefined {
    const a = this.cols.get(name);
    return a?.kind === 'numeric' ? Float32Array.from(a.sample) : undefined;
  }

  /** The statistics of every chunk added, as computeStats gives them for the whole. */
  result(droppedRows?: number): DatasetStats {
    const columns: DatasetStats['columns'] = {};
    for (const [name, a] of this.cols) columns[name] = a.kind === 'numeric' ? numeric(a) : text(a);
    return { rows: this.rows, columns, classHistogram: this.classHistogram, droppedRows };
  }
}

function numeric(a: NumericAcc): NumericStats {
  const m = a.moments;
  if (m.n === 0) return { kind: 'numeric', count: 0, missing: a.missing, min: null, max: null, mean: null, std: null, quantiles: null };
  const s = Float64Array.from(a.sample).sort();
  return {
    kind: 'numeric',
    count: m.n,
    missing: a.missing,
    min: f32(m.lo),
    max: f32(m.hi),
    mean: m.mean,
    std: Math.sqrt(m.m2 / m.n),
    quantiles: {
      p05: f32(quantile(s, 0.05)),
      p25: f32(quantile(s, 0.25)),
      p50: f32(quantile(s, 0.5)),
      p75: f32(quantile(s, 0.75)),
      p95: f32(quantile(s, 0.95)),
    },
  };
}

function text(a: TextAcc): TextStats {
  const top = [...a.counts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, 50);
  return { kind: 'text', count: a.count, missing: a.missing, distinct: a.counts.size, top };
}

// Dataset statistics (dataset-stats.ts's DatasetStats) gathered chunk by chunk, for a dataset
// written in chunks. Counts, missing, min, max, mean and std are exact (Chan's merge of per-chunk
// moments); quantiles come from a seeded uniform sample of 100,000 rows (computeStats strides
// over at most as many values; past 80 scalar columns fewer rows, 8 million values in all),
// shared by the scalar columns so that sampling costs one draw per row that enters, not one per
// value; a tensor column samples its own values. Text columns keep
// a count per distinct value.
import { type Dataset, isNumeric, size } from './dataset.ts';
import { type DatasetStats, quantile } from './dataset-stats.ts';
import { Moments } from './moments.ts';
import { Reservoir, SampleSlots } from './reservoir.ts';

const QUANTILE_SAMPLE = 100_000;
/** Sampled values kept over all scalar columns (32 MB): many columns sample fewer rows each. */
const SAMPLE_BUDGET = 8_000_000;

/** Values come from float32 storage: report them with float32's precision, as computeStats does. */
const f32 = (v: number) => Number(v.toPrecision(7));

type ColumnAcc =
  | { kind: 'numeric'; moments: Moments; missing: number; sample: Float32Array | Reservoir }
  | { kind: 'text'; counts: Map<string, number>; missing: number };

export class StatsAccumulator {
  private rows = 0;
  private readonly cols = new Map<string, ColumnAcc>();
  private classHistogram: Record<string, number> | undefined;
  private rowSample: SampleSlots | undefined;

  add(ds: Dataset): void {
    this.rows += ds.rows;
    if (!this.rowSample) {
      const scalars = ds.columns.filter((c) => isNumeric(c) && size(c.shape) === 1).length;
      this.rowSample = new SampleSlots(Math.max(1_000, Math.min(QUANTILE_SAMPLE, Math.floor(SAMPLE_BUDGET / Math.max(1, scalars)))), 1);
    }
    const rowSample = this.rowSample;
    // The chunk's rows that enter the shared row sample, and their slots.
    const taken: number[] = [];
    for (let r = 0; r < ds.rows; r++) {
      const slot = rowSample.take();
      if (slot >= 0) taken.push(r, slot);
    }
    ds.columns.forEach((c, j) => {
      let acc = this.cols.get(c.name);
      if (!acc) {
        acc = isNumeric(c)
          ? {
              kind: 'numeric',
              moments: new Moments(),
              missing: 0,
              sample: size(c.shape) === 1 ? new Float32Array(rowSample.capacity) : new Reservoir(QUANTILE_SAMPLE, j + 2),
            }
          : { kind: 'text', counts: new Map(), missing: 0 };
        this.cols.set(c.name, acc);
      }
      if (isNumeric(c) && acc.kind === 'numeric') {
        acc.moments.addAll(c.data);
        if (acc.sample instanceof Reservoir) acc.missing += acc.sample.addPresent(c.data);
        else {
          acc.missing += c.data.length - countPresent(c.data);
          for (let k = 0; k < taken.length; k += 2) acc.sample[taken[k + 1]!] = c.data[taken[k]!]!;
        }
      } else if (!isNumeric(c) && acc.kind === 'text') {
        for (const v of c.values) {
          if (v === null) acc.missing++;
          else acc.counts.set(v, (acc.counts.get(v) ?? 0) + 1);
        }
      }
      if (c.name === ds.label) this.countClasses(ds, c);
    });
  }

  /** The present values of a column's sample, sorted. */
  private sampleOf(sample: Float32Array | Reservoir): Float64Array {
    if (sample instanceof Reservoir) return sample.sorted();
    const out = new Float64Array(this.rowSample?.filled ?? 0);
    let n = 0;
    for (let i = 0; i < out.length; i++) if (!Number.isNaN(sample[i]!)) out[n++] = sample[i]!;
    return out.subarray(0, n).sort();
  }

  /** The class histogram of the label, as computeStats counts it. */
  private countClasses(ds: Dataset, c: Dataset['columns'][number]): void {
    if (isNumeric(c)) {
      if (c.type === 'number' || size(c.shape) !== 1) return;
      this.classHistogram ??= {};
      for (const v of c.data) {
        if (Number.isNaN(v)) continue;
        const k = ds.classes?.[v] ?? String(v);
        this.classHistogram[k] = (this.classHistogram[k] ?? 0) + 1;
      }
      return;
    }
    this.classHistogram ??= {};
    for (const v of c.values) if (v !== null) this.classHistogram[v] = (this.classHistogram[v] ?? 0) + 1;
  }

  result(): DatasetStats {
    const columns: DatasetStats['columns'] = {};
    for (const [name, acc] of this.cols) {
      if (acc.kind === 'text') {
        const top = [...acc.counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 50);
        columns[name] = { kind: 'text', count: this.rowsSeen(acc), missing: acc.missing, distinct: acc.counts.size, top };
        continue;
      }
      const m = acc.moments;
      if (m.n === 0) {
        columns[name] = { kind: 'numeric', count: 0, missing: acc.missing, min: null, max: null, mean: null, std: null, quantiles: null };
        continue;
      }
      const s = this.sampleOf(acc.sample);
      columns[name] = {
        kind: 'numeric',
        count: m.n,
        missing: acc.missing,
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
    return { rows: this.rows, columns, classHistogram: this.classHistogram };
  }

  private rowsSeen(acc: { missing: number; counts: Map<string, number> }): number {
    let n = 0;
    for (const v of acc.counts.values()) n += v;
    return n;
  }
}

function countPresent(data: Float32Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isNaN(data[i]!)) n++;
  return n;
}

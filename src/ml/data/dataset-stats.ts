// Per-column statistics of a dataset, stored with it: monitoring compares live traffic with them
// (drift baseline). Tensor columns (images) are summarised over all their values; quantiles of big
// columns come from an evenly strided sample so that collect stays fast.
import { type Dataset, isNumeric, size } from './dataset.ts';

export interface NumericStats {
  kind: 'numeric';
  count: number;
  missing: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  /** p05, p25, p50, p75, p95 (linear interpolation, numpy's default). */
  quantiles: Record<'p05' | 'p25' | 'p50' | 'p75' | 'p95', number> | null;
}
export interface TextStats {
  kind: 'text';
  count: number;
  missing: number;
  distinct: number;
  /** Up to 50 most frequent values with their counts. */
  top: [string, number][];
}
export interface DatasetStats {
  rows: number;
  columns: Record<string, NumericStats | TextStats>;
  /** Class label → count, when the label is a class (integer, category, string, boolean). */
  classHistogram?: Record<string, number>;
  /** Rows dropped by `onBadRows: drop`. */
  droppedRows?: number;
}

const QUANTILE_SAMPLE = 100_000;

/** Values come from float32 storage: report them with float32's precision (4.3, not 4.300000190734863). */
const f32 = (v: number) => Number(v.toPrecision(7));

export function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function numericStats(data: Float32Array): NumericStats {
  let count = 0;
  let missing = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isNaN(v)) {
      missing++;
      continue;
    }
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return { kind: 'numeric', count, missing, min: null, max: null, mean: null, std: null, quantiles: null };
  const mean = sum / count;
  let ss = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
  }
  const stride = Math.max(1, Math.floor(data.length / QUANTILE_SAMPLE));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += stride) if (!Number.isNaN(data[i]!)) sample.push(data[i]!);
  const s = Float64Array.from(sample).sort();
  return {
    kind: 'numeric',
    count,
    missing,
    min: f32(min),
    max: f32(max),
    mean,
    std: Math.sqrt(ss / count),
    quantiles: {
      p05: f32(quantile(s, 0.05)),
      p25: f32(quantile(s, 0.25)),
      p50: f32(quantile(s, 0.5)),
      p75: f32(quantile(s, 0.75)),
      p95: f32(quantile(s, 0.95)),
    },
  };
}

function textStats(values: (string | null)[]): TextStats {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === null) missing++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 50);
  return { kind: 'text', count: values.length - missing, missing, distinct: counts.size, top };
}

export function computeStats(ds: Dataset, droppedRows?: number): DatasetStats {
  const columns: DatasetStats['columns'] = {};
  let classHistogram: Record<string, number> | undefined;
  for (const c of ds.columns) {
    columns[c.name] = isNumeric(c) ? numericStats(c.data) : textStats(c.values);
    if (c.name !== ds.label) continue;
    if (isNumeric(c) && c.type !== 'number' && size(c.shape) === 1) {
      classHistogram = {};
      for (const v of c.data) {
        if (Number.isNaN(v)) continue;
        const k = ds.classes?.[v] ?? String(v);
        classHistogram[k] = (classHistogram[k] ?? 0) + 1;
      }
    } else if (!isNumeric(c)) {
      classHistogram = {};
      for (const v of c.values) if (v !== null) classHistogram[v] = (classHistogram[v] ?? 0) + 1;
    }
  }
  return { rows: ds.rows, columns, classHistogram, droppedRows };
}

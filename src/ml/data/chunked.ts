// A dataset read one chunk at a time, so that data larger than memory flows through collect,
// preprocess, train, evaluate and predict with a peak that follows the chunk size. Every dataset
// artifact opens as one: a v1 bundle (dataset.ts) is a single chunk; a chunked dataset is a small
// manifest artifact (format `mlpipe-dataset-chunks/v1`, below) naming its chunks, each an
// ordinary v1 dataset bundle of at most `chunkRows` rows whose `splits` index rows inside the
// chunk and whose `origin` points at source rows. The manifest holds what a consumer needs before
// reading a chunk: the columns' schema, the label and classes, row counts per chunk and per split,
// and the statistics over all rows.
import type { ArtifactRef } from '../../core/plan.ts';
import { bundleHeader, encodeBundle } from '../../artifacts/bundle.ts';
import { type Column, type ColumnType, type Dataset, isNumeric, SPLITS, type SplitName, takeOrigin } from './dataset.ts';
import type { DatasetStats } from './dataset-stats.ts';

export const CHUNKS_FORMAT = 'mlpipe-dataset-chunks/v1';
/** Rows per chunk when a stage is not told otherwise (20 float columns: ~5 MB a chunk). */
export const DEFAULT_CHUNK_ROWS = 65_536;

/** A column without its values. */
export interface ColumnSchema {
  name: string;
  type: ColumnType;
  /** Numeric columns: one row's shape ([] for a scalar). */
  shape?: number[];
  categories?: string[];
  nullable?: boolean;
}

/** What is known of a dataset without reading its rows. */
export interface DatasetInfo {
  rows: number;
  columns: ColumnSchema[];
  label?: string;
  classes?: string[];
  stats?: DatasetStats;
  /** Rows of each split over all chunks (absent: no split step ran). */
  splitRows?: Partial<Record<SplitName, number>>;
  /** Rows of each chunk, in order. */
  chunkRows: number[];
}

/** A dataset whose rows come a chunk at a time. `chunk(i)` may be called in any order, concurrently. */
export interface ChunkedDataset extends DatasetInfo {
  chunk(i: number): Promise<Dataset>;
}

export function columnSchema(c: Column): ColumnSchema {
  return isNumeric(c)
    ? { name: c.name, type: c.type, shape: c.shape, ...(c.nullable ? { nullable: true } : {}) }
    : { name: c.name, type: c.type, ...(c.categories ? { categories: c.categories } : {}), ...(c.nullable ? { nullable: true } : {}) };
}

function splitRowsOf(ds: Dataset): DatasetInfo['splitRows'] {
  if (!ds.splits) return undefined;
  const out: Partial<Record<SplitName, number>> = {};
  for (const s of SPLITS) if (ds.splits[s]) out[s] = ds.splits[s]!.length;
  return out;
}

/** Rows [from, to) of `ds` with the splits restricted to them (local indices, order kept). */
export function sliceRows(ds: Dataset, from: number, to: number): Dataset {
  const idx = Uint32Array.from({ length: to - from }, (_, i) => from + i);
  const columns: Column[] = ds.columns.map((c) => {
    if (isNumeric(c)) {
      const w = c.shape.reduce((a, b) => a * b, 1);
      return { ...c, data: c.data.slice(from * w, to * w) };
    }
    return { ...c, values: c.values.slice(from, to) };
  });
  let splits: Dataset['splits'];
  if (ds.splits) {
    splits = {};
    for (const s of SPLITS) {
      const all = ds.splits[s];
      if (!all) continue;
      const mine: number[] = [];
      for (const r of all) if (r >= from && r < to) mine.push(r - from);
      splits[s] = Uint32Array.from(mine);
    }
  }
  return { rows: to - from, columns, label: ds.label, classes: ds.classes, splits, origin: takeOrigin(ds.origin, idx) };
}

/**
 * An in-memory dataset seen as chunks of `chunkRows` rows (a v1 artifact opens as one chunk).
 * Within each chunk a split keeps the order the dataset gave it.
 */
export function inMemoryChunks(ds: Dataset, chunkRows = Math.max(ds.rows, 1)): ChunkedDataset {
  const bounds: [number, number][] = [];
  for (let from = 0; from < ds.rows; from += chunkRows) bounds.push([from, Math.min(ds.rows, from + chunkRows)]);
  if (bounds.length === 0) bounds.push([0, 0]);
  const single = bounds.length === 1;
  return {
    rows: ds.rows,
    columns: ds.columns.map(columnSchema),
    label: ds.label,
    classes: ds.classes,
    stats: ds.stats,
    splitRows: splitRowsOf(ds),
    chunkRows: bounds.map(([a, b]) => b - a),
    chunk: async (i) => {
      const b = bounds[i];
      if (!b) throw new RangeError(`chunk ${i} of ${bounds.length}`);
      return single ? ds : sliceRows(ds, b[0], b[1]);
    },
  };
}

/**
 * All chunks as one in-memory dataset (splits offset into the whole), for the consumers that
 * need every row at once. Chunk order is kept; each split lists its rows chunk by chunk.
 */
export async function gatherChunks(c: ChunkedDataset): Promise<Dataset> {
  if (c.chunkRows.length === 1) return c.chunk(0);
  const parts: Dataset[] = [];
  for (let i = 0; i < c.chunkRows.length; i++) parts.push(await c.chunk(i));
  return concatDatasets(parts, c);
}

/** Concatenate datasets of one schema (chunks), with `info`'s label, classes and stats. */
export function concatDatasets(parts: Dataset[], info: Pick<DatasetInfo, 'label' | 'classes' | 'stats'>): Dataset {
  const rows = parts.reduce((a, p) => a + p.rows, 0);
  const first = parts[0];
  if (!first) return { rows: 0, columns: [], label: info.label, classes: info.classes, stats: info.stats };
  const columns: Column[] = first.columns.map((c0, j) => {
    // nullable when any chunk holds a missing value (a streamed source's chunks know only their own)
    const c = !c0.nullable && parts.some((p) => p.columns[j]?.nullable) ? { ...c0, nullable: true } : c0;
    if (isNumeric(c)) {
      const w = c.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(rows * w);
      let o = 0;
      for (const p of parts) {
        const pc = p.columns[j]!;
        if (!isNumeric(pc)) throw new Error(`chunk column ${pc.name} changed type`);
        data.set(pc.data, o);
        o += pc.data.length;
      }
      return { ...c, data };
    }
    const values: (string | null)[] = [];
    for (const p of parts) {
      const pc = p.columns[j]!;
      if (isNumeric(pc)) throw new Error(`chunk column ${pc.name} changed type`);
      for (const v of pc.values) values.push(v);
    }
    return { ...c, values };
  });
  let splits: Dataset['splits'];
  if (parts.some((p) => p.splits)) {
    splits = {};
    for (const s of SPLITS) {
      if (!parts.some((p) => p.splits?.[s])) continue;
      const out: number[] = [];
      let base = 0;
      for (const p of parts) {
        for (const r of p.splits?.[s] ?? []) out.push(base + r);
        base += p.rows;
      }
      splits[s] = Uint32Array.from(out);
    }
  }
  let origin: Dataset['origin'];
  if (parts.every((p) => p.origin && p.origin.file === first.origin?.file && p.origin.unit === first.origin.unit)) {
    const at = new Uint32Array(rows);
    let o = 0;
    for (const p of parts) {
      at.set(p.origin!.at, o);
      o += p.rows;
    }
    origin = { ...first.origin!, at };
  }
  return { rows, columns, label: info.label, classes: info.classes, splits, stats: info.stats, origin };
}

/** The manifest artifact of a chunked dataset. */
export interface ChunksManifest extends Omit<DatasetInfo, 'chunkRows'> {
  format: typeof CHUNKS_FORMAT;
  chunks: { ref: ArtifactRef; rows: number }[];
}

export function encodeManifest(m: Omit<ChunksManifest, 'format'>): Buffer {
  return encodeBundle({ ...m, format: CHUNKS_FORMAT }, []);
}

/** The manifest in `buf`, or undefined when `buf` is a v1 dataset bundle (or anything else). */
export function decodeManifest(buf: Buffer): ChunksManifest | undefined {
  const header = bundleHeader<{ format?: string }>(buf);
  return header.format === CHUNKS_FORMAT ? (header as ChunksManifest) : undefined;
}

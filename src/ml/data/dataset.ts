// The in-memory dataset and its artifact encoding. Numeric columns are Float32Array (a scalar or a
// fixed-shape tensor per row; NaN marks a missing value and is only allowed where the schema says
// nullable); text columns are string arrays. Encoded as a bundle (src/artifacts/bundle.ts): a
// JSON header (schema, splits' sizes, statistics) + one binary buffer per numeric column/split.
import { decodeBundle, encodeBundle } from '../../artifacts/bundle.ts';
import type { DatasetStats } from './dataset-stats.ts';

export type ColumnType = 'number' | 'integer' | 'boolean' | 'string' | 'category';
export type SplitName = 'train' | 'validation' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

export interface NumericColumn {
  name: string;
  type: 'number' | 'integer' | 'boolean';
  /** Shape of one row's value; [] for a scalar. */
  shape: number[];
  data: Float32Array;
  nullable?: boolean;
}
export interface TextColumn {
  name: string;
  type: 'string' | 'category';
  values: (string | null)[];
  /** Allowed values of a category column. */
  categories?: string[];
  nullable?: boolean;
}
export type Column = NumericColumn | TextColumn;

/**
 * Where each row came from, so a bad value found later (an expectation, a NaN reaching training)
 * names the source file and line: `at[r]` is row r's CSV or NDJSON line (`unit: 'line'`) or its
 * 1-based row in a JSON array, Parquet or Arrow file (`unit: 'row'`), or the index of its image
 * in `files` (`unit: 'file'`, an image folder). Kept through row selection,
 * splits (index lists) and augmentation (a copy points at its original).
 */
export interface RowOrigin {
  file: string;
  unit: 'line' | 'row' | 'file';
  at: Uint32Array;
  /** unit 'file' (an image folder): `at[r]` indexes these paths, one file per row. */
  files?: string[];
}

export interface Dataset {
  rows: number;
  columns: Column[];
  /** The target column. */
  label?: string;
  /** Class names when the label was encoded from text (index = class id). */
  classes?: string[];
  /** Row indices of each split. */
  splits?: Partial<Record<SplitName, Uint32Array>>;
  stats?: DatasetStats;
  origin?: RowOrigin;
}

/** Row r's place in its source (`data.csv line 7`, `data.parquet row 7`); `row r+1` without an origin. */
export function rowPlace(ds: Pick<Dataset, 'origin'>, r: number): string {
  const o = ds.origin;
  if (!o || r >= o.at.length) return `row ${r + 1}`;
  if (o.unit === 'file') return o.files?.[o.at[r]!] ?? `row ${r + 1}`;
  return `${o.file} ${o.unit} ${o.at[r]}`;
}

/** The origin of rows `idx` (undefined without one). */
export function takeOrigin(origin: RowOrigin | undefined, idx: ArrayLike<number>): RowOrigin | undefined {
  if (!origin) return undefined;
  const at = new Uint32Array(idx.length);
  for (let i = 0; i < idx.length; i++) at[i] = origin.at[idx[i]!]!;
  return { ...origin, at };
}

/** A dataset of square one-channel images (`image`, side×side×1, values in [0, 1]) and integer `label`s. */
export function imageDataset(side: number, images: Float32Array, labels: Float32Array): Dataset {
  return {
    rows: labels.length,
    label: 'label',
    columns: [
      { name: 'image', type: 'number', shape: [side, side, 1], data: images },
      { name: 'label', type: 'integer', shape: [], data: labels },
    ],
  };
}

export function isNumeric(c: Column): c is NumericColumn {
  return c.type === 'number' || c.type === 'integer' || c.type === 'boolean';
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function column(ds: Dataset, name: string): Column {
  const c = ds.columns.find((x) => x.name === name);
  if (!c) {
    throw new Error(`no column ${JSON.stringify(name)}; columns are ${ds.columns.map((x) => x.name).join(', ')}`);
  }
  return c;
}

/** Rows `idx` of every column (splits dropped). */
export function takeRows(ds: Dataset, idx: ArrayLike<number>): Dataset {
  const n = idx.length;
  const columns: Column[] = ds.columns.map((c) => {
    if (isNumeric(c)) {
      const w = size(c.shape);
      const data = new Float32Array(n * w);
      // Scalars element by element: a subarray per row costs more than the copy.
      if (w === 1) for (let i = 0; i < n; i++) data[i] = c.data[idx[i]!]!;
      else for (let i = 0; i < n; i++) data.set(c.data.subarray(idx[i]! * w, idx[i]! * w + w), i * w);
      return { ...c, data };
    }
    const values = new Array<string | null>(n);
    for (let i = 0; i < n; i++) values[i] = c.values[idx[i]!]!;
    return { ...c, values };
  });
  return { rows: n, columns, label: ds.label, classes: ds.classes, origin: takeOrigin(ds.origin, idx) };
}

/** Feature columns: every column but the label. */
export function featureColumns(ds: Dataset): Column[] {
  return ds.columns.filter((c) => c.name !== ds.label);
}

/**
 * The features of rows `idx` as one float tensor: [n, ...shape] when there is a single feature
 * column (e.g. an image), else [n, total width] with the columns side by side.
 */
export function featureTensor(ds: Dataset, idx?: ArrayLike<number>): { data: Float32Array; shape: number[] } {
  const cols = featureColumns(ds);
  const text = cols.find((c) => !isNumeric(c));
  if (text) {
    throw new Error(
      `feature column ${JSON.stringify(text.name)} holds text; add a oneHot or labelEncode step for it ` + 'in preprocess, or drop it',
    );
  }
  const num = cols as NumericColumn[];
  if (num.length === 0) throw new Error('the dataset has no feature columns');
  const rows = idx ?? Array.from({ length: ds.rows }, (_, i) => i);
  const widths = num.map((c) => size(c.shape));
  const width = widths.reduce((a, b) => a + b, 0);
  const data = new Float32Array(rows.length * width);
  // column by column, scalars without a subarray per value (a chunk of 65,536 rows × 20 columns
  // is over a million values: the per-value views cost more than the copy)
  for (let j = 0, o = 0; j < num.length; o += widths[j]!, j++) {
    const src = num[j]!.data;
    const w = widths[j]!;
    if (w === 1) {
      for (let i = 0; i < rows.length; i++) data[i * width + o] = src[rows[i]!]!;
    } else {
      for (let i = 0; i < rows.length; i++) data.set(src.subarray(rows[i]! * w, rows[i]! * w + w), i * width + o);
    }
  }
  const shape = num.length === 1 && num[0]!.shape.length > 0 ? [rows.length, ...num[0]!.shape] : [rows.length, width];
  return { data, shape };
}

/** The label values of rows `idx`. */
export function labelVector(ds: Dataset, idx?: ArrayLike<number>): Float32Array {
  if (!ds.label) throw new Error('the dataset has no label column; declare `schema.label` in collect or `label` in preprocess');
  const c = column(ds, ds.label);
  if (!isNumeric(c) || c.shape.length > 0) {
    throw new Error(`label column ${JSON.stringify(ds.label)} must be a numeric scalar; add a labelEncode step for it`);
  }
  if (!idx) return c.data.slice();
  const out = new Float32Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = c.data[idx[i]!]!;
  return out;
}

export function splitIndices(ds: Dataset, split: SplitName | 'all'): Uint32Array {
  if (split === 'all') return Uint32Array.from({ length: ds.rows }, (_, i) => i);
  const s = ds.splits?.[split];
  if (!s) {
    throw new Error(
      `the dataset has no ${split} split (it has ${Object.keys(ds.splits ?? {}).join(', ') || 'none'}); ` +
        'add a `split` step to preprocess',
    );
  }
  return s;
}

interface ColumnHeader {
  name: string;
  type: ColumnType;
  shape?: number[];
  part?: number;
  values?: (string | null)[];
  categories?: string[];
  nullable?: boolean;
}
interface DatasetHeader {
  format: 'mlpipe-dataset/v1';
  rows: number;
  label?: string;
  classes?: string[];
  columns: ColumnHeader[];
  splits?: Partial<Record<SplitName, number>>;
  stats?: DatasetStats;
  /** Row origins: the file, the unit and the buffer holding one Uint32 per row. */
  origin?: { file: string; unit: 'line' | 'row' | 'file'; part: number; files?: string[] };
}

function bytes(a: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function encodeDataset(ds: Dataset): Buffer {
  const buffers: Uint8Array[] = [];
  const columns: ColumnHeader[] = ds.columns.map((c) => {
    if (isNumeric(c)) {
      buffers.push(bytes(c.data));
      return { name: c.name, type: c.type, shape: c.shape, part: buffers.length - 1, nullable: c.nullable };
    }
    return { name: c.name, type: c.type, values: c.values, categories: c.categories, nullable: c.nullable };
  });
  const splits: Partial<Record<SplitName, number>> = {};
  for (const s of SPLITS) {
    const idx = ds.splits?.[s];
    if (idx) {
      buffers.push(bytes(idx));
      splits[s] = buffers.length - 1;
    }
  }
  let origin: DatasetHeader['origin'];
  if (ds.origin && ds.origin.at.length === ds.rows) {
    buffers.push(bytes(ds.origin.at));
    origin = {
      file: ds.origin.file,
      unit: ds.origin.unit,
      part: buffers.length - 1,
      ...(ds.origin.files ? { files: ds.origin.files } : {}),
    };
  }
  const header: DatasetHeader = {
    format: 'mlpipe-dataset/v1',
    rows: ds.rows,
    label: ds.label,
    classes: ds.classes,
    columns,
    splits: ds.splits ? splits : undefined,
    stats: ds.stats,
    origin,
  };
  return encodeBundle(header, buffers);
}

export function decodeDataset(buf: Buffer): Dataset {
  const { header: h, buffers } = decodeBundle<DatasetHeader>(buf);
  if (h.format !== 'mlpipe-dataset/v1') throw new Error(`not a dataset artifact (format ${String(h.format)})`);
  const f32 = (i: number) => {
    const b = buffers[i]!;
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const columns: Column[] = h.columns.map((c) =>
    c.type === 'string' || c.type === 'category'
      ? { name: c.name, type: c.type, values: c.values ?? [], categories: c.categories, nullable: c.nullable }
      : { name: c.name, type: c.type, shape: c.shape ?? [], data: f32(c.part!), nullable: c.nullable },
  );
  let splits: Dataset['splits'];
  if (h.splits) {
    splits = {};
    for (const s of SPLITS) {
      const i = h.splits[s];
      if (i !== undefined) {
        const b = buffers[i]!;
        splits[s] = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      }
    }
  }
  let origin: RowOrigin | undefined;
  if (h.origin) {
    const b = buffers[h.origin.part]!;
    origin = {
      file: h.origin.file,
      unit: h.origin.unit,
      at: new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4),
      ...(h.origin.files ? { files: h.origin.files } : {}),
    };
  }
  return { rows: h.rows, columns, label: h.label, classes: h.classes, splits, stats: h.stats, origin };
}

// What `mlpipe artifacts get` writes: a dataset (or one split, or predictions) as CSV, JSON rows
// or Parquet, and a model as a plain TensorFlow.js layers model directory (model.json + weights.bin) that
// `tf.loadLayersModel('file://…/model.json')` loads without mlpipe.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { decodeModel } from '../ml/train/checkpoint.ts';
import { decodeDataset, isNumeric, size, SPLITS, takeRows, type Column, type Dataset, type SplitName } from '../ml/data/dataset.ts';
import { UsageError } from './errors.ts';

/** A float32 as the shortest decimal that reads back as the same float32 (5.1, not 5.099999904632568). */
export function float32Text(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  for (let p = 1; p < 10; p++) {
    const s = String(Number(v.toPrecision(p)));
    if (Math.fround(Number(s)) === v) return s;
  }
  return String(v);
}

/** Rows of one split (`--split`), or all of them. */
export function selectSplit(ds: Dataset, split: string | undefined, what: string): Dataset {
  if (!split) return ds;
  if (!SPLITS.includes(split as SplitName)) throw new UsageError(`--split takes ${SPLITS.join(', ')}; got "${split}"`);
  const idx = ds.splits?.[split as SplitName];
  if (!idx)
    throw new UsageError(
      `${what} has no ${split} split (it has ${Object.keys(ds.splits ?? {}).join(', ') || 'none'}); only a ` +
        'preprocess stage with a split step makes them',
    );
  return takeRows(ds, idx);
}

/** Header names: a tensor column becomes one column per value (`image_0`, `image_1`, …). */
function headers(c: Column): string[] {
  if (!isNumeric(c) || c.shape.length === 0) return [c.name];
  return Array.from({ length: size(c.shape) }, (_, k) => `${c.name}_${k}`);
}

/** One row's values of a column: numbers (NaN → null), text, or a flat array for a tensor. */
function cell(c: Column, r: number): (number | string | null)[] {
  if (!isNumeric(c)) return [c.values[r] ?? null];
  const w = size(c.shape);
  return Array.from(c.data.subarray(r * w, r * w + w), (v) => (Number.isNaN(v) ? null : Number(float32Text(v))));
}

function csvField(v: number | string | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? float32Text(v) : v;
  return /[",\n\r]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function datasetCsv(ds: Dataset): string {
  const lines = [ds.columns.flatMap(headers).map(csvField).join(',')];
  for (let r = 0; r < ds.rows; r++)
    lines.push(
      ds.columns
        .flatMap((c) => cell(c, r))
        .map(csvField)
        .join(','),
    );
  return `${lines.join('\n')}\n`;
}

/** One object per row; a tensor column's value is its flat array. */
export function datasetJson(ds: Dataset): string {
  const rows = Array.from({ length: ds.rows }, (_, r) =>
    Object.fromEntries(ds.columns.map((c) => [c.name, isNumeric(c) && c.shape.length ? cell(c, r) : cell(c, r)[0]])),
  );
  return `${JSON.stringify(rows)}\n`;
}

/**
 * Parquet (hyparquet-writer, Snappy): the CSV's columns with types kept: numbers as FLOAT (the
 * dataset's own float32; a missing value as null), text and categories as STRING, a tensor column
 * as one FLOAT column per value (`image_0`, `image_1`, …) as in the CSV, so pandas and Spark read
 * a flat table.
 */
export function datasetParquet(ds: Dataset): Uint8Array {
  const columnData = ds.columns.flatMap((c): ColumnSource[] => {
    if (!isNumeric(c)) return [{ name: c.name, data: Array.from({ length: ds.rows }, (_, r) => c.values[r] ?? null), type: 'STRING' }];
    const w = size(c.shape);
    return headers(c).map((name, k) => ({
      name,
      data: Array.from({ length: ds.rows }, (_, r) => {
        const v = c.data[r * w + k]!;
        return Number.isNaN(v) ? null : v;
      }),
      type: 'FLOAT',
    }));
  });
  return new Uint8Array(parquetWriteBuffer({ columnData, createdBy: 'mlpipe' }));
}

/** Writes model.json, weights.bin and mlpipe.json (classes, output kind, feature shape) into `dir`. */
export function writeModelDir(bytes: Buffer, dir: string): string[] {
  const { modelJson, weights, meta } = decodeModel(bytes);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(join(dir, 'weights.bin'), weights);
  // What tfjs does not keep: how to read the outputs (class names, probabilities or logits).
  const { spec: _spec, ...about } = meta;
  writeFileSync(join(dir, 'mlpipe.json'), `${JSON.stringify(about, null, 1)}\n`);
  return ['model.json', 'weights.bin', 'mlpipe.json'];
}

/** What `mlpipe artifacts show` prints of an artifact's content: a dataset's shape, a model's signature, a JSON document. */
export function describeContent(kind: string, bytes: Buffer): Record<string, unknown> {
  if (kind === 'dataset') {
    const ds = decodeDataset(bytes);
    return {
      rows: ds.rows,
      columns: ds.columns.map((c) => `${c.name}: ${c.type}${isNumeric(c) && c.shape.length ? `[${c.shape.join('×')}]` : ''}`),
      ...(ds.label ? { label: ds.label } : {}),
      ...(ds.classes ? { classes: ds.classes } : {}),
      ...(ds.splits ? { splits: Object.fromEntries(Object.entries(ds.splits).map(([k, v]) => [k, v!.length])) } : {}),
    };
  }
  if (kind === 'model') {
    const { meta, modelJson } = decodeModel(bytes);
    const layers =
      (modelJson as { modelTopology?: { config?: { layers?: { class_name: string }[] } } }).modelTopology?.config?.layers ?? [];
    return {
      output: meta.outputKind,
      featureShape: meta.featureShape,
      ...(meta.classes ? { classes: meta.classes } : meta.numClasses ? { classes: meta.numClasses } : {}),
      layers: layers.map((l) => l.class_name).join(' → '),
      loss: meta.loss,
    };
  }
  try {
    return { json: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return {}; // a binary artifact (checkpoint, transform): its size and digest say enough
  }
}

// Batch predictions: a whole dataset scored on the model server's path (score.ts), a chunk of rows
// at a time so the transform's arrays and the model's tensors stay bounded however large it is.
// The result is a dataset: the columns the model does not use (ids, the label) kept as they were,
// then `prediction` and, for classifiers, `probability_<class>`.
import { DataError } from '../ml/data/sources.ts';
import { featureColumns, featureTensor, isNumeric, rowPlace, size, takeRows, type Column, type Dataset } from '../ml/data/dataset.ts';
import { nonFiniteMessage } from '../ml/data/finite-check.ts';
import type { Transform } from '../ml/data/preprocess.ts';
import { scoreFeatures, scoreRows, type ScoringModel } from './score.ts';
import type { RowResult } from './signature.ts';

export interface BatchOptions {
  /** Rows per chunk (default 4096). */
  batchRows?: number;
  /** Names the model in errors. */
  what: string;
  /** After each chunk (heartbeats, cancellation); awaited, so timers get their turn. */
  onChunk?: (done: number, total: number) => Promise<void> | void;
}

/** The columns the model reads: the transform's inputs, or every feature of a preprocessed dataset. */
export function modelColumns(ds: Dataset, t: Transform | undefined): string[] {
  if (t) return t.input.filter((c) => c.name !== t.label).map((c) => c.name);
  return featureColumns(ds).map((c) => c.name);
}

/** Rows `idx` of `ds` scored by `s`; `predictions` columns after the kept ones. */
export async function predictDataset(ds: Dataset, idx: Uint32Array, s: ScoringModel, o: BatchOptions): Promise<Dataset> {
  const used = modelColumns(ds, s.transform);
  const have = new Set(ds.columns.map((c) => c.name));
  const missing = used.filter((c) => !have.has(c));
  if (missing.length) {
    throw new DataError(
      'the model reads ' +
        `column${missing.length > 1 ? 's' : ''} ${missing.map((c) => JSON.stringify(c)).join(', ')}, which ` +
        `the dataset lacks (it has ${[...have].join(', ')}); score a dataset ` +
        'with the columns the model was trained on',
    );
  }
  const step = Math.max(1, o.batchRows ?? 4096);
  const results: RowResult[] = [];
  for (let start = 0; start < idx.length; start += step) {
    const chunk = idx.subarray(start, Math.min(idx.length, start + step));
    for (const r of scoreChunk(ds, chunk, s, used, o.what)) results.push(r); // (a spread of 100k rows overflows the stack)
    await o.onChunk?.(start + chunk.length, idx.length);
  }
  const keep = new Set(used);
  const kept = takeRows({ ...ds, columns: ds.columns.filter((c) => !keep.has(c.name)) }, idx).columns;
  const columns = [...kept, ...resultColumns(results, s, ds, new Set(kept.map((c) => c.name)))];
  // Every row, in order: the splits still hold (`mlpipe artifacts get … --split test`).
  const splits = ds.splits && idx.length === ds.rows && idx.every((r, i) => r === i) ? { splits: ds.splits } : {};
  // The label, when kept, stays the label (with its class names): an evaluate stage scores the
  // predictions against it.
  const label =
    ds.label && kept.some((c) => c.name === ds.label) ? { label: ds.label, ...(ds.classes ? { classes: ds.classes } : {}) } : {};
  return { rows: idx.length, columns, ...splits, ...label };
}

function scoreChunk(ds: Dataset, chunk: Uint32Array, s: ScoringModel, used: string[], what: string): RowResult[] {
  if (!s.transform) {
    const part = takeRows({ ...ds, columns: ds.columns.filter((c) => used.includes(c.name)), label: undefined }, chunk);
    let x: { data: Float32Array; shape: number[] };
    try {
      x = featureTensor(part);
    } catch (e) {
      throw new DataError(`${(e as Error).message}; or give the stage its preprocess stage's \`transform\` and the raw dataset`);
    }
    // a missing or infinite feature is the input's fault, named by its source row, not the model's
    const bad = nonFiniteMessage(
      part,
      x,
      Array.from({ length: chunk.length }, (_, i) => i),
      'prediction',
    );
    if (bad) throw new DataError(bad);
    if (x.shape.slice(1).join('x') !== s.meta.featureShape.join('x')) {
      throw new DataError(
        `the dataset's features have shape [${x.shape.slice(1).join(', ')}] but the model takes ` +
          `[${s.meta.featureShape.join(', ')}]; score the dataset the model was trained on, or give the stage ` +
          `its preprocess stage's \`transform\``,
      );
    }
    return scoreFeatures(s, x, s.meta.classes ?? ds.classes, what);
  }
  try {
    return scoreRows({ ...s, transform: s.transform }, rowObjects(ds, chunk, used), what);
  } catch (e) {
    // The check counts rows from 1 within the chunk: name the dataset's row instead.
    if (!(e instanceof DataError)) throw e;
    // (with a source, its file and line)
    throw new DataError(
      e.message.replace(/^row (\d+)/, (_, n: string) => {
        const r = chunk[Number(n) - 1]!;
        return ds.origin ? rowPlace(ds, r) : `row ${r + 1} of the dataset`;
      }),
    );
  }
}

/** Rows as the server receives them: a missing number (NaN) or text (null) becomes null. */
function rowObjects(ds: Dataset, chunk: Uint32Array, used: string[]): Record<string, unknown>[] {
  const cols = used.map((n) => ds.columns.find((c) => c.name === n)!);
  return Array.from(chunk, (r) => {
    const row: Record<string, unknown> = {};
    for (const c of cols) {
      if (!isNumeric(c)) row[c.name] = c.values[r] ?? null;
      else if (c.shape.length) row[c.name] = Array.from(c.data.subarray(r * size(c.shape), (r + 1) * size(c.shape)));
      else row[c.name] = Number.isNaN(c.data[r]!) ? null : c.data[r]!;
    }
    return row;
  });
}

function resultColumns(results: RowResult[], s: ScoringModel, ds: Dataset, taken: Set<string>): Column[] {
  const name = (n: string) => {
    if (taken.has(n))
      throw new DataError(`the dataset has a column ${JSON.stringify(n)}, the name of an output of the predictions; rename it in collect`);
    return n;
  };
  if (s.meta.outputKind === 'values') {
    return [{ name: name('prediction'), type: 'number', shape: [], data: Float32Array.from(results, (r) => r.value!) }];
  }
  const classes = s.meta.classes ?? s.transform?.classes ?? ds.classes;
  const prediction: Column = classes
    ? { name: name('prediction'), type: 'category', categories: classes, values: results.map((r) => String(r.label)) }
    : { name: name('prediction'), type: 'integer', shape: [], data: Float32Array.from(results, (r) => r.classId!) };
  const k = results[0]?.probabilities?.length ?? 0;
  const probs: Column[] = Array.from({ length: k }, (_, j) => ({
    name: name(`probability_${classes?.[j] ?? j}`),
    type: 'number',
    shape: [],
    data: Float32Array.from(results, (r) => r.probabilities![j]!),
  }));
  return [prediction, ...probs];
}

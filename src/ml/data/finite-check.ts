// A missing or infinite value that reaches a model (training, validation, evaluation) named in
// the source's terms: the dataset row's origin (`d.csv line 20`), the column and, for a tensor
// column, the item; never a bare tensor index, which maps to no row of the user's file.
import { type Dataset, featureColumns, isNumeric, rowPlace, size } from './dataset.ts';

/** Which feature column (and item of a tensor column) holds position k of a feature row. */
function featureAt(ds: Dataset, k: number): { name: string; item: string } {
  let o = 0;
  for (const c of featureColumns(ds)) {
    const w = isNumeric(c) ? size(c.shape) : 1;
    if (k < o + w) return { name: c.name, item: w > 1 ? ` item ${k - o}` : '' };
    o += w;
  }
  return { name: '?', item: '' };
}

const shown = (v: number) => (Number.isNaN(v) ? 'missing (NaN)' : String(v));

/**
 * The first non-finite feature of `x` (built from dataset rows `rows`) or label in `y`, as
 * `d.csv line 20, column "b": the feature is missing (NaN)…`; undefined when all are finite.
 * `use` says where it was going (`training`, `evaluation`).
 */
export function nonFiniteMessage(
  ds: Dataset,
  x: { data: Float32Array; shape: number[] },
  rows: ArrayLike<number>,
  use: string,
  y?: ArrayLike<number>,
): string | undefined {
  const width = x.shape[0] ? x.data.length / x.shape[0] : 0;
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i]!;
    if (Number.isFinite(v)) continue;
    const sample = Math.floor(i / width);
    const { name, item } = featureAt(ds, i % width);
    return (
      `${rowPlace(ds, rows[sample]!)}, column ${JSON.stringify(name)}${item}: the feature is ${shown(v)} when it reaches ${use} ` +
      `(sample ${sample + 1}); fix the row, or add an impute step to preprocess (feature columns: ${featureColumns(ds)
        .map((c) => c.name)
        .join(', ')})`
    );
  }
  if (y) {
    for (let i = 0; i < y.length; i++) {
      if (Number.isFinite(y[i]!)) continue;
      return (
        `${rowPlace(ds, rows[i]!)}, column ${JSON.stringify(ds.label)}: the label is ${shown(y[i]!)} when it ` +
        `reaches ${use}; fix the row, or drop rows without a label ` +
        '(onBadRows: drop with a non-nullable label column)'
      );
    }
  }
  return undefined;
}

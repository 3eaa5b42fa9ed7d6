// What evaluate scores when it is given a predict stage's output instead of a model: the rows'
// true labels (the label column the predictions kept), the predicted labels (`prediction`) and,
// for a classifier, the class probabilities (`probability_<class>`, in the classes' order). The
// classes are the prediction column's categories, which are the model's own: the true labels are
// translated to them by name, with the same unseen-label policy as a model's evaluation.
import { DataError } from '../data/sources.ts';
import { column, isNumeric, type Dataset } from '../data/dataset.ts';
import { alignLabels, type UnseenLabels } from './labels.ts';

export interface ScoredRows {
  classification: boolean;
  yTrue: Float64Array;
  yPred: Float64Array;
  /** Per row, one probability per class (classifiers whose predictions kept them). */
  scores?: number[][];
  classes?: string[];
  /** The confusion matrix's class ids. */
  classIds?: number[];
  unseen: { label: string; rows: number[] }[];
}

const PREDICTION = 'prediction';

export function scoredRows(ds: Dataset, idx: Uint32Array, policy: UnseenLabels): ScoredRows {
  const names = ds.columns.map((c) => c.name);
  if (!names.includes(PREDICTION)) {
    throw new DataError(
      `the dataset has no \`${PREDICTION}\` column (it has ${names.join(', ')}); \`inputs.predictions\` takes a predict stage's output`,
    );
  }
  if (!ds.label || !names.includes(ds.label)) {
    throw new DataError(
      'the predictions carry no label column to compare with: predict a dataset that has its label (collect `schema.label`), ' +
        'so the predict stage keeps it beside `prediction`',
    );
  }
  const pred = column(ds, PREDICTION);
  const label = column(ds, ds.label);
  const rows = Array.from(idx);
  if (isNumeric(pred) && pred.type === 'number') {
    // A regressor's values against the label's values.
    if (!isNumeric(label))
      throw new DataError(`the label column ${JSON.stringify(ds.label)} is text but the predictions are numbers (a regressor's)`);
    return {
      classification: false,
      yTrue: Float64Array.from(rows, (r) => label.data[r]!),
      yPred: Float64Array.from(rows, (r) => pred.data[r]!),
      unseen: [],
    };
  }
  // A classifier: the model's classes are the prediction column's categories (or its integer ids).
  const classes = isNumeric(pred) ? undefined : pred.categories;
  const k = classes?.length ?? Math.max(0, ...rows.map((r) => (isNumeric(pred) ? pred.data[r]! : 0))) + 1;
  const yPred = Float64Array.from(rows, (r) => (isNumeric(pred) ? pred.data[r]! : classes!.indexOf(pred.values[r] ?? '')));
  // The true labels as names, then as ids into that list of names (what alignLabels translates).
  // (a label encoded to ids names them through the dataset's classes)
  const trueNames = rows.map((r) => (isNumeric(label) ? (ds.classes?.[label.data[r]!] ?? String(label.data[r])) : (label.values[r] ?? '')));
  const dataClasses = [...new Set(trueNames)].sort();
  const ids = trueNames.map((n) => dataClasses.indexOf(n));
  const aligned = alignLabels(ids, rows, dataClasses, classes ? { classes } : { numClasses: k }, policy);
  const probs = (classes ?? Array.from({ length: k }, (_, i) => String(i))).map((c) =>
    ds.columns.find((col) => col.name === `probability_${c}`),
  );
  const scores = probs.every((c) => c && isNumeric(c))
    ? rows.map((r) => probs.map((c) => (c as { data: Float32Array }).data[r]!))
    : undefined;
  return {
    classification: true,
    yTrue: aligned.yTrue,
    yPred,
    scores,
    classes: aligned.classes,
    classIds: aligned.labels,
    unseen: aligned.unseen,
  };
}

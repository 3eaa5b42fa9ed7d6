// Evaluation labels in the model's class ids. A dataset encodes its label with its own class list
// (a separately preprocessed evaluation set may order, drop or add classes), so its ids are
// translated through the class names to the ids the model was trained with. A label the model
// never saw is an error naming it and its rows, or (policy `ownClass`) a class of its own that the
// model can only get wrong.
import { DataError } from '../data/sources.ts';

export type UnseenLabels = 'error' | 'ownClass';

export interface ModelClasses {
  /** Class names, index = the model's class id (labels encoded from text). */
  classes?: string[];
  numClasses?: number;
}

export interface AlignedLabels {
  /** True labels as the model's class ids; unseen ones (ownClass) after the model's. */
  yTrue: Float64Array;
  /** Names of every class id in `yTrue` and predictions; undefined when nothing names them. */
  classes?: string[];
  /** Class ids 0..n-1 (the model's, then the unseen ones): the confusion matrix's rows and columns. */
  labels: number[];
  unseen: { label: string; rows: number[] }[];
}

const MAX_ROWS_SHOWN = 10;

/**
 * `values`: the label column's values for dataset rows `rows` (0-based); `dataClasses`: the
 * dataset's class names when its label was encoded from text.
 */
export function alignLabels(
  values: ArrayLike<number>,
  rows: ArrayLike<number>,
  dataClasses: string[] | undefined,
  model: ModelClasses,
  policy: UnseenLabels,
): AlignedLabels {
  const k = model.classes?.length ?? model.numClasses ?? 0;
  if (k === 0) {
    // Nothing says which classes the model knows: the ids are taken as they are.
    const yTrue = Float64Array.from(values);
    return { yTrue, classes: dataClasses, labels: [...new Set(yTrue)].sort((a, b) => a - b), unseen: [] };
  }
  const nameOf = (v: number) => (dataClasses ? (dataClasses[v] ?? String(v)) : String(v));
  const modelId = (v: number): number => {
    const name = nameOf(v);
    if (model.classes) return model.classes.indexOf(name);
    // A model trained on integer labels: its ids are the label values themselves.
    const id = Number(name);
    return Number.isInteger(id) && id >= 0 && id < k ? id : -1;
  };
  const yTrue = new Float64Array(values.length);
  const unseenRows = new Map<string, number[]>();
  for (let i = 0; i < values.length; i++) {
    const id = modelId(values[i]!);
    yTrue[i] = id;
    if (id < 0) {
      const name = nameOf(values[i]!);
      let list = unseenRows.get(name);
      if (!list) unseenRows.set(name, (list = []));
      list.push(rows[i]! + 1);
    }
  }
  const names = [...unseenRows.keys()].sort();
  const unseen = names.map((label) => ({ label, rows: unseenRows.get(label)!.sort((a, b) => a - b) }));
  const known = model.classes ?? Array.from({ length: k }, (_, i) => String(i));
  if (unseen.length && policy === 'error') {
    throw new DataError(
      `the evaluation labels hold ${unseen.length === 1 ? 'a class' : `${unseen.length} classes`} the model was not trained on: ` +
        `${unseen.map(describe).join('; ')}. The model's classes: ${known.join(', ')}. Encode the evaluation data with the ` +
        `training classes (declare the label's values in collect), or set \`unseenLabels: ownClass\` to count them as classes of their own`,
    );
  }
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i]! < 0) yTrue[i] = k + names.indexOf(nameOf(values[i]!));
  }
  const named = !!model.classes || !!dataClasses || unseen.length > 0;
  return {
    yTrue,
    classes: named ? [...known, ...names] : undefined,
    labels: Array.from({ length: k + names.length }, (_, i) => i),
    unseen,
  };
}

function describe(u: { label: string; rows: number[] }): string {
  const shown = u.rows.slice(0, MAX_ROWS_SHOWN).join(', ');
  const more = u.rows.length > MAX_ROWS_SHOWN ? ` and ${u.rows.length - MAX_ROWS_SHOWN} more` : '';
  return `${JSON.stringify(u.label)} (dataset ${u.rows.length === 1 ? 'row' : 'rows'} ${shown}${more})`;
}

/** The warning an `ownClass` evaluation gives for its unseen labels. */
export function unseenWarning(unseen: AlignedLabels['unseen']): string | undefined {
  if (!unseen.length) return undefined;
  const n = unseen.reduce((a, u) => a + u.rows.length, 0);
  return (
    `${n} evaluation ${n === 1 ? 'row has a label' : 'rows have labels'} the model was not trained on, counted as classes of their own ` +
    `(every such row is a miss): ${unseen.map(describe).join('; ')}`
  );
}

// What a served version takes and gives, shared by every protocol (mlpipe's own route, TF Serving
// REST, KServe v2): the raw columns the model really uses (one named input each) and its outputs.
// A column that the saved transform drops (an `id` dropped in preprocess) is not an input: the
// server answers without it, and mlpipe's route echoes it back as a pass-through column.
import type { ModelMeta } from '../ml/train/checkpoint.ts';
import type { InputColumn, Transform } from '../ml/data/preprocess.ts';

export type DType = 'float' | 'int64' | 'bool' | 'string';

export interface TensorSpec {
  name: string;
  dtype: DType;
  /** Shape of one row's value ([] for a scalar); the batch dimension is not included. */
  shape: number[];
}

export interface Signature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  classification: boolean;
  /** Class names (index = class id) where the label was encoded from text. */
  classes?: string[];
}

/** One row's answer, before a protocol shapes it. */
export interface RowResult {
  label?: string | number;
  classId?: number;
  probabilities?: number[];
  value?: number;
}

/**
 * Raw columns whose values reach the model's features: each column's name is followed through the
 * fitted steps (select/drop remove, oneHot renames to `<col>_<value>`, reshape merges) and a
 * column counts as used when something derived from it is still a feature at the end.
 */
export function usedColumns(t: Transform): Set<string> {
  let cols = new Map<string, Set<string>>();
  for (const c of t.input) cols.set(c.name, new Set([c.name]));
  for (const f of t.steps) {
    if (f.type === 'drop') for (const n of f.columns) cols.delete(n);
    else if (f.type === 'select') cols = new Map([...cols].filter(([n]) => f.columns.includes(n) || n === t.label));
    else if (f.type === 'oneHot') {
      const next = new Map<string, Set<string>>();
      for (const [n, o] of cols) {
        const cats = f.columns[n];
        if (cats) for (const k of cats) next.set(`${n}_${k}`, o);
        else next.set(n, o);
      }
      cols = next;
    } else if (f.type === 'reshape') {
      const merged = new Set<string>();
      const next = new Map<string, Set<string>>();
      for (const [n, o] of cols) {
        if (n === t.label) next.set(n, o);
        else for (const x of o) merged.add(x);
      }
      next.set(f.name, merged);
      cols = next;
    }
  }
  const used = new Set<string>();
  for (const [n, o] of cols) if (n !== t.label) for (const x of o) used.add(x);
  return used;
}

/** The transform as served: its input schema holds only the used columns, so no other is demanded. */
export function servingTransform(t: Transform): Transform {
  const used = usedColumns(t);
  return { ...t, input: t.input.filter((c) => used.has(c.name) || c.name === t.label) };
}

function dtypeOf(c: InputColumn): DType {
  if (c.shape?.length) return 'float';
  if (c.type === 'string' || c.type === 'category') return 'string';
  if (c.type === 'boolean') return 'bool';
  return c.type === 'integer' ? 'int64' : 'float';
}

export function signatureOf(t: Transform, meta: ModelMeta): Signature {
  const inputs = t.input.filter((c) => c.name !== t.label).map((c) => ({ name: c.name, dtype: dtypeOf(c), shape: c.shape ?? [] }));
  if (meta.outputKind === 'values') return { inputs, outputs: [{ name: 'value', dtype: 'float', shape: [] }], classification: false };
  const classes = meta.classes ?? t.classes;
  const k = Math.max(classes?.length ?? 0, meta.numClasses ?? 0, 2);
  return {
    inputs,
    classification: true,
    classes,
    outputs: [
      { name: 'probabilities', dtype: 'float', shape: [k] },
      { name: 'class_id', dtype: 'int64', shape: [] },
      // The class name where the label was text, else the id again (as a string).
      { name: 'label', dtype: 'string', shape: [] },
    ],
  };
}

/** One output of one row, as JSON. */
export function outputValue(r: RowResult, name: string): unknown {
  if (name === 'value') return r.value;
  if (name === 'probabilities') return r.probabilities;
  if (name === 'class_id') return r.classId;
  if (name === 'label') return String(r.label);
  return undefined;
}

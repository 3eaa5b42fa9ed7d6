// The preprocess stage's steps. Column steps (select/drop, impute, standardize, minMaxScale,
// oneHot, labelEncode, reshape) are fitted on the training split only and recorded in a
// Transform; `applyTransform` replays exactly those fitted steps on new rows at serving time, so
// training and serving see identical features. Row steps (shuffle, split, augment) only shape
// the training data and are not part of the transform.
import {
  type Column,
  column,
  type Dataset,
  featureTensor,
  isNumeric,
  type NumericColumn,
  rowPlace,
  size,
  type SplitName,
  takeOrigin,
  type TextColumn,
} from './dataset.ts';
import { Rng, permutation } from './rng.ts';
import { DataError, type ColumnSpec } from './sources.ts';
import { checkRows } from './input-check.ts';
import { splitRows, type SplitSpec } from './preprocess-split.ts';

export type PreprocessStep =
  | { type: 'select' | 'drop'; columns: string[] }
  | { type: 'impute'; columns?: string[]; strategy?: 'mean' | 'median' | 'mostFrequent' | 'constant'; value?: string | number | boolean }
  | { type: 'standardize'; columns?: string[] }
  | { type: 'minMaxScale'; columns?: string[]; min?: number; max?: number }
  | { type: 'oneHot' | 'labelEncode'; columns: string[] }
  | { type: 'reshape'; shape: number[] }
  | { type: 'augment'; flipHorizontal?: boolean; flipVertical?: boolean; shiftPixels?: number; copies?: number; seed?: number }
  | { type: 'shuffle'; seed?: number }
  | ({ type: 'split' } & SplitSpec);

/** A column step with everything it learned from the training rows. */
export type FittedStep =
  | { type: 'select' | 'drop'; columns: string[] }
  | { type: 'impute'; fills: Record<string, number | string> }
  | { type: 'scale'; op: 'standardize' | 'minMaxScale'; columns: Record<string, { shift: number; scale: number }> }
  | { type: 'oneHot'; columns: Record<string, string[]> }
  | { type: 'labelEncode'; columns: Record<string, string[]> }
  | { type: 'reshape'; shape: number[]; name: string };

export interface Transform {
  format: 'mlpipe-transform/v1';
  /** Columns the transform reads (the raw input schema, label included). */
  input: InputColumn[];
  label?: string;
  /** Class names of an encoded label (index = class id). */
  classes?: string[];
  steps: FittedStep[];
  /** Shape of one transformed example, e.g. [4] or [28, 28, 1]. */
  featureShape: number[];
  featureColumns: string[];
}

export interface PreprocessResult {
  dataset: Dataset;
  transform: Transform;
}

export const isRowStep = (s: PreprocessStep) => s.type === 'shuffle' || s.type === 'split' || s.type === 'augment';

export function textKey(c: Column, r: number): string | null {
  if (isNumeric(c)) {
    const v = c.data[r]!;
    return Number.isNaN(v) ? null : String(v);
  }
  return c.values[r] ?? null;
}

function replaceColumn(ds: Dataset, name: string, cols: Column[]): Dataset {
  const i = ds.columns.findIndex((c) => c.name === name);
  const columns = [...ds.columns];
  columns.splice(i, 1, ...cols);
  return { ...ds, columns };
}

export function numericCol(ds: Dataset, name: string, at: string, step: string): NumericColumn {
  const c = requireColumn(ds, name, at, step);
  if (!isNumeric(c)) throw new DataError(`${at}: ${step}: column ${JSON.stringify(name)} holds text; labelEncode or oneHot it first`);
  return c;
}

export function requireColumn(ds: Dataset, name: string, at: string, step: string): Column {
  const c = ds.columns.find((x) => x.name === name);
  if (!c)
    throw new DataError(
      `${at}: ${step}: no column ${JSON.stringify(name)} (columns: ${ds.columns.map((x) => x.name).join(', ')}); fix the step's columns`,
    );
  return c;
}

/** Default columns of scaling steps: numeric features (not the label, not booleans). */
export function defaultNumeric(ds: Dataset): string[] {
  return ds.columns.filter((c) => c.name !== ds.label && isNumeric(c) && c.type !== 'boolean').map((c) => c.name);
}

/** The step of type `T`, as the spec gives it. */
export type StepOf<T extends PreprocessStep['type']> = Extract<PreprocessStep, { type: T }>;

export function fitStep(ds: Dataset, step: PreprocessStep, train: ArrayLike<number>, at: string): FittedStep {
  switch (step.type) {
    case 'select':
    case 'drop':
      for (const c of step.columns) requireColumn(ds, c, at, `step ${step.type}`);
      return { type: step.type, columns: step.columns };
    case 'impute':
      return fitImpute(ds, step, train, at);
    case 'standardize':
    case 'minMaxScale':
      return fitScale(ds, step, train, at);
    case 'oneHot':
    case 'labelEncode':
      return fitCategories(ds, step, train, at);
    case 'reshape':
      return fitReshape(ds, step, at);
    default:
      throw new DataError(`${at}: ${(step as { type: string }).type} is not a column step`);
  }
}

function fitImpute(ds: Dataset, step: StepOf<'impute'>, train: ArrayLike<number>, at: string): FittedStep {
  const fills: Record<string, number | string> = {};
  for (const name of imputeColumns(ds, step)) {
    const c = requireColumn(ds, name, at, 'step impute');
    const how = imputeHow(c, name, step.strategy ?? 'mean', at);
    if (how === 'constant') fills[name] = constantFill(c, step.value, at);
    else if (how === 'mostFrequent') fills[name] = mostFrequentFill(c, name, train, at);
    else fills[name] = centralFill(c as NumericColumn, name, how, train, at); // imputeHow: mean/median only for numeric columns
  }
  return { type: 'impute', fills };
}

/** The columns an impute step fills: those it names, else every column but the label. */
export function imputeColumns(ds: Dataset, step: StepOf<'impute'>): string[] {
  return step.columns ?? ds.columns.filter((c) => c.name !== ds.label).map((c) => c.name);
}

/** How column `c` is imputed; text columns only by their most frequent value or a constant. */
export function imputeHow(
  c: Column,
  name: string,
  strategy: NonNullable<StepOf<'impute'>['strategy']>,
  at: string,
): 'constant' | 'mostFrequent' | 'mean' | 'median' {
  if (strategy === 'constant') return 'constant';
  if (!isNumeric(c) && strategy !== 'mostFrequent') {
    throw new DataError(`${at}: impute: column ${JSON.stringify(name)} holds text; use strategy mostFrequent or constant`);
  }
  return isNumeric(c) ? strategy : 'mostFrequent';
}

export function constantFill(c: Column, value: StepOf<'impute'>['value'], at: string): number | string {
  if (value === undefined) throw new DataError(`${at}: impute with strategy constant needs a value`);
  return isNumeric(c) ? Number(value) : String(value);
}

/** The most frequent value in the train rows. */
function mostFrequentFill(c: Column, name: string, train: ArrayLike<number>, at: string): number | string {
  const counts = new Map<string, number>();
  for (let i = 0; i < train.length; i++) {
    const k = textKey(c, train[i]!);
    if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return pickMostFrequent(counts, isNumeric(c), name, at);
}

/** The value counted most often (value → count, keys as textKey writes them). */
export function pickMostFrequent(counts: Map<string, number>, numeric: boolean, name: string, at: string): number | string {
  // Ties: the smallest value, as scikit-learn's SimpleImputer does.
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || (numeric ? Number(a[0]) - Number(b[0]) : a[0] < b[0] ? -1 : 1))[0];
  if (!best) throw new DataError(`${at}: impute: column ${JSON.stringify(name)} has no values in the train split`);
  return numeric ? Number(best[0]) : best[0];
}

/** The mean or median of a numeric column's present values (every element of a tensor column) in the train rows. */
function centralFill(c: NumericColumn, name: string, strategy: 'mean' | 'median', train: ArrayLike<number>, at: string): number {
  const w = size(c.shape);
  const vals: number[] = [];
  for (let i = 0; i < train.length; i++) {
    for (let k = 0; k < w; k++) {
      const v = c.data[train[i]! * w + k]!;
      if (!Number.isNaN(v)) vals.push(v);
    }
  }
  if (vals.length === 0) throw new DataError(`${at}: impute: column ${JSON.stringify(name)} has no values in the train split`);
  if (strategy === 'mean') return vals.reduce((a, b) => a + b, 0) / vals.length;
  vals.sort((a, b) => a - b);
  const m = vals.length >> 1;
  return vals.length % 2 ? vals[m]! : (vals[m - 1]! + vals[m]!) / 2;
}

type Scale = { shift: number; scale: number };

function fitScale(ds: Dataset, step: StepOf<'standardize' | 'minMaxScale'>, train: ArrayLike<number>, at: string): FittedStep {
  const cols: Record<string, Scale> = {};
  for (const name of step.columns ?? defaultNumeric(ds)) {
    const c = numericCol(ds, name, at, `step ${step.type}`);
    const stats = presentStats(c, train);
    if (stats.n === 0) throw new DataError(`${at}: ${step.type}: column ${JSON.stringify(name)} has no values in the train split`);
    cols[name] = step.type === 'standardize' ? standardScale(c, train, stats) : minMaxScale(stats, step.min ?? 0, step.max ?? 1, at);
  }
  return { type: 'scale', op: step.type, columns: cols };
}

export interface PresentStats {
  n: number;
  sum: number;
  lo: number;
  hi: number;
}

/** Count, sum and range of a numeric column's present values in the train rows, in one pass. */
function presentStats(c: NumericColumn, train: ArrayLike<number>): PresentStats {
  const w = size(c.shape);
  let n = 0;
  let sum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < train.length; i++) {
    for (let k = 0; k < w; k++) {
      const v = c.data[train[i]! * w + k]!;
      if (Number.isNaN(v)) continue;
      n++;
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return { n, sum, lo, hi };
}

function standardScale(c: NumericColumn, train: ArrayLike<number>, { n, sum }: PresentStats): Scale {
  const w = size(c.shape);
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < train.length; i++)
    for (let k = 0; k < w; k++) {
      const v = c.data[train[i]! * w + k]!;
      if (!Number.isNaN(v)) ss += (v - mean) ** 2;
    }
  return standardFromMoments(mean, ss / n);
}

/** The standardizing scale of a column with this mean and (population) variance. */
export function standardFromMoments(mean: number, variance: number): Scale {
  const std = Math.sqrt(variance);
  // A constant column keeps its scale (scikit-learn's StandardScaler does the same).
  return { shift: mean, scale: std > 0 ? 1 / std : 1 };
}

export function minMaxScale({ lo, hi }: PresentStats, a: number, b: number, at: string): Scale {
  if (!(b > a)) throw new DataError(`${at}: minMaxScale: max ${b} must be greater than min ${a}`);
  const range = hi - lo;
  const s = range > 0 ? (b - a) / range : 1;
  // x' = (x - lo) * s + a  ==  (x - (lo - a / s)) * s
  return { shift: lo - a / s, scale: s };
}

function fitCategories(ds: Dataset, step: StepOf<'oneHot' | 'labelEncode'>, train: ArrayLike<number>, at: string): FittedStep {
  const cols: Record<string, string[]> = {};
  for (const name of step.columns) cols[name] = categoriesOf(categoryColumn(ds, step, name, at), train);
  return { type: step.type, columns: cols };
}

/** Column `name` of a oneHot/labelEncode step, checked: a scalar, and not the label for oneHot. */
export function categoryColumn(ds: Dataset, step: StepOf<'oneHot' | 'labelEncode'>, name: string, at: string): Column {
  const c = requireColumn(ds, name, at, `step ${step.type}`);
  if (step.type === 'oneHot' && name === ds.label) {
    throw new DataError(
      `${at}: oneHot of the label ${JSON.stringify(name)}: use labelEncode for labels (train one-hot ` +
        'encodes them for categorical losses)',
    );
  }
  if (isNumeric(c) && c.shape.length > 0) throw new DataError(`${at}: ${step.type}: column ${JSON.stringify(name)} is a tensor`);
  return c;
}

/** A column's categories: those declared on a text column, else the values seen in the train rows, sorted. */
function categoriesOf(c: Column, train: ArrayLike<number>): string[] {
  const declared = !isNumeric(c) ? c.categories : undefined;
  if (declared?.length) return declared;
  const seen = new Set<string>();
  for (let i = 0; i < train.length; i++) {
    const k = textKey(c, train[i]!);
    if (k !== null) seen.add(k);
  }
  return sortCategories(seen, isNumeric(c));
}

/** Seen values in the order categories take: numbers by value, text by code point. */
export function sortCategories(seen: Iterable<string>, numeric: boolean): string[] {
  return [...seen].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
}

function fitReshape(ds: Dataset, step: StepOf<'reshape'>, at: string): FittedStep {
  const feats = ds.columns.filter((c) => c.name !== ds.label);
  const width = feats.reduce((a, c) => a + (isNumeric(c) ? size(c.shape) : NaN), 0);
  if (Number.isNaN(width)) throw new DataError(`${at}: reshape: every feature must be numeric first (labelEncode/oneHot text columns)`);
  if (width !== size(step.shape)) {
    throw new DataError(
      `${at}: reshape to [${step.shape.join(', ')}] needs ${size(step.shape)} values per row, the features have ${width}`,
    );
  }
  return { type: 'reshape', shape: step.shape, name: feats.length === 1 ? feats[0]!.name : 'features' };
}

function fillNaN(src: Float32Array, fill: number): Float32Array {
  const data = new Float32Array(src.length);
  for (let i = 0; i < data.length; i++) data[i] = Number.isNaN(src[i]!) ? fill : src[i]!;
  return data;
}

/** Apply one fitted step to every row. Unknown categories: oneHot → all zeros; labelEncode → error. */
export function applyStep(ds: Dataset, f: FittedStep, at: string): Dataset {
  switch (f.type) {
    case 'select': {
      const keep = new Set(f.columns);
      if (ds.label && ds.columns.some((c) => c.name === ds.label)) keep.add(ds.label);
      return { ...ds, columns: ds.columns.filter((c) => keep.has(c.name)) };
    }
    case 'drop':
      return { ...ds, columns: ds.columns.filter((c) => !f.columns.includes(c.name)) };
    case 'impute': {
      let out = ds;
      for (const [name, fill] of Object.entries(f.fills)) {
        const c = ds.columns.find((x) => x.name === name);
        if (!c) continue;
        const nc: Column = isNumeric(c)
          ? { ...c, data: fillNaN(c.data, Number(fill)), nullable: false }
          : { ...c, values: c.values.map((v) => v ?? String(fill)), nullable: false };
        out = replaceColumn(out, name, [nc]);
      }
      return out;
    }
    case 'scale': {
      let out = ds;
      for (const [name, { shift, scale }] of Object.entries(f.columns)) {
        const c = ds.columns.find((x) => x.name === name);
        if (!c) continue;
        if (!isNumeric(c)) throw new DataError(`${at}: ${f.op}: column ${JSON.stringify(name)} holds text`);
        const data = new Float32Array(c.data.length);
        for (let i = 0; i < data.length; i++) data[i] = (c.data[i]! - shift) * scale;
        out = replaceColumn(out, name, [{ ...c, type: 'number', data }]);
      }
      return out;
    }
    case 'oneHot': {
      let out = ds;
      for (const [name, cats] of Object.entries(f.columns)) {
        const c = ds.columns.find((x) => x.name === name);
        if (!c) continue;
        const index = new Map(cats.map((k, i) => [k, i]));
        const cols: NumericColumn[] = cats.map((k) => ({
          name: `${name}_${k}`,
          type: 'number',
          shape: [],
          data: new Float32Array(ds.rows),
        }));
        for (let r = 0; r < ds.rows; r++) {
          const k = textKey(c, r);
          const i = k === null ? undefined : index.get(k);
          if (i !== undefined) cols[i]!.data[r] = 1;
        }
        out = replaceColumn(out, name, cols);
      }
      return out;
    }
    case 'labelEncode': {
      let out = ds;
      for (const [name, cats] of Object.entries(f.columns)) {
        const c = ds.columns.find((x) => x.name === name);
        if (!c) continue;
        const index = new Map(cats.map((k, i) => [k, i]));
        const data = new Float32Array(ds.rows);
        for (let r = 0; r < ds.rows; r++) {
          const k = textKey(c, r);
          const i = k === null ? undefined : index.get(k);
          if (i === undefined) {
            throw new DataError(
              `${at}: labelEncode: ${rowPlace(ds, r)}, ` +
                `column ${JSON.stringify(name)}: ${k === null ? 'missing value' : JSON.stringify(k)} ` +
                `is not one of the ${cats.length} values seen in training (${cats.slice(0, 10).join(', ')}); impute ` +
                `it or declare the column's values`,
            );
          }
          data[r] = i;
        }
        out = replaceColumn(out, name, [{ name, type: 'integer', shape: [], data }]);
        if (name === ds.label) out.classes = cats;
      }
      return out;
    }
    case 'reshape': {
      const feats = ds.columns.filter((c) => c.name !== ds.label);
      const { data } = featureTensor(ds);
      const col: NumericColumn = { name: f.name, type: 'number', shape: f.shape, data };
      const label = ds.columns.filter((c) => c.name === ds.label);
      if (feats.length === 0) throw new DataError(`${at}: reshape: no feature columns`);
      return { ...ds, columns: [col, ...label] };
    }
  }
}

/**
 * A raw input column; `shape` for tensor columns (e.g. an image sent as nested or flat arrays),
 * with `range`, the smallest and largest value in the training rows, that served values must keep.
 */
export type InputColumn = ColumnSpec & { shape?: number[]; range?: [number, number] };

export function columnSpec(c: Column, train: ArrayLike<number>): InputColumn {
  if (!isNumeric(c)) return { name: c.name, type: c.type, nullable: c.nullable, values: (c as TextColumn).categories };
  if (!c.shape.length) return { name: c.name, type: c.type, nullable: c.nullable };
  const w = size(c.shape);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < train.length; i++) {
    for (const v of c.data.subarray(train[i]! * w, train[i]! * w + w)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return { name: c.name, type: c.type, nullable: c.nullable, shape: c.shape, ...(lo <= hi ? { range: [lo, hi] as [number, number] } : {}) };
}

/** Flip/shift copies of the train split's images (the dataset's single tensor feature column). */
function augment(ds: Dataset, step: Extract<PreprocessStep, { type: 'augment' }>, at: string): Dataset {
  const feats = ds.columns.filter((c) => c.name !== ds.label);
  const img = feats[0];
  if (feats.length !== 1 || !img || !isNumeric(img) || img.shape.length < 2) {
    throw new DataError(`${at}: augment needs one image feature column of shape [h, w] or [h, w, c]; reshape first`);
  }
  const train = ds.splits?.train ?? Uint32Array.from({ length: ds.rows }, (_, i) => i);
  const [h, w] = img.shape as [number, number];
  const ch = img.shape[2] ?? 1;
  const px = h * w * ch;
  const copies = step.copies ?? 1;
  const rng = new Rng(step.seed ?? 0);
  const extra = train.length * copies;
  const data = new Float32Array((ds.rows + extra) * px);
  data.set(img.data);
  const src = (r: number, y: number, x: number, c: number) => img.data[r * px + (y * w + x) * ch + c]!;
  let o = ds.rows;
  const newRows: number[] = [];
  for (let k = 0; k < copies; k++) {
    for (const r of train) {
      const fh = step.flipHorizontal && rng.next() < 0.5;
      const fv = step.flipVertical && rng.next() < 0.5;
      const s = step.shiftPixels ?? 0;
      const dy = s ? rng.int(2 * s + 1) - s : 0;
      const dx = s ? rng.int(2 * s + 1) - s : 0;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          let sy = y - dy;
          let sx = x - dx;
          if (fv) sy = h - 1 - sy;
          if (fh) sx = w - 1 - sx;
          for (let c = 0; c < ch; c++) {
            data[o * px + (y * w + x) * ch + c] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src(r, sy, sx, c) : 0;
          }
        }
      newRows.push(r);
      o++;
    }
  }
  const columns = ds.columns.map((c): Column => {
    if (c === img) return { ...img, data };
    if (isNumeric(c)) {
      const cw = size(c.shape);
      const d = new Float32Array((ds.rows + extra) * cw);
      d.set(c.data);
      newRows.forEach((r, i) => d.set(c.data.subarray(r * cw, r * cw + cw), (ds.rows + i) * cw));
      return { ...c, data: d };
    }
    return { ...c, values: [...c.values, ...newRows.map((r) => c.values[r]!)] };
  });
  const added = Uint32Array.from({ length: extra }, (_, i) => ds.rows + i);
  const newTrain = new Uint32Array(train.length + extra);
  newTrain.set(train);
  newTrain.set(added, train.length);
  // Mix the copies into the train order so batches are not all-augmented at the end.
  new Rng((step.seed ?? 0) + 1).shuffle(newTrain);
  // a copy's origin is its original's, so a bad value in it still names the source line
  const origin = ds.origin && takeOrigin(ds.origin, [...Array.from({ length: ds.rows }, (_, i) => i), ...newRows]);
  return { ...ds, rows: ds.rows + extra, columns, splits: { ...ds.splits, train: newTrain }, origin };
}

/**
 * Run the steps. Row steps decide the order and the splits first (they commute with the
 * per-row column steps); column steps are then fitted on the train split (all rows when there
 * is no split) and applied to every row; augmentation comes last, on the train split only.
 */
export function runPreprocess(input: Dataset, steps: PreprocessStep[], label: string | undefined, at: string): PreprocessResult {
  let ds: Dataset = { ...input, label: label ?? input.label, splits: undefined, stats: undefined };
  if (ds.label) requireColumn(ds, ds.label, at, 'label');
  // 1. Row order and splits.
  let order = Uint32Array.from({ length: ds.rows }, (_, i) => i);
  let splits: Partial<Record<SplitName, Uint32Array>> | undefined;
  for (const s of steps) {
    if (s.type === 'shuffle') {
      const p = permutation(order.length, s.seed ?? 0);
      order = p.map((i) => order[i]!);
    } else if (s.type === 'split') {
      if (splits) throw new DataError(`${at}: only one split step is allowed`);
      const groups = ds.label ? Array.from({ length: ds.rows }, (_, r) => textKey(column(ds, ds.label!), r)) : undefined;
      splits = splitRows(order, s, groups, at);
    }
  }
  ds.splits = splits ?? { train: order };
  const train = ds.splits.train!;
  // 2. Column steps, fitted on train rows.
  const fitted: FittedStep[] = [];
  const inputCols = ds.columns.map((c) => columnSpec(c, train));
  for (const s of steps) {
    if (isRowStep(s)) continue;
    const f = fitStep(ds, s, train, at);
    fitted.push(f);
    ds = applyStep(ds, f, at);
  }
  // 3. Augmentation.
  for (const s of steps) if (s.type === 'augment') ds = augment(ds, s, at);
  const feats = ds.columns.filter((c) => c.name !== ds.label);
  const featureShape =
    feats.length === 1 && isNumeric(feats[0]!) && feats[0]!.shape.length > 0
      ? feats[0]!.shape
      : [feats.reduce((a, c) => a + (isNumeric(c) ? size(c.shape) : 1), 0)];
  const transform: Transform = {
    format: 'mlpipe-transform/v1',
    input: inputCols,
    label: ds.label,
    classes: ds.classes,
    steps: fitted,
    featureShape,
    featureColumns: feats.map((c) => c.name),
  };
  return { dataset: ds, transform };
}

/** Apply a fitted transform to a dataset (its label column may be absent, as at serving time). */
export function applyTransformToDataset(t: Transform, ds: Dataset, at = 'transform'): Dataset {
  let out: Dataset = { ...ds, label: t.label };
  for (const f of t.steps) {
    // At serving time there is no label: skip label-only steps.
    if (f.type === 'labelEncode' && t.label && !out.columns.some((c) => c.name === t.label)) {
      const cols = Object.fromEntries(Object.entries(f.columns).filter(([k]) => k !== t.label));
      out = applyStep(out, { type: 'labelEncode', columns: cols }, at);
      continue;
    }
    out = applyStep(out, f, at);
  }
  return out;
}

/**
 * Serving: raw rows (objects of input column values, no label needed) → the model's input tensor,
 * exactly as training saw it. Throws DataError naming the row and column of a bad value (every
 * value is checked against the input schema first: src/ml/data/input-check.ts).
 */
export function applyTransform(t: Transform, rows: Record<string, unknown>[]): { data: Float32Array; shape: number[] } {
  checkRows(t, rows);
  const specs = t.input.filter((c) => c.name !== t.label);
  const missing = (v: unknown) => v === null || v === undefined || v === '';
  const columns: Column[] = specs.map((s) => {
    if (s.type === 'string' || s.type === 'category') {
      return { name: s.name, type: s.type, values: rows.map((r) => (missing(r[s.name]) ? null : String(r[s.name]))) };
    }
    if (s.shape?.length) {
      const w = size(s.shape);
      const data = new Float32Array(rows.length * w).fill(NaN);
      rows.forEach((r, i) => {
        if (!missing(r[s.name])) data.set((r[s.name] as unknown[]).flat(Infinity) as number[], i * w);
      });
      return { name: s.name, type: 'number' as const, shape: s.shape, data };
    }
    const data = Float32Array.from(rows, (r) => (missing(r[s.name]) ? NaN : Number(r[s.name])));
    return { name: s.name, type: s.type as NumericColumn['type'], shape: [], data };
  });
  const out = applyTransformToDataset(t, { rows: rows.length, columns }, 'serving');
  return featureTensor(out);
}

/** A transform artifact's bytes → the Transform (the model server and the predict stage, src/serving/score.ts). */
export function decodeTransform(buf: Buffer): Transform {
  const t = JSON.parse(buf.toString('utf8')) as Transform;
  if (t.format !== 'mlpipe-transform/v1') throw new Error(`not a transform artifact (format ${String(t.format)})`);
  return t;
}

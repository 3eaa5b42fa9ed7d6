// Fitting preprocess's column steps on a train split too big for memory: what each step needs to
// learn is gathered chunk by chunk (an accumulator per step) and turned into the same FittedStep
// the in-memory fit gives (preprocess.ts), so the transform artifact is the same format.
// Exact: mean and std (Chan's merge of per-chunk moments), min/max, most frequent values and
// categories (counts). Approximate: the median, from a seeded bounded sample (reservoir.ts),
// exact while the train split has at most `medianSample` values.
//
// Step k is fitted on the output of steps before it. `planPass` groups consecutive steps into one
// pass over the data when none of them reads a column an earlier step of the group changes
// (impute a, standardize b, oneHot c: one pass); the pass sees each chunk with the steps fitted
// in earlier passes applied.
import { Moments } from './moments.ts';
import { type Column, type Dataset, isNumeric } from './dataset.ts';
import {
  applyStep,
  categoryColumn,
  defaultNumeric,
  type FittedStep,
  fitStep,
  imputeColumns,
  imputeHow,
  minMaxScale,
  numericCol,
  pickMostFrequent,
  type PreprocessStep,
  requireColumn,
  sortCategories,
  standardFromMoments,
  type StepOf,
  textKey,
} from './preprocess.ts';
import { quantile } from './dataset-stats.ts';
import { Reservoir } from './reservoir.ts';
import { DataError } from './data-error.ts';

/** Values a median imputation samples (per column) before its result becomes approximate. */
export const MEDIAN_SAMPLE = 100_000;
/** Sampled values kept over all the median columns of a step (32 MB): past 80 columns, fewer each. */
const MEDIAN_BUDGET = 8_000_000;

/** Learns one step from train rows that arrive a chunk at a time. */
export interface StepAccumulator {
  add(rows: Dataset): void;
  done(): FittedStep;
}

export interface FitOptions {
  medianSample?: number;
}

function column(rows: Dataset, name: string): Column {
  return rows.columns.find((c) => c.name === name)!;
}

function countValues(counts: Map<string, number>, c: Column, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const k = textKey(c, r);
    if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
}

const noValues = (at: string, step: string, name: string) =>
  new DataError(`${at}: ${step}: column ${JSON.stringify(name)} has no values in the train split`);

function imputeAccumulator(ds: Dataset, step: StepOf<'impute'>, at: string, opts: FitOptions): StepAccumulator {
  const parts: { name: string; add(rows: Dataset): void; fill(): number | string }[] = [];
  const medians = step.strategy === 'median' ? imputeColumns(ds, step).length : 0;
  const sampleSize = Math.min(opts.medianSample ?? MEDIAN_SAMPLE, Math.max(1_000, Math.floor(MEDIAN_BUDGET / Math.max(1, medians))));
  for (const name of imputeColumns(ds, step)) {
    const c = requireColumn(ds, name, at, 'step impute');
    const how = imputeHow(c, name, step.strategy ?? 'mean', at);
    if (how === 'constant') {
      const f = fitStep(ds, { type: 'impute', columns: [name], strategy: 'constant', value: step.value }, [], at);
      const fill = (f as Extract<FittedStep, { type: 'impute' }>).fills[name]!;
      parts.push({ name, add: () => {}, fill: () => fill });
    } else if (how === 'mostFrequent') {
      const counts = new Map<string, number>();
      parts.push({
        name,
        add: (rows) => countValues(counts, column(rows, name), rows.rows),
        fill: () => pickMostFrequent(counts, isNumeric(c), name, at),
      });
    } else if (how === 'mean') {
      const m = new Moments();
      parts.push({
        name,
        add: (rows) => m.addAll((column(rows, name) as { data: Float32Array }).data),
        fill: () => {
          if (m.n === 0) throw noValues(at, 'impute', name);
          return m.mean;
        },
      });
    } else {
      // Seeded by the column's place, so that two columns do not sample the same rows.
      const sample = new Reservoir(sampleSize, parts.length + 1);
      parts.push({
        name,
        add: (rows) => sample.addPresent((column(rows, name) as { data: Float32Array }).data),
        fill: () => {
          if (sample.seen === 0) throw noValues(at, 'impute', name);
          return quantile(sample.sorted(), 0.5);
        },
      });
    }
  }
  return {
    add: (rows) => {
      for (const p of parts) p.add(rows);
    },
    done: () => ({ type: 'impute', fills: Object.fromEntries(parts.map((p) => [p.name, p.fill()])) }),
  };
}

function scaleAccumulator(ds: Dataset, step: StepOf<'standardize' | 'minMaxScale'>, at: string): StepAccumulator {
  const names = step.columns ?? defaultNumeric(ds);
  for (const name of names) numericCol(ds, name, at, `step ${step.type}`);
  const moments = names.map(() => new Moments());
  return {
    add: (rows) => names.forEach((name, i) => moments[i]!.addAll((column(rows, name) as { data: Float32Array }).data)),
    done: () => {
      const cols: Record<string, { shift: number; scale: number }> = {};
      names.forEach((name, i) => {
        const m = moments[i]!;
        if (m.n === 0) throw noValues(at, step.type, name);
        cols[name] =
          step.type === 'standardize'
            ? standardFromMoments(m.mean, m.m2 / m.n)
            : minMaxScale({ n: m.n, sum: m.mean * m.n, lo: m.lo, hi: m.hi }, step.min ?? 0, step.max ?? 1, at);
      });
      return { type: 'scale', op: step.type, columns: cols };
    },
  };
}

function categoryAccumulator(ds: Dataset, step: StepOf<'oneHot' | 'labelEncode'>, at: string): StepAccumulator {
  const seen = step.columns.map((name) => {
    const c = categoryColumn(ds, step, name, at);
    return { name, numeric: isNumeric(c), declared: !isNumeric(c) ? c.categories : undefined, values: new Set<string>() };
  });
  return {
    add: (rows) => {
      for (const s of seen) {
        if (s.declared?.length) continue;
        const c = column(rows, s.name);
        for (let r = 0; r < rows.rows; r++) {
          const k = textKey(c, r);
          if (k !== null) s.values.add(k);
        }
      }
    },
    done: () => ({
      type: step.type,
      columns: Object.fromEntries(seen.map((s) => [s.name, s.declared?.length ? s.declared : sortCategories(s.values, s.numeric)])),
    }),
  };
}

/** What a column step needs, read off the schema it meets (`ds`, a dataset of no rows). */
interface StepNeeds {
  /** Whether its fit reads rows (else fitStep on the schema gives it). */
  data: boolean;
  /** Columns whose values its fit reads. */
  reads: string[];
  /** Columns whose values (or existence) it changes. */
  writes: string[];
  /** Its output columns are unknown until fitted (oneHot of seen values). */
  opaque: boolean;
}

function needsOf(ds: Dataset, step: PreprocessStep): StepNeeds {
  const features = ds.columns.filter((c) => c.name !== ds.label).map((c) => c.name);
  switch (step.type) {
    case 'impute': {
      const cols = imputeColumns(ds, step);
      return { data: (step.strategy ?? 'mean') !== 'constant', reads: cols, writes: cols, opaque: false };
    }
    case 'standardize':
    case 'minMaxScale': {
      const cols = step.columns ?? defaultNumeric(ds);
      return { data: true, reads: cols, writes: cols, opaque: false };
    }
    case 'oneHot':
    case 'labelEncode': {
      const data = step.columns.some((n) => {
        const c = ds.columns.find((x) => x.name === n);
        return !c || isNumeric(c) || !c.categories?.length;
      });
      return { data, reads: step.columns, writes: step.columns, opaque: data && step.type === 'oneHot' };
    }
    case 'reshape':
      return { data: false, reads: features, writes: features, opaque: false };
    default:
      return { data: false, reads: [], writes: [], opaque: false };
  }
}

/** Whether `step` names its columns (no default list) and `ds` has them all. */
function namesKnownColumns(ds: Dataset, step: PreprocessStep): boolean {
  const named = 'columns' in step ? step.columns : undefined;
  return !!named && named.every((n) => ds.columns.some((c) => c.name === n));
}

/** A stand-in for a step still being fitted, with the schema effect the fitted one will have. */
export function placeholder(ds: Dataset, step: PreprocessStep): FittedStep {
  switch (step.type) {
    case 'impute':
      return { type: 'impute', fills: Object.fromEntries(imputeColumns(ds, step).map((n) => [n, 0])) };
    case 'standardize':
    case 'minMaxScale':
      return {
        type: 'scale',
        op: step.type,
        columns: Object.fromEntries((step.columns ?? defaultNumeric(ds)).map((n) => [n, { shift: 0, scale: 1 }])),
      };
    case 'labelEncode':
    case 'oneHot':
      // oneHot's columns are unknown until fitted: its stand-in drops the column (planPass lets
      // only steps naming other known columns follow it in a pass).
      return { type: step.type, columns: Object.fromEntries(step.columns.map((n) => [n, []])) };
    default:
      throw new Error(`no placeholder for ${step.type}`);
  }
}

function makeAccumulator(ds: Dataset, step: PreprocessStep, at: string, opts: FitOptions): StepAccumulator {
  switch (step.type) {
    case 'impute':
      return imputeAccumulator(ds, step, at, opts);
    case 'standardize':
    case 'minMaxScale':
      return scaleAccumulator(ds, step, at);
    case 'oneHot':
    case 'labelEncode':
      return categoryAccumulator(ds, step, at);
    default:
      throw new DataError(`${at}: ${step.type} is not a column step that learns from rows`);
  }
}

/** One pass over the data and the steps before it that need no rows. */
export interface PassPlan {
  /** Steps fitted from the schema alone, before the pass: its chunks have them applied. */
  before: FittedStep[];
  /** The steps the pass fits, in order; from its first one that learns from rows on. */
  members: ({ fitted: FittedStep } | { acc: StepAccumulator; step: PreprocessStep })[];
  /** Index of the first step after the pass. */
  end: number;
}

/**
 * Plan the pass that starts at step `start`, where the data has schema `ds` (no rows). Throws
 * the in-memory fit's errors for a bad step (a missing column, text to scale). No member learns
 * from rows when every step from `start` on needs none.
 */
export function planPass(ds: Dataset, steps: PreprocessStep[], start: number, at: string, opts: FitOptions = {}): PassPlan {
  const before: FittedStep[] = [];
  const members: PassPlan['members'] = [];
  const dirty = new Set<string>();
  let schema = ds;
  // After a oneHot still being fitted the columns are not all known: only steps that name
  // columns known to be there may join the pass.
  let opaque = false;
  let j = start;
  for (; j < steps.length; j++) {
    const step = steps[j]!;
    if (opaque && !namesKnownColumns(schema, step)) break;
    const needs = needsOf(schema, step);
    const inPass = members.length > 0;
    if (inPass && needs.reads.some((c) => dirty.has(c))) break;
    if (needs.data) {
      members.push({ acc: makeAccumulator(schema, step, at, opts), step });
      for (const c of needs.writes) dirty.add(c);
      if (needs.opaque) opaque = true;
      schema = applyStep(schema, placeholder(schema, step), at);
      continue;
    }
    const f = fitStep(schema, step, [], at);
    const next = applyStep(schema, f, at);
    if (!inPass) before.push(f);
    else {
      members.push({ fitted: f });
      for (const c of needs.writes) dirty.add(c);
      // Columns it adds (oneHot's `c_red`, reshape's `features`) are not in the pass's chunks.
      for (const c of next.columns) if (!schema.columns.some((x) => x.name === c.name)) dirty.add(c.name);
    }
    schema = next;
  }
  return { before, members, end: j };
}

/** The schema of a dataset: its columns with no rows. */
export function emptyLike(
  columns: { name: string; type: Column['type']; shape?: number[]; categories?: string[]; nullable?: boolean }[],
  info: Pick<Dataset, 'label' | 'classes'>,
): Dataset {
  return {
    rows: 0,
    label: info.label,
    classes: info.classes,
    columns: columns.map((c): Column => {
      if (c.type === 'string' || c.type === 'category') {
        return { name: c.name, type: c.type, values: [], ...(c.categories ? { categories: c.categories } : {}), nullable: c.nullable };
      }
      return { name: c.name, type: c.type, shape: c.shape ?? [], data: new Float32Array(0), nullable: c.nullable };
    }),
  };
}

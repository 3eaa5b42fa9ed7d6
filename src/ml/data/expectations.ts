// A collect stage's `expect:` rules evaluated on its dataset. Each result names the column, the
// rule, what was observed and up to five offending rows by their source place (dataset origin:
// `data.csv line 7`), so a failure points at the data to fix. The distribution rule uses
// monitor's drift statistics (drift.ts), so a PSI here means what it means there.
import type { Expectation } from '../../spec/types.gen.ts';
import { DataError } from './sources.ts';
import { type Column, type Dataset, isNumeric, rowPlace, size } from './dataset.ts';
import { driftStatistic } from '../eval/drift.ts';
import { showValue } from './table-values.ts';

export const MAX_PLACES = 5;

export interface ExpectationResult {
  /** `range`, `values`, `unique`, `nullShare`, `rows` or `distribution`. */
  rule: string;
  column?: string;
  severity: 'error' | 'warn';
  passed: boolean;
  /** What the rule allows, in words (`within [0, 120]`). */
  expected: string;
  /** What the data holds (`min -3, max 150`). */
  observed: string;
  /** Rows that break it (0 for whole-dataset rules). */
  failingRows: number;
  /** Up to five of them: `data.csv line 7, column "age"`. */
  places: string[];
}

export interface ExpectationSummary {
  passed: number;
  failed: number;
  results: ExpectationResult[];
}

const RULES = ['range', 'values', 'unique', 'nullShare', 'rows', 'distribution'] as const;
type RuleName = (typeof RULES)[number];

/** The one rule an expectation states (the spec checks guarantee one). */
export function ruleOf(e: Expectation): RuleName {
  const r = RULES.find((k) => e[k] !== undefined);
  if (!r) throw new DataError('an expectation states no rule; give one of range, values, unique, nullShare, rows, distribution');
  return r;
}

export const num = (v: number) => String(Number(v.toPrecision(6)));

export function columnOf(ds: Dataset, name: string | undefined, rule: string, at: string): Column {
  const c = ds.columns.find((x) => x.name === name);
  if (!c) {
    throw new DataError(
      `${at}: expectation ${rule} names column ${JSON.stringify(name ?? '')}, which the data does not have ` +
        `(its columns: ${ds.columns.map((x) => x.name).join(', ')}); fix expect[].column`,
    );
  }
  return c;
}

/** Row r's value of a column as one item per array position (scalars: one item); NaN/null missing. */
export function items(c: Column, r: number): (number | string | null)[] {
  if (!isNumeric(c)) return [c.values[r] ?? null];
  const w = size(c.shape);
  return Array.from(c.data.subarray(r * w, r * w + w));
}

export const missing = (v: number | string | null) => v === null || (typeof v === 'number' && Number.isNaN(v));

/** Rows failing `bad`, with up to five places. */
function scan(ds: Dataset, c: Column, bad: (r: number) => boolean): { count: number; places: string[] } {
  let count = 0;
  const places: string[] = [];
  for (let r = 0; r < ds.rows; r++) {
    if (!bad(r)) continue;
    count++;
    if (places.length < MAX_PLACES) places.push(`${rowPlace(ds, r)}, column ${JSON.stringify(c.name)}`);
  }
  return { count, places };
}

export function numericColumn(ds: Dataset, e: Expectation, rule: string, at: string) {
  const c = columnOf(ds, e.column, rule, at);
  if (!isNumeric(c))
    throw new DataError(
      `${at}: expectation ${rule} on column ${JSON.stringify(c.name)} needs numbers, and the column ` +
        `holds ${c.type} values; use values: for text`,
    );
  return c;
}

function evaluateOne(
  ds: Dataset,
  e: Expectation,
  reference: Dataset | undefined,
  at: string,
): Omit<ExpectationResult, 'severity' | 'passed'> & { passed?: boolean } {
  const rule = ruleOf(e);
  switch (rule) {
    case 'rows': {
      const { min, max } = e.rows!;
      const ok = (min === undefined || ds.rows >= min) && (max === undefined || ds.rows <= max);
      return { rule, expected: bounds(min, max), observed: `${ds.rows} rows`, failingRows: 0, places: [], passed: ok };
    }
    case 'range': {
      const c = numericColumn(ds, e, rule, at);
      const { min, max } = e.range!;
      let lo = Infinity;
      let hi = -Infinity;
      const { count, places } = scan(ds, c, (r) => {
        let out = false;
        for (const v of items(c, r) as number[]) {
          if (Number.isNaN(v)) continue;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
          if ((min !== undefined && v < min) || (max !== undefined && v > max)) out = true;
        }
        return out;
      });
      const observed = lo <= hi ? `min ${num(lo)}, max ${num(hi)}` : 'no present values';
      return { rule, column: c.name, expected: bounds(min, max), observed, failingRows: count, places };
    }
    case 'values': {
      const c = columnOf(ds, e.column, rule, at);
      // numbers as float32 values, as the column stores them (0.1 matches the stored 0.1)
      const allowed = new Set(e.values!.map((v) => (isNumeric(c) ? String(Math.fround(Number(v))) : String(v))));
      const seen = new Set<string>();
      const { count, places } = scan(ds, c, (r) => {
        let out = false;
        for (const v of items(c, r)) {
          if (missing(v)) continue;
          const key = String(v);
          if (!allowed.has(key)) {
            out = true;
            if (seen.size < MAX_PLACES) seen.add(key);
          }
        }
        return out;
      });
      // values quoted short, as every data message does (a long text never fills the history)
      const observed = count ? `other values: ${[...seen].map(showValue).join(', ')}` : 'only allowed values';
      return { rule, column: c.name, expected: `one of ${listed(e.values!)}`, observed, failingRows: count, places };
    }
    case 'unique': {
      const c = columnOf(ds, e.column, rule, at);
      const first = new Map<string, number>();
      const { count, places } = scan(ds, c, (r) => {
        const v = items(c, r);
        if (v.some(missing)) return false;
        const key = v.join('\u0000');
        if (first.has(key)) return true;
        first.set(key, r);
        return false;
      });
      return {
        rule,
        column: c.name,
        expected: 'no repeated value',
        observed: count ? `${count} repeated value${count === 1 ? '' : 's'}` : 'all distinct',
        failingRows: count,
        places,
      };
    }
    case 'nullShare': {
      const c = columnOf(ds, e.column, rule, at);
      const { count, places } = scan(ds, c, (r) => items(c, r).some(missing));
      const share = ds.rows ? count / ds.rows : 0;
      return {
        rule,
        column: c.name,
        expected: `at most ${num(e.nullShare!.max)} missing`,
        observed: `${num(share)} missing (${count} of ${ds.rows} rows)`,
        failingRows: count,
        places,
        passed: share <= e.nullShare!.max,
      };
    }
    case 'distribution': {
      const c = numericColumn(ds, e, rule, at);
      if (!reference)
        throw new DataError(
          `${at}: expectation distribution on column ${JSON.stringify(c.name)} needs a reference dataset; name one in inputs.reference`,
        );
      const ref = reference.columns.find((x) => x.name === c.name);
      if (!ref || !isNumeric(ref)) {
        throw new DataError(
          `${at}: the reference dataset has no numeric column ${JSON.stringify(c.name)} (its ` +
            `columns: ${reference.columns.map((x) => x.name).join(', ')}); compare a column both datasets hold`,
        );
      }
      const test = e.distribution!.test ?? 'psi';
      let value: number;
      try {
        value = driftStatistic(test, ref.data, c.data);
      } catch (err) {
        throw new DataError(`${at}: expectation distribution on column ${JSON.stringify(c.name)}: ${(err as Error).message}`);
      }
      return {
        rule,
        column: c.name,
        expected: `${test} at most ${num(e.distribution!.max)}`,
        observed: `${test} ${num(value)}`,
        failingRows: 0,
        places: [],
        passed: value <= e.distribution!.max,
      };
    }
  }
}

/** Up to ten allowed values, then how many there are. */
export function listed(values: (string | number | boolean)[]): string {
  const head = values.slice(0, 10).map(showValue).join(', ');
  return values.length > 10 ? `${head}, … (${values.length} in all)` : head;
}

export function bounds(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `within [${min}, ${max}]`;
  return min !== undefined ? `at least ${min}` : `at most ${max}`;
}

/** Every rule's result; throws nothing for a failed rule (see failureMessage). */
export function evaluateExpectations(ds: Dataset, rules: Expectation[], reference: Dataset | undefined, at: string): ExpectationSummary {
  const results = rules.map((e): ExpectationResult => {
    const r = evaluateOne(ds, e, reference, at);
    return { ...r, severity: e.severity ?? 'error', passed: r.passed ?? r.failingRows === 0 };
  });
  const failed = results.filter((r) => !r.passed).length;
  return { passed: results.length - failed, failed, results };
}

/** One failed rule in a sentence: column, rule, expected, observed and where. */
export function describeFailure(r: ExpectationResult): string {
  const col = r.column ? `column ${JSON.stringify(r.column)} ` : '';
  const where = r.places.length ? `; ${r.failingRows} row${r.failingRows === 1 ? '' : 's'}, e.g. ${r.places.join('; ')}` : '';
  return `${col}${r.rule}: expected ${r.expected}, observed ${r.observed}${where}`;
}

/** The message a stage fails with when an `error` rule failed; undefined when none did. */
export function failureMessage(s: ExpectationSummary, at: string): string | undefined {
  const bad = s.results.filter((r) => !r.passed && r.severity === 'error');
  if (!bad.length) return undefined;
  return (
    `${at}: ${bad.length} expectation${bad.length === 1 ? '' : 's'} failed: ${bad.map(describeFailure).join(' | ')}. ` +
    'Fix the data, or change the rule (severity: warn records a failure without failing the stage)'
  );
}

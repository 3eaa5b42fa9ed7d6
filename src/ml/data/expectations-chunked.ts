// A collect stage's `expect:` rules over a dataset that arrives a chunk at a time (a streamed
// source): each rule keeps a running state, fed chunk by chunk, and ends with the result
// evaluateExpectations gives on the whole dataset: the same counts, observed values and first
// five offending rows by their source place. Memory: constant per rule, except `unique`, which
// keeps every distinct value seen (O(distinct values)); `distribution` compares the reference with
// the column's seeded sample of at most 100,000 values (dataset-stats-merge.ts), not every value.
import type { Expectation } from '../../spec/types.gen.ts';
import { type Column, type Dataset, rowPlace } from './dataset.ts';
import { DataError } from './data-error.ts';
import { driftStatistic } from '../eval/drift.ts';
import { showValue } from './table-values.ts';
import {
  bounds,
  columnOf,
  type ExpectationResult,
  type ExpectationSummary,
  items,
  listed,
  MAX_PLACES,
  missing,
  num,
  numericColumn,
  ruleOf,
} from './expectations.ts';
import { isNumeric } from './dataset.ts';

type Partial = Omit<ExpectationResult, 'severity' | 'passed'> & { passed?: boolean };

/** Rows failing a rule across chunks, with the first five places. */
class Failing {
  count = 0;
  places: string[] = [];
  scan(ds: Dataset, c: Column, bad: (r: number) => boolean): void {
    for (let r = 0; r < ds.rows; r++) {
      if (!bad(r)) continue;
      this.count++;
      if (this.places.length < MAX_PLACES) this.places.push(`${rowPlace(ds, r)}, column ${JSON.stringify(c.name)}`);
    }
  }
}

interface Check {
  add(ds: Dataset): void;
  result(rows: number): Partial;
}

function check(e: Expectation, reference: Dataset | undefined, at: string, sample: (column: string) => Float32Array | undefined): Check {
  const rule = ruleOf(e);
  const f = new Failing();
  switch (rule) {
    case 'rows': {
      const { min, max } = e.rows!;
      return {
        add: () => {},
        result: (rows) => ({
          rule,
          expected: bounds(min, max),
          observed: `${rows} rows`,
          failingRows: 0,
          places: [],
          passed: (min === undefined || rows >= min) && (max === undefined || rows <= max),
        }),
      };
    }
    case 'range': {
      const { min, max } = e.range!;
      let lo = Infinity;
      let hi = -Infinity;
      let name = '';
      return {
        add: (ds) => {
          const c = numericColumn(ds, e, rule, at);
          name = c.name;
          f.scan(ds, c, (r) => {
            let out = false;
            for (const v of items(c, r) as number[]) {
              if (Number.isNaN(v)) continue;
              if (v < lo) lo = v;
              if (v > hi) hi = v;
              if ((min !== undefined && v < min) || (max !== undefined && v > max)) out = true;
            }
            return out;
          });
        },
        result: () => ({
          rule,
          column: name,
          expected: bounds(min, max),
          observed: lo <= hi ? `min ${num(lo)}, max ${num(hi)}` : 'no present values',
          failingRows: f.count,
          places: f.places,
        }),
      };
    }
    case 'values': {
      const seen = new Set<string>();
      let allowed: Set<string> | undefined;
      let name = '';
      return {
        add: (ds) => {
          const c = columnOf(ds, e.column, rule, at);
          name = c.name;
          allowed ??= new Set(e.values!.map((v) => (isNumeric(c) ? String(Math.fround(Number(v))) : String(v))));
          f.scan(ds, c, (r) => {
            let out = false;
            for (const v of items(c, r)) {
              if (missing(v)) continue;
              const key = String(v);
              if (!allowed!.has(key)) {
                out = true;
                if (seen.size < MAX_PLACES) seen.add(key);
              }
            }
            return out;
          });
        },
        result: () => ({
          rule,
          column: name,
          expected: `one of ${listed(e.values!)}`,
          observed: f.count ? `other values: ${[...seen].map(showValue).join(', ')}` : 'only allowed values',
          failingRows: f.count,
          places: f.places,
        }),
      };
    }
    case 'unique': {
      const first = new Set<string>();
      let name = '';
      return {
        add: (ds) => {
          const c = columnOf(ds, e.column, rule, at);
          name = c.name;
          f.scan(ds, c, (r) => {
            const v = items(c, r);
            if (v.some(missing)) return false;
            const key = v.join('\u0000');
            if (first.has(key)) return true;
            first.add(key);
            return false;
          });
        },
        result: () => ({
          rule,
          column: name,
          expected: 'no repeated value',
          observed: f.count ? `${f.count} repeated value${f.count === 1 ? '' : 's'}` : 'all distinct',
          failingRows: f.count,
          places: f.places,
        }),
      };
    }
    case 'nullShare': {
      let name = '';
      return {
        add: (ds) => {
          const c = columnOf(ds, e.column, rule, at);
          name = c.name;
          f.scan(ds, c, (r) => items(c, r).some(missing));
        },
        result: (rows) => {
          const share = rows ? f.count / rows : 0;
          return {
            rule,
            column: name,
            expected: `at most ${num(e.nullShare!.max)} missing`,
            observed: `${num(share)} missing (${f.count} of ${rows} rows)`,
            failingRows: f.count,
            places: f.places,
            passed: share <= e.nullShare!.max,
          };
        },
      };
    }
    case 'distribution': {
      let name = '';
      return {
        add: (ds) => {
          name = numericColumn(ds, e, rule, at).name;
        },
        result: () => {
          if (!reference)
            throw new DataError(
              `${at}: expectation distribution on column ${JSON.stringify(name)} needs a reference dataset; name one in inputs.reference`,
            );
          const ref = reference.columns.find((x) => x.name === name);
          if (!ref || !isNumeric(ref)) {
            throw new DataError(
              `${at}: the reference dataset has no numeric column ${JSON.stringify(name)} (its ` +
                `columns: ${reference.columns.map((x) => x.name).join(', ')}); compare a column both datasets hold`,
            );
          }
          const test = e.distribution!.test ?? 'psi';
          let value: number;
          try {
            value = driftStatistic(test, ref.data, sample(name) ?? new Float32Array());
          } catch (err) {
            throw new DataError(`${at}: expectation distribution on column ${JSON.stringify(name)}: ${(err as Error).message}`);
          }
          return {
            rule,
            column: name,
            expected: `${test} at most ${num(e.distribution!.max)}`,
            observed: `${test} ${num(value)}`,
            failingRows: 0,
            places: [],
            passed: value <= e.distribution!.max,
          };
        },
      };
    }
  }
}

/** Rules fed a chunk at a time; `summary` gives what evaluateExpectations gives on the whole. */
export class ChunkedExpectations {
  private readonly checks: { e: Expectation; c: Check }[];
  private rows = 0;

  constructor(rules: Expectation[], reference: Dataset | undefined, at: string, sample: (column: string) => Float32Array | undefined) {
    this.checks = rules.map((e) => ({ e, c: check(e, reference, at, sample) }));
  }

  add(ds: Dataset): void {
    this.rows += ds.rows;
    for (const { c } of this.checks) c.add(ds);
  }

  summary(): ExpectationSummary {
    const results = this.checks.map(({ e, c }): ExpectationResult => {
      const r = c.result(this.rows);
      return { ...r, severity: e.severity ?? 'error', passed: r.passed ?? r.failingRows === 0 };
    });
    const failed = results.filter((r) => !r.passed).length;
    return { passed: results.length - failed, failed, results };
  }
}

// The fast path of a streamed CSV chunk: once the column types are fixed, a chunk's columns are
// typed straight from the tokenizer's fields (a tight loop per column, no row object, no
// per-value result object). It only takes what it is sure the row path (sources.ts buildTable,
// table-values.ts convert) would take the same way: plain numbers, empty fields in nullable
// columns, text and declared categories. Anything else (a value that is not a number, a missing
// value where none is allowed, a boolean or array column, a category outside its values, …)
// returns undefined, and the caller types the chunk with the row path, so errors, onBadRows: drop
// and every message stay the row path's. test/ml/data/table-fast.test.ts holds the two paths to
// the same chunks.
import type { Column } from './dataset.ts';
import type { ColumnSpec, RawRow } from './sources.ts';

/** The missing markers of table-values.ts (a number column only). */
const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'null', 'NULL']);

/** A csv row as the tokenizer gave it; its values object and place are only built when asked for (the row path, messages). */
export class CsvRow implements RawRow {
  private own?: Record<string, unknown>;
  constructor(
    readonly record: string[],
    readonly at: number,
    /** 1-based row number (after the header). */
    readonly index: number,
    private readonly names: string[],
  ) {}

  get values(): Record<string, unknown> {
    if (!this.own) {
      const values: Record<string, unknown> = {};
      for (let j = 0; j < this.names.length; j++) values[this.names[j]!] = this.record[j];
      this.own = values;
    }
    return this.own;
  }

  get place(): string {
    return `row ${this.index} (line ${this.at})`;
  }
}

/** A column's field in a csv row, as its values object holds it (for inferSchema). */
export function csvCell(names: string[]): (name: string) => (row: RawRow) => unknown {
  return (name) => {
    const k = names.lastIndexOf(name);
    return (row) => (row instanceof CsvRow ? row.record[k] : row.values[name]);
  };
}

/** The chunk's columns and origins, or undefined when a value needs the row path. */
export function typeCsvChunk(
  rows: readonly RawRow[],
  names: string[],
  specs: ColumnSpec[],
): { columns: Column[]; at: Uint32Array } | undefined {
  const n = rows.length;
  const records: string[][] = new Array(n);
  const at = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (!(r instanceof CsvRow)) return undefined;
    records[i] = r.record;
    at[i] = r.at;
  }
  const columns: Column[] = [];
  for (const s of specs) {
    if (s.shape) return undefined;
    // as the values object does: a repeated header name holds its last field
    const k = names.lastIndexOf(s.name);
    if (k < 0) return undefined;
    const nullable = s.nullable === true;
    if (s.type === 'number' || s.type === 'integer') {
      const data = numbers(records, k, nullable, s.type === 'integer');
      if (!data) return undefined;
      columns.push({ name: s.name, type: s.type, shape: [], data, nullable: s.nullable });
    } else if (s.type === 'string' || s.type === 'category') {
      const allowed = s.type === 'category' && s.values ? new Set(s.values.map(String)) : undefined;
      const values = texts(records, k, nullable, allowed);
      if (!values) return undefined;
      columns.push({ name: s.name, type: s.type, values, categories: s.values?.map(String), nullable: s.nullable });
    } else {
      return undefined;
    }
  }
  return { columns, at };
}

function numbers(records: string[][], k: number, nullable: boolean, integer: boolean): Float32Array | undefined {
  const n = records.length;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = records[i]![k]!;
    if (v === '') {
      if (!nullable) return undefined;
      data[i] = NaN;
      continue;
    }
    const d = decimal(v);
    if (!Number.isNaN(d)) {
      if (integer && !Number.isInteger(d)) return undefined;
      data[i] = d;
      continue;
    }
    // Number trims what String.prototype.trim trims, so Number(v) is convert's Number(v.trim())
    const x = Number(v);
    if (Number.isFinite(x)) {
      // a blank field reads as 0 but is missing to the row path; 0 from any other text is 0 there too
      if ((x === 0 && v.trim() === '') || (integer && !Number.isInteger(x))) return undefined;
      data[i] = x;
    } else if (nullable && MISSING.has(v.trim())) {
      data[i] = NaN;
    } else {
      return undefined;
    }
  }
  return data;
}

const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * A plain decimal (`-12.345`, at most 15 digits) as Number reads it, or NaN for anything else.
 * Exact: the digits make an integer below 2^53 and 10^k (k ≤ 15) is exact, so their quotient is
 * the correctly rounded double, which is what Number gives (Clinger's fast path); and cheaper.
 */
function decimal(v: string): number {
  const n = v.length;
  let i = v.charCodeAt(0) === 45 ? 1 : 0;
  const neg = i === 1;
  let m = 0;
  let digits = 0;
  let dot = -1;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
    } else if (c === 46 && dot < 0) {
      dot = i;
    } else {
      return NaN;
    }
  }
  if (digits === 0 || digits > 15) return NaN;
  const x = dot < 0 ? m : m / POW10[n - dot - 1]!;
  return neg ? -x : x;
}

function texts(records: string[][], k: number, nullable: boolean, allowed: Set<string> | undefined): (string | null)[] | undefined {
  const n = records.length;
  const values = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const v = records[i]![k]!;
    if (v === '') {
      if (!nullable) return undefined;
      values[i] = null;
    } else if (allowed && !allowed.has(v)) {
      return undefined;
    } else {
      values[i] = v;
    }
  }
  return values;
}

// One value of a table row against its declared column: missing markers, numbers, booleans,
// text, categories and arrays of a declared shape (json/ndjson arrays, Parquet/Arrow lists).
// Messages show a short form of a bad value (never a whole array).
import type { ColumnSpec } from './sources.ts';
import type { ColumnType } from './dataset.ts';

const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'null', 'NULL']);

export function isMissing(v: unknown, type: ColumnType): boolean {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return true;
  return typeof v === 'string' && type !== 'string' && type !== 'category' ? MISSING.has(v.trim()) : v === '';
}

export type Value = number | string | null | Float32Array;
type Converted = { ok: true; v: Value } | { ok: false; why: string };

/** A bad value as a message shows it: short, so a 784-pixel row never fills a log. */
export function showValue(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (v !== null && typeof v === 'object') return 'an object';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function scalar(v: unknown, type: ColumnType): Converted {
  if (type === 'boolean') {
    const s = String(v).trim().toLowerCase();
    if (v === true || s === 'true' || s === '1') return { ok: true, v: 1 };
    if (v === false || s === 'false' || s === '0') return { ok: true, v: 0 };
    return { ok: false, why: `${showValue(v)} is not a boolean (true/false/1/0)` };
  }
  const x = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  if (!Number.isFinite(x)) return { ok: false, why: `${showValue(v)} is not a number` };
  if (type === 'integer' && !Number.isInteger(x)) return { ok: false, why: `${showValue(v)} is not an integer` };
  return { ok: true, v: x };
}

/**
 * An array value of a column with a declared `shape`: nested to match the shape, or flat with the
 * shape's product of items; row-major either way. A missing item is NaN when the column is nullable.
 */
function tensor(v: unknown, c: ColumnSpec & { shape: number[] }): Converted {
  const shape = c.shape;
  const total = shape.reduce((a, b) => a * b, 1);
  const dims = `[${shape.join(', ')}]`;
  if (!Array.isArray(v)) return { ok: false, why: `${showValue(v)} is not an array (the column's shape is ${dims})` };
  const out = new Float32Array(total);
  let k = 0;
  const flat = shape.length > 1 && v.length === total && !v.some(Array.isArray);
  const walk = (a: unknown, depth: number, at: number[]): string | undefined => {
    if (depth < shape.length) {
      const want = flat ? total : shape[depth]!;
      if (!Array.isArray(a)) return `item ${at.map((i) => `[${i}]`).join('')} is ${showValue(a)}, not an array`;
      if (a.length !== want) {
        const where = at.length ? `item ${at.map((i) => `[${i}]`).join('')} has` : 'has';
        return `${where} ${a.length} items; the shape ${dims} needs ${want} there (or ${total} in one flat array)`;
      }
      for (let i = 0; i < a.length; i++) {
        const why = walk(a[i], flat ? shape.length : depth + 1, [...at, i]);
        if (why) return why;
      }
      return undefined;
    }
    const place = `item ${at.map((i) => `[${i}]`).join('')}`;
    if (isMissing(a, c.type)) {
      if (!c.nullable) return `${place} is missing and the column is not nullable`;
      out[k++] = NaN;
      return undefined;
    }
    const s = scalar(a, c.type);
    if (!s.ok) return `${place}: ${s.why}`;
    out[k++] = s.v as number;
    return undefined;
  };
  const why = walk(v, 0, []);
  return why ? { ok: false, why } : { ok: true, v: out };
}

export function convert(v: unknown, c: ColumnSpec): Converted {
  if (isMissing(v, c.type)) {
    if (!c.nullable) return { ok: false, why: 'is missing and the column is not nullable' };
    return { ok: true, v: c.shape ? new Float32Array(c.shape.reduce((a, b) => a * b, 1)).fill(NaN) : null };
  }
  if (c.shape) {
    if (c.type === 'string' || c.type === 'category') return { ok: false, why: `a ${c.type} column cannot have a shape; use type: number` };
    return tensor(v, c as ColumnSpec & { shape: number[] });
  }
  if (Array.isArray(v)) {
    return { ok: false, why: `${showValue(v)} where one value was expected; declare the column's shape in schema.columns to read arrays` };
  }
  // showValue(v) only for a message: it costs more than the conversion
  switch (c.type) {
    case 'number':
    case 'integer':
    case 'boolean':
      return scalar(v, c.type);
    case 'string':
      return typeof v === 'object' ? { ok: false, why: `${showValue(v)} is not a string` } : { ok: true, v: String(v) };
    case 'category': {
      if (typeof v === 'object') return { ok: false, why: `${showValue(v)} is not a category value` };
      const s = String(v);
      if (c.values && !c.values.map(String).includes(s)) {
        return { ok: false, why: `${showValue(v)} is not one of ${c.values.map((x) => JSON.stringify(x)).join(', ')}` };
      }
      return { ok: true, v: s };
    }
  }
}

/** The nesting of an array value (`[[1, 2], [3, 4]]` → [2, 2]); undefined for a scalar. */
export function arrayShape(v: unknown): number[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return [v.length, ...(arrayShape(v[0]) ?? [])];
}

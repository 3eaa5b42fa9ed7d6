// Reading the collect stage's sources: bytes from a file (inside the pipeline's directory), an
// http(s) URL or an s3:// object (source-stream.ts), streamed with a size limit and an optional sha256 check, then parsed (csv, json,
// ndjson; Parquet and Arrow in table-columnar.ts) and held to the declared column schema. A value
// that does not fit is an error naming the row and column, or (onBadRows: drop) a dropped, counted
// row: never a silent NaN. (One value's conversion: table-values.ts.)
import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FileOrUrl } from '../../spec/types.gen.ts';
import type { Column, ColumnType, Dataset } from './dataset.ts';
import { DataError } from './data-error.ts';
import { openSource } from './source-stream.ts';
import { arrayShape, convert, isMissing, type Value } from './table-values.ts';

export { DataError };

export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;

export type { FileOrUrl };

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  nullable?: boolean;
  values?: (string | number | boolean)[];
  /** Each value is an array of this shape (nested, or flat row-major); the column is a tensor. */
  shape?: number[];
}

export interface TableSchema {
  columns?: ColumnSpec[];
  label?: string;
}

/** Read a source's bytes whole, with the size limit and the sha256 check. `where` prefixes messages (e.g. `collect stage "data"`). */
export async function readSourceBytes(src: FileOrUrl, baseDir: string | undefined, where: string, signal?: AbortSignal): Promise<Buffer> {
  const limit = src.maxBytes ?? DEFAULT_MAX_BYTES;
  const { name, chunks } = await openSource(src, baseDir, where, { signal, limit });
  const hash = createHash('sha256');
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of chunks) {
    n += c.byteLength;
    if (n > limit) {
      throw overLimit(where, name, limit);
    }
    hash.update(c);
    parts.push(Buffer.from(c));
  }
  const hex = hash.digest('hex');
  if (src.sha256 && src.sha256 !== hex) throw sha256Mismatch(where, name, hex, src.sha256);
  return Buffer.concat(parts);
}

export function sha256Mismatch(where: string, name: string, hex: string, expected: string): DataError {
  return new DataError(
    `${where}: ${name} has sha256 ${hex}, not the expected ${expected}; the data changed: check the source, then update source.sha256`,
  );
}

export function overLimit(where: string, name: string, limit: number): DataError {
  return new DataError(`${where}: ${name} is over the limit of ${limit} bytes; raise source.maxBytes`);
}

/** One input record: values by column name, and where it came from (for messages). */
export interface RawRow {
  values: Record<string, unknown>;
  place: string;
  /** Its line (csv, ndjson) or 1-based row (json array, parquet, arrow) in the source: the dataset's origin. */
  at: number;
}

/**
 * Without a declared schema: numbers where every present value is one, else strings; an array
 * column takes the shape of its first value (numbers). Parquet and Arrow pass their own types.
 */
export function inferSchema(
  names: string[],
  rows: RawRow[],
  label?: string,
  known?: Map<string, ColumnType>,
  /** A column's value in a row (a csv source reads its fields without building the row's values object). */
  cell: (name: string) => (row: RawRow) => unknown = (name) => (row) => row.values[name],
): ColumnSpec[] {
  return names.map((name) => {
    let numeric = true;
    let integer = true;
    let missing = false;
    const get = cell(name);
    for (const r of rows) {
      const v = get(r);
      if (isMissing(v, 'number')) {
        missing = true;
        continue;
      }
      const shape = arrayShape(v);
      if (shape) return { name, type: 'number', shape, nullable: rows.some((x) => isMissing(get(x), 'number')) };
      const x = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
      if (!Number.isFinite(x)) numeric = false;
      else if (!Number.isInteger(x)) integer = false;
    }
    const own = known?.get(name);
    if (own === 'boolean') return { name, type: own, nullable: missing };
    const isText = own ? own === 'string' : !numeric;
    const type: ColumnType = !isText ? (name === label && integer ? 'integer' : 'number') : name === label ? 'category' : 'string';
    return { name, type, nullable: missing };
  });
}

export interface TableResult {
  dataset: Dataset;
  dropped: number;
}

/** Rows held to the schema (declared, or inferred with `known` types) as a dataset. */
export function buildTable(
  names: string[],
  rows: RawRow[],
  schema: TableSchema | undefined,
  onBadRows: 'fail' | 'drop',
  where: string,
  file: string,
  known?: Map<string, ColumnType>,
  unit: 'line' | 'row' = 'row',
  /** A later chunk of a streamed source may lose every row to onBadRows: drop; the source as a whole may not. */
  allowEmpty = false,
): TableResult {
  const specs = schema?.columns ?? inferSchema(names, rows, schema?.label, known);
  for (const s of specs) {
    if (!names.includes(s.name)) {
      throw new DataError(
        `${where}: ${file}: column ${JSON.stringify(s.name)} declared in schema.columns is not in the data ` +
          `(its columns: ${names.join(', ') || 'none'}); fix the schema or the data`,
      );
    }
  }
  if (schema?.label && !specs.some((s) => s.name === schema.label)) {
    throw new DataError(`${where}: schema.label ${JSON.stringify(schema.label)} is not a declared column; add it to schema.columns`);
  }
  // values go straight into their columns (a row is committed once every value converted), so
  // a chunk of a streamed source costs its columns, not an array per row
  const n = rows.length;
  const text = specs.map((s) => (s.type === 'string' || s.type === 'category' ? new Array<string | null>(n) : undefined));
  const widths = specs.map((s) => (s.shape ? s.shape.reduce((a, b) => a * b, 1) : 1));
  const nums = specs.map((_s, j) => (text[j] ? undefined : new Float32Array(n * widths[j]!)));
  const keptAt = new Uint32Array(n);
  const row: Value[] = new Array(specs.length);
  let kept = 0;
  let dropped = 0;
  for (const r of rows) {
    let bad: string | undefined;
    for (let j = 0; j < specs.length; j++) {
      const s = specs[j]!;
      const c = convert(r.values[s.name], s);
      if (!c.ok) {
        bad =
          `${where}: ${file} ${r.place}, column ${JSON.stringify(s.name)}: ${c.why}. Fix the row, or set ` +
          'onBadRows: drop to skip such rows';
        break;
      }
      row[j] = c.v;
    }
    if (bad !== undefined) {
      if (onBadRows === 'drop') {
        dropped++;
        continue;
      }
      throw new DataError(bad);
    }
    for (let j = 0; j < specs.length; j++) {
      const v = row[j]!;
      const t = text[j];
      if (t) t[kept] = v as string | null;
      else if (specs[j]!.shape) nums[j]!.set(v as Float32Array, kept * widths[j]!);
      else nums[j]![kept] = v === null ? NaN : (v as number);
    }
    keptAt[kept++] = r.at;
  }
  if (kept === 0 && !allowEmpty)
    throw new DataError(`${where}: ${file} has no usable rows${dropped ? ` (${dropped} dropped as bad)` : ''}`);
  const columns: Column[] = specs.map((s, j) => {
    const t = text[j];
    if (t) {
      if (kept < n) t.length = kept;
      return { name: s.name, type: s.type as 'string' | 'category', values: t, categories: s.values?.map(String), nullable: s.nullable };
    }
    const all = nums[j]!;
    const data = kept < n ? all.slice(0, kept * widths[j]!) : all;
    return { name: s.name, type: s.type, shape: s.shape ?? [], data, nullable: s.nullable } as Column;
  });
  const origin = { file, unit, at: kept < n ? keptAt.slice(0, kept) : keptAt };
  return { dataset: { rows: kept, columns, label: schema?.label, origin }, dropped };
}

export function parseCsvTable(
  buf: Buffer,
  opts: { header?: boolean; delimiter?: string },
  schema: TableSchema | undefined,
  onBadRows: 'fail' | 'drop',
  where: string,
  file: string,
): TableResult {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(buf, {
      delimiter: opts.delimiter ?? ',',
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
      trim: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    throw new DataError(`${where}: ${file} is not valid CSV: ${(e as Error).message}`);
  }
  const header = opts.header ?? true;
  let names: string[];
  if (header) {
    if (records.length === 0) throw new DataError(`${where}: ${file} is empty`);
    names = records.shift()!.record;
  } else {
    const w = records[0]?.record.length ?? 0;
    names = schema?.columns?.map((c) => c.name) ?? Array.from({ length: w }, (_, i) => `c${i}`);
  }
  const rows: RawRow[] = records.map((r, i) => {
    const values: Record<string, unknown> = {};
    names.forEach((n, j) => (values[n] = r.record[j]));
    const place = `row ${i + 1} (line ${r.info.lines})`;
    if (r.record.length !== names.length) {
      if (onBadRows === 'drop') return { values: { __bad: true }, place, at: r.info.lines };
      throw new DataError(
        `${where}: ${file} ${place}: has ${r.record.length} fields, the header has ${names.length}. ` +
          'Fix the row, or set onBadRows: drop to skip such rows',
      );
    }
    return { values, place, at: r.info.lines };
  });
  const good = rows.filter((r) => !r.values.__bad);
  const res = buildTable(names, good, schema, onBadRows, where, file, undefined, 'line');
  return { ...res, dropped: res.dropped + rows.length - good.length };
}

export function parseJsonTable(
  buf: Buffer,
  format: 'json' | 'ndjson',
  schema: TableSchema | undefined,
  onBadRows: 'fail' | 'drop',
  where: string,
  file: string,
): TableResult {
  const rows: RawRow[] = [];
  let dropped = 0;
  const addObject = (o: unknown, place: string, at: number) => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      if (onBadRows === 'drop') return void dropped++;
      throw new DataError(`${where}: ${file} ${place} is not a JSON object; each row must be an object of column values`);
    }
    rows.push({ values: o as Record<string, unknown>, place, at });
  };
  const text = buf.toString('utf8');
  if (format === 'json') {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new DataError(`${where}: ${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(doc)) throw new DataError(`${where}: ${file} must hold a JSON array of row objects`);
    doc.forEach((o, i) => addObject(o, `row ${i + 1}`, i + 1));
  } else {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch (e) {
        if (onBadRows === 'drop') return void dropped++;
        throw new DataError(`${where}: ${file} line ${i + 1} is not valid JSON (${(e as Error).message}); fix it or set onBadRows: drop`);
      }
      addObject(o, `line ${i + 1}`, i + 1);
    });
  }
  const names = schema?.columns?.map((c) => c.name) ?? [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  // A declared column absent from one object is a missing value, not a schema error.
  const res = buildTable(names, rows, schema, onBadRows, where, file, undefined, format === 'ndjson' ? 'line' : 'row');
  return { ...res, dropped: res.dropped + dropped };
}

// Parquet (hyparquet) and Arrow IPC (apache-arrow) files as rows for data-sources.ts's
// buildTable, so they are held to the same schema, with the same row/column messages, as csv.
// Values are normalised to what a JSON row would hold: 64-bit integers become numbers, dates and
// timestamps ISO text, lists (nested) arrays, null and NaN missing. Without a declared schema a
// column's type is its values' type in the file (number, boolean or text), so a string column of
// digits stays text. The whole file is in memory (collect's size limit bounds it).
import { tableFromIPC, Vector } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { PARQUET_COMPRESSORS, registerArrowCodecs } from './codecs.ts';
import { buildTable, DataError, type RawRow, type TableResult, type TableSchema } from './sources.ts';
import type { ColumnType } from './dataset.ts';

export function normalise(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Vector) return Array.from(v.toArray() as ArrayLike<unknown>, normalise);
  if (Array.isArray(v)) return v.map(normalise);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof Uint8Array)) {
    return Array.from(v as unknown as ArrayLike<unknown>, normalise);
  }
  return v;
}

/** A column's type by its first present value (arrays are numbers with a shape). */
export function typesOf(names: string[], rows: RawRow[]): Map<string, ColumnType> {
  const types = new Map<string, ColumnType>();
  for (const n of names) {
    const v = rows.find((r) => r.values[n] !== null)?.values[n];
    if (typeof v === 'boolean') types.set(n, 'boolean');
    else if (typeof v === 'string') types.set(n, 'string');
    else if (typeof v === 'number' || Array.isArray(v)) types.set(n, 'number');
  }
  return types;
}

function arrayBufferOf(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

async function parquetRows(buf: Buffer, where: string, file: string): Promise<{ names: string[]; rows: RawRow[] }> {
  const ab = arrayBufferOf(buf);
  let names: string[];
  let objects: Record<string, unknown>[];
  try {
    const metadata = parquetMetadata(ab);
    names = parquetSchema(metadata).children.map((c) => c.element.name);
    objects = (await parquetReadObjects({ file: ab, metadata, compressors: PARQUET_COMPRESSORS })) as Record<string, unknown>[];
  } catch (e) {
    throw parquetError(e, where, file);
  }
  return { names, rows: objects.map((o, i) => ({ values: rowOf(names, (n) => o[n]), place: `row ${i + 1}`, at: i + 1 })) };
}

/** What a failed Arrow IPC read means for the user, with the fix. */
export function arrowError(e: unknown, where: string, file: string): DataError {
  return new DataError(`${where}: ${file} is not an Arrow IPC file or stream mlpipe can read: ${(e as Error).message}`);
}

/** What a failed Parquet read means for the user, with the fix. */
export function parquetError(e: unknown, where: string, file: string): DataError {
  return new DataError(
    `${where}: ${file} is not a Parquet file mlpipe can read: ${(e as Error).message}. ` +
      'mlpipe reads uncompressed pages and snappy, gzip, brotli, zstd, lz4 and lz4_raw',
  );
}

function arrowRows(buf: Buffer, where: string, file: string): { names: string[]; rows: RawRow[] } {
  let table: ReturnType<typeof tableFromIPC>;
  registerArrowCodecs();
  try {
    table = tableFromIPC(buf);
  } catch (e) {
    throw arrowError(e, where, file);
  }
  if (table.schema.fields.length === 0) throw new DataError(`${where}: ${file} is not an Arrow IPC file or stream (no columns)`);
  const names = table.schema.fields.map((f) => f.name);
  const cols = names.map((n) => table.getChild(n)!);
  const rows: RawRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    rows.push({ values: rowOf(names, (_n, j) => cols[j]!.get(i)), place: `row ${i + 1}`, at: i + 1 });
  }
  return { names, rows };
}

export function rowOf(names: string[], get: (name: string, j: number) => unknown): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  names.forEach((n, j) => (values[n] = normalise(get(n, j))));
  return values;
}

/** A Parquet or Arrow IPC table held to `schema`, like parseCsvTable. */
export async function parseColumnarTable(
  buf: Buffer,
  format: 'parquet' | 'arrow',
  schema: TableSchema | undefined,
  onBadRows: 'fail' | 'drop',
  where: string,
  file: string,
): Promise<TableResult> {
  const { names, rows } = format === 'parquet' ? await parquetRows(buf, where, file) : arrowRows(buf, where, file);
  return buildTable(names, rows, schema, onBadRows, where, file, typesOf(names, rows));
}

/** The column names of a Parquet file, from its footer alone (for `mlpipe validate`). */
export function parquetColumnNames(footer: ArrayBuffer): string[] {
  return parquetSchema(parquetMetadata(footer)).children.map((c) => c.element.name);
}

// A table source read as a stream and cut into datasets of `chunkRows` rows, so a source larger
// than memory is collected with a peak that follows the chunk size. csv (csv-tokenizer.ts, which
// reads what csv-parse reads) and ndjson (line by line) come from any byte stream (file, URL, s3://); Parquet is read
// a row range at a time from a file (hyparquet over a file handle) and Arrow IPC a record batch at
// a time (apache-arrow over a file handle): a URL or s3:// object is first spilled to a temporary
// file (table-spill.ts). Every chunk is typed as sources.ts's buildTable types it, so types, nullability,
// onBadRows, categories and located errors are those of the in-memory path: a csv chunk whose
// values are all plain is typed straight from its fields (table-fast.ts, a segment of rows at a
// time as they arrive), anything else by buildTable itself. A source of at most
// `chunkRows` rows is one dataset built exactly as parseTable builds it (same artifact bytes).
// With more rows, the column types are fixed by the declared schema or, without one, inferred
// from the first chunk; a later value that contradicts them is an error naming its file, line (or
// row) and column, or a dropped row under onBadRows: drop.
import { open } from 'node:fs/promises';
import { RecordBatchReader } from 'apache-arrow';
import { CsvTokenizer } from './csv-tokenizer.ts';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { Column, ColumnType, Dataset } from './dataset.ts';
import { DataError } from './data-error.ts';
import { buildTable, type ColumnSpec, inferSchema, type RawRow, type TableResult, type TableSchema } from './sources.ts';
import { PARQUET_COMPRESSORS, registerArrowCodecs } from './codecs.ts';
import { CsvRow, csvCell, typeCsvChunk } from './table-fast.ts';
import { arrowError, parquetError, rowOf, typesOf } from './table-columnar.ts';

export interface StreamRequest {
  format: 'csv' | 'ndjson' | 'parquet' | 'arrow';
  csv?: { header?: boolean; delimiter?: string };
  schema?: TableSchema;
  onBadRows: 'fail' | 'drop';
  /** Message prefix (`collect stage "data"`) and the file or URL, for located errors. */
  where: string;
  file: string;
  chunkRows: number;
}

/** One chunk of the table (absent when every row of it was dropped) and the rows it dropped. */
export interface TableChunk {
  dataset?: Dataset;
  dropped: number;
}

/** A row refused before the schema sees it (a csv row of the wrong width, an ndjson line that is not an object). */
type Item = RawRow | { bad: string };

/** Rows of one source, in order, and how its column names and file types are known from its first rows. */
export interface RowSource {
  /** In batches (a read's worth), so that a row costs no await of its own. */
  items: AsyncIterable<Item[]>;
  names(first: RawRow[]): string[];
  /** Parquet and Arrow: the types the file gives its columns. */
  known?(names: string[], first: RawRow[]): Map<string, ColumnType>;
  unit: 'line' | 'row';
  /** csv: a later chunk's columns typed straight from its fields (table-fast.ts), or undefined for the row path. */
  fast?(rows: RawRow[], names: string[], specs: ColumnSpec[]): { columns: Column[]; at: Uint32Array } | undefined;
  /** csv: reads a column's value of a row without building its values object (inferSchema's `cell`). */
  cell?(names: string[]): (name: string) => (row: RawRow) => unknown;
}

const TRY_DROP = 'Fix the row, or set onBadRows: drop to skip such rows';

/** Rows of a later chunk typed together by the source's fast path (table-fast.ts), so that its fields die young. */
const SEGMENT_ROWS = 512;

/** A run of a later chunk's rows: typed by the fast path, or left for the row path. */
type Segment = { typed: { columns: Column[]; at: Uint32Array } } | { raw: RawRow[] };

/** The source's rows as chunks (see the file comment). */
export async function* chunkTable(src: RowSource, r: StreamRequest): AsyncGenerator<TableChunk> {
  let buf: RawRow[] = [];
  let pre = 0;
  let fixed: Fixed | undefined;
  let kept = 0;
  let dropped = 0;
  // after the first chunk: the current chunk's rows, typed a segment at a time as they arrive
  // (a chunk's worth of field strings held until its end would survive the young generation)
  let segments: Segment[] = [];
  let pending: RawRow[] = [];
  let count = 0;
  const flush = () => {
    if (!pending.length) return;
    const typed = src.fast?.(pending, fixed!.names, fixed!.later);
    segments.push(typed ? { typed } : { raw: pending });
    pending = [];
  };
  const done = (res: TableResult, bad: number): TableChunk => {
    kept += res.dataset.rows;
    dropped += res.dropped + bad;
    return res.dataset.rows ? { dataset: res.dataset, dropped: res.dropped + bad } : { dropped: res.dropped + bad };
  };
  const first = (rows: RawRow[], bad: number): TableChunk => {
    const names = src.names(rows);
    const specs = r.schema?.columns ?? inferSchema(names, rows, r.schema?.label, src.known?.(names, rows), src.cell?.(names));
    // (the inferred columns declared: what buildTable would infer, without inferring twice)
    const res =
      fastChunk(rows, names, specs, r, src) ??
      buildTable(names, rows, { columns: specs, label: r.schema?.label }, r.onBadRows, r.where, r.file, undefined, src.unit, true);
    // inferred from one chunk: a later chunk may miss values where this one had none
    const inferred = !r.schema?.columns;
    fixed = { names, later: inferred ? specs.map((s) => ({ ...s, nullable: true })) : specs, inferred };
    return done(res, bad);
  };
  const later = (bad: number): TableChunk => {
    flush();
    const parts = segments.map((g) =>
      'typed' in g ? { dataset: typedDataset(g.typed, r, src.unit), dropped: 0 } : laterChunk(g.raw, fixed!, r, src.unit),
    );
    segments = [];
    count = 0;
    const res = parts.length === 0 ? laterChunk([], fixed!, r, src.unit) : parts.length === 1 ? parts[0]! : joinParts(parts, r, src.unit);
    if (fixed!.inferred) markNullable(res.dataset);
    return done(res, bad);
  };
  for await (const batch of src.items) {
    for (const it of batch) {
      if ('bad' in it) {
        if (r.onBadRows !== 'drop') throw new DataError(it.bad);
        pre++;
        continue;
      }
      if (!fixed) {
        buf.push(it);
        if (buf.length > r.chunkRows) {
          const next = buf.pop()!;
          yield first(buf, pre);
          buf = [];
          pending = [next];
          count = 1;
          pre = 0;
        }
        continue;
      }
      if (count === r.chunkRows) {
        yield later(pre);
        pre = 0;
      }
      pending.push(it);
      count++;
      if (src.fast && pending.length >= SEGMENT_ROWS) flush();
    }
  }
  if (!fixed) {
    // one chunk: the in-memory path's dataset, to the byte
    const names = src.names(buf);
    const res = buildTable(names, buf, r.schema, r.onBadRows, r.where, r.file, src.known?.(names, buf), src.unit);
    yield { dataset: res.dataset, dropped: res.dropped + pre };
    return;
  }
  if (count || pre) yield later(pre);
  if (kept === 0) throw new DataError(`${r.where}: ${r.file} has no usable rows${dropped ? ` (${dropped} dropped as bad)` : ''}`);
}

interface Fixed {
  names: string[];
  later: ColumnSpec[];
  inferred: boolean;
}

function typedDataset(t: { columns: Column[]; at: Uint32Array }, r: StreamRequest, unit: 'line' | 'row'): Dataset {
  return { rows: t.at.length, columns: t.columns, label: r.schema?.label, origin: { file: r.file, unit, at: t.at } };
}

/** A chunk's segments as one dataset (what buildTable gives the chunk's rows at once). */
function joinParts(parts: TableResult[], r: StreamRequest, unit: 'line' | 'row'): TableResult {
  const rows = parts.reduce((a, p) => a + p.dataset.rows, 0);
  const at = new Uint32Array(rows);
  let o = 0;
  for (const p of parts) {
    at.set(p.dataset.origin!.at, o);
    o += p.dataset.rows;
  }
  const columns = parts[0]!.dataset.columns.map((c0, j): Column => {
    if ('data' in c0) {
      const data = new Float32Array(rows);
      let k = 0;
      for (const p of parts) {
        const d = (p.dataset.columns[j] as typeof c0).data;
        data.set(d, k);
        k += d.length;
      }
      return { ...c0, data };
    }
    const values: (string | null)[] = [];
    for (const p of parts) for (const v of (p.dataset.columns[j] as typeof c0).values) values.push(v);
    return { ...c0, values };
  });
  return {
    dataset: { rows, columns, label: r.schema?.label, origin: { file: r.file, unit, at } },
    dropped: parts.reduce((a, p) => a + p.dropped, 0),
  };
}

/**
 * The chunk as buildTable would type it with these columns, by the source's fast path; undefined
 * when it has none, or a value (or a schema error buildTable would report) needs the row path.
 */
function fastChunk(rows: RawRow[], names: string[], specs: ColumnSpec[], r: StreamRequest, src: RowSource) {
  if (!src.fast || rows.length === 0) return undefined;
  if (!specs.every((s) => names.includes(s.name)) || (r.schema?.label && !specs.some((s) => s.name === r.schema?.label))) return undefined;
  const fast = src.fast(rows, names, specs);
  if (!fast) return undefined;
  return { dataset: typedDataset(fast, r, src.unit), dropped: 0 };
}

/** Rows of a chunk after the first, held to the fixed columns by buildTable (the row path). */
function laterChunk(rows: RawRow[], fixed: Fixed, r: StreamRequest, unit: 'line' | 'row'): TableResult {
  let bad = 0;
  if (fixed.inferred) {
    // a column the first chunk did not have (ndjson objects may add keys)
    const known = new Set(fixed.names);
    rows = rows.filter((row) => {
      const extra = Object.keys(row.values).find((k) => !known.has(k));
      if (extra === undefined) return true;
      const msg =
        `${r.where}: ${r.file} ${row.place}, column ${JSON.stringify(extra)}: the first ${r.chunkRows} rows have no such column ` +
        `(their columns: ${fixed.names.join(', ')}); declare every column in schema.columns, or set onBadRows: drop to skip such rows`;
      if (r.onBadRows !== 'drop') throw new DataError(msg);
      bad++;
      return false;
    });
  }
  let res: ReturnType<typeof buildTable>;
  try {
    res = buildTable(
      fixed.names,
      rows,
      { columns: fixed.later, label: r.schema?.label },
      r.onBadRows,
      r.where,
      r.file,
      undefined,
      unit,
      true,
    );
  } catch (e) {
    if (!(e instanceof DataError) || !fixed.inferred) throw e;
    const types = fixed.later.map((s) => `${s.name}: ${s.type}`).join(', ');
    throw new DataError(
      `${e.message}. The column types were inferred from the first ${r.chunkRows} rows (${types}); ` +
        'declare the columns in schema.columns when later rows hold other kinds of values',
    );
  }
  return { dataset: res.dataset, dropped: res.dropped + bad };
}

/** Inferred columns: nullable as this chunk's values say, as an inferred column's is in the first chunk. */
function markNullable(ds: Dataset): void {
  for (const c of ds.columns) {
    c.nullable = 'data' in c ? c.data.some(Number.isNaN) : c.values.some((v) => v === null);
  }
}

/** csv rows from a byte stream (csv-tokenizer.ts), numbered and placed as parseCsvTable does. */
export function csvSource(bytes: AsyncIterable<Uint8Array>, r: StreamRequest): RowSource {
  const header = r.csv?.header ?? true;
  let names: string[] | undefined;
  async function* items(): AsyncGenerator<Item[]> {
    const tokenizer = new CsvTokenizer(r.csv?.delimiter ?? ',', (why) => new DataError(`${r.where}: ${r.file} is not valid CSV: ${why}`));
    // as Buffer.toString does: bad UTF-8 becomes U+FFFD; the BOM is the tokenizer's to drop
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    let i = 0;
    let out: Item[] = [];
    const emit = (record: string[], line: number) => {
      if (!names) {
        if (header) {
          names = record;
          return;
        }
        names = r.schema?.columns?.map((c) => c.name) ?? Array.from({ length: record.length }, (_, j) => `c${j}`);
      }
      i++;
      if (record.length !== names.length) {
        const place = `row ${i} (line ${line})`;
        out.push({ bad: `${r.where}: ${r.file} ${place}: has ${record.length} fields, the header has ${names.length}. ${TRY_DROP}` });
        return;
      }
      out.push(new CsvRow(record, line, i, names));
    };
    for await (const c of bytes) {
      tokenizer.push(decoder.decode(c, { stream: true }), emit);
      const ready = out;
      out = [];
      yield ready;
    }
    tokenizer.push(decoder.decode(), emit);
    tokenizer.end(emit);
    yield out;
    if (!names && header) throw new DataError(`${r.where}: ${r.file} is empty`);
  }
  return { items: items(), names: () => names ?? [], unit: 'line', fast: typeCsvChunk, cell: csvCell };
}

/** ndjson rows from a byte stream, line by line (numbered as parseJsonTable numbers them). */
export function ndjsonSource(bytes: AsyncIterable<Uint8Array>, r: StreamRequest): RowSource {
  async function* items(): AsyncGenerator<Item[]> {
    // as Buffer.toString does: a byte-order mark stays (and makes its line bad JSON)
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    let rest = '';
    let line = 0;
    const one = (text: string): Item | undefined => {
      line++;
      if (text.trim() === '') return undefined;
      let o: unknown;
      try {
        o = JSON.parse(text);
      } catch (e) {
        return { bad: `${r.where}: ${r.file} line ${line} is not valid JSON (${(e as Error).message}); fix it or set onBadRows: drop` };
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        return { bad: `${r.where}: ${r.file} line ${line} is not a JSON object; each row must be an object of column values` };
      }
      return { values: o as Record<string, unknown>, place: `line ${line}`, at: line };
    };
    for await (const c of bytes) {
      const text = rest + decoder.decode(c, { stream: true });
      const parts = text.split('\n');
      rest = parts.pop()!;
      const batch: Item[] = [];
      for (const p of parts) {
        const it = one(p);
        if (it) batch.push(it);
      }
      yield batch;
    }
    const it = one(rest + decoder.decode());
    if (it) yield [it];
  }
  return {
    items: items(),
    names: (first) => r.schema?.columns?.map((c) => c.name) ?? [...new Set(first.flatMap((row) => Object.keys(row.values)))],
    unit: 'line',
  };
}

/** A local Parquet file's rows, `chunkRows` at a time (hyparquet reads only the row groups it needs). */
export function parquetSource(path: string, r: StreamRequest): RowSource {
  let names: string[] = [];
  async function* items(): AsyncGenerator<Item[]> {
    let file: Awaited<ReturnType<typeof asyncBufferFromFile>>;
    let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
    try {
      file = await asyncBufferFromFile(path);
      metadata = await parquetMetadataAsync(file);
      names = parquetSchema(metadata).children.map((c) => c.element.name);
    } catch (e) {
      throw parquetError(e, r.where, r.file);
    }
    const n = Number(metadata.num_rows);
    for (let from = 0; from < n; from += r.chunkRows) {
      let objects: Record<string, unknown>[];
      try {
        objects = (await parquetReadObjects({
          file,
          metadata,
          rowStart: from,
          rowEnd: Math.min(n, from + r.chunkRows),
          compressors: PARQUET_COMPRESSORS,
        })) as Record<string, unknown>[];
      } catch (e) {
        throw parquetError(e, r.where, r.file);
      }
      yield objects.map((o, i) => ({ values: rowOf(names, (k) => o[k]), place: `row ${from + i + 1}`, at: from + i + 1 }));
    }
  }
  return { items: items(), names: () => names, known: typesOf, unit: 'row' };
}

/** A local Arrow IPC file's (or stream's) rows, a record batch at a time. */
export function arrowSource(path: string, r: StreamRequest): RowSource {
  let names: string[] = [];
  async function* items(): AsyncGenerator<Item[]> {
    const fh = await open(path);
    try {
      registerArrowCodecs();
      let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
      try {
        reader = await RecordBatchReader.from(fh);
        await reader.open();
      } catch (e) {
        throw arrowError(e, r.where, r.file);
      }
      names = reader.schema.fields.map((f) => f.name);
      if (names.length === 0) throw new DataError(`${r.where}: ${r.file} is not an Arrow IPC file or stream (no columns)`);
      let at = 0;
      const it = reader[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await it.next();
        } catch (e) {
          throw arrowError(e, r.where, r.file);
        }
        if (next.done) break;
        const batch = next.value as { numRows: number; getChild(name: string): { get(i: number): unknown } | null };
        const cols = names.map((n) => batch.getChild(n)!);
        const rows: Item[] = [];
        for (let i = 0; i < batch.numRows; i++) {
          at++;
          rows.push({ values: rowOf(names, (_n, j) => cols[j]!.get(i)), place: `row ${at}`, at });
        }
        yield rows;
      }
    } finally {
      await fh.close();
    }
  }
  return { items: items(), names: () => names, known: typesOf, unit: 'row' };
}

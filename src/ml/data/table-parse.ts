// Parsing a collected table (csv, json, ndjson, parquet, arrow) and computing its statistics. Both
// are CPU-bound and take seconds on a big file (about 20 s for 30 MB of CSV on a busy 2-core
// machine), which would block the worker's event loop: no heartbeats, no answers to workflow
// queries, no cancellation. Big inputs are therefore parsed in a worker thread
// (table-parse-worker.ts), killed if the stage is cancelled; small ones inline, where a thread's
// start-up (about 0.2 s) would cost more than the parse.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { computeStats } from './dataset-stats.ts';
import { DataError, parseCsvTable, parseJsonTable, type TableSchema } from './sources.ts';
import { parseColumnarTable } from './table-columnar.ts';
import type { Dataset } from './dataset.ts';

export interface TableRequest {
  format: 'csv' | 'json' | 'ndjson' | 'parquet' | 'arrow';
  csv?: { header?: boolean; delimiter?: string };
  schema?: TableSchema;
  onBadRows: 'fail' | 'drop';
  /** Message prefix (`collect stage "data"`) and the file or URL, for located errors. */
  where: string;
  file: string;
}

/** Inputs up to this size are parsed on the calling thread. */
export const INLINE_MAX_BYTES = 1024 * 1024;

/**
 * The table with its statistics, on this thread; throws DataError naming the row and column of
 * bad data. (Async only because hyparquet's reader is; it does no I/O.)
 */
export async function parseTableHere(buf: Buffer, r: TableRequest): Promise<Dataset> {
  const t =
    r.format === 'csv'
      ? parseCsvTable(buf, r.csv ?? {}, r.schema, r.onBadRows, r.where, r.file)
      : r.format === 'json' || r.format === 'ndjson'
        ? parseJsonTable(buf, r.format, r.schema, r.onBadRows, r.where, r.file)
        : await parseColumnarTable(buf, r.format, r.schema, r.onBadRows, r.where, r.file);
  t.dataset.stats = computeStats(t.dataset, t.dropped);
  return t.dataset;
}

export type ThreadReply = { ok: true; dataset: Dataset } | { ok: false; message: string; dataError: boolean };

// The thread registers tsx's loader for itself, then imports its entry (as fit-worker-host.ts).
const TSX_API = pathToFileURL(
  createRequire(import.meta.url)
    .resolve('tsx/esm/api')
    .replace(/index\.cjs$/, 'index.mjs'),
).href;
const BOOTSTRAP = `
  import(${JSON.stringify(TSX_API)})
    .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./table-parse-worker.ts', import.meta.url).href)}); })
    .catch((e) => {
      require('node:worker_threads').parentPort.postMessage({
        ok: false, dataError: false, message: 'the parsing thread failed to start: ' + (e && e.message),
      });
    });
`;

/** parseTableHere, in a worker thread when `buf` is big; `signal` stops the thread. */
export async function parseTable(
  buf: Buffer,
  r: TableRequest,
  o: { signal?: AbortSignal; inlineMaxBytes?: number } = {},
): Promise<Dataset> {
  if (buf.length <= (o.inlineMaxBytes ?? INLINE_MAX_BYTES)) return parseTableHere(buf, r);
  o.signal?.throwIfAborted();
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { buf, request: r } });
  return new Promise<Dataset>((resolve, reject) => {
    let done = false;
    const onAbort = () => finish(() => reject(o.signal!.reason));
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      o.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      settle();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: ThreadReply) =>
      finish(() => (m.ok ? resolve(m.dataset) : reject(m.dataError ? new DataError(m.message) : new Error(m.message)))),
    );
    worker.once('error', (e) => finish(() => reject(e)));
    worker.once('exit', (code) =>
      finish(() => reject(new Error(`${r.where}: the parsing thread exited (code ${code}) before it finished`))),
    );
  });
}

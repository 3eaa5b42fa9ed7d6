// A collect source of rows (csv, ndjson, Parquet, Arrow) opened for streamed reading: its bytes
// counted against `maxBytes` and hashed for `sha256` as they pass, then cut into chunks by
// table-stream.ts. csv and ndjson parse straight from the byte stream (a file, a URL, an s3://
// object). Parquet and Arrow need a file: a local one is read in place; a URL or s3:// object is
// first spilled to a temporary file (deleted afterwards), held to `maxBytes` or 100 MB, as a
// whole-file read is, since it fills the disk. A streamed source has no size limit unless
// `maxBytes` is set: its memory follows the chunk size, not the file size.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { resolveInside } from '../../artifacts/paths.ts';
import type { FileOrUrl } from '../../spec/types.gen.ts';
import { openSource } from './source-stream.ts';
import { DEFAULT_MAX_BYTES, overLimit, sha256Mismatch } from './sources.ts';
import { arrowSource, chunkTable, csvSource, ndjsonSource, parquetSource, type StreamRequest, type TableChunk } from './table-stream.ts';

/** Bytes passed on while counted (`limit`) and hashed (`sha256`, checked at the end). */
async function* metered(
  chunks: AsyncIterable<Uint8Array>,
  where: string,
  name: string,
  limit: number | undefined,
  sha256: string | undefined,
): AsyncGenerator<Uint8Array> {
  const hash = sha256 ? createHash('sha256') : undefined;
  let n = 0;
  for await (const c of chunks) {
    n += c.byteLength;
    if (limit !== undefined && n > limit) throw overLimit(where, name, limit);
    hash?.update(c);
    yield c;
  }
  if (hash && sha256) {
    const hex = hash.digest('hex');
    if (hex !== sha256) throw sha256Mismatch(where, name, hex, sha256);
  }
}

/**
 * The source's rows as chunks of `r.chunkRows` (table-stream.ts): one chunk, built as the
 * in-memory path builds it, when it has no more rows than that.
 */
export async function* streamTable(
  src: FileOrUrl,
  baseDir: string | undefined,
  r: StreamRequest,
  signal?: AbortSignal,
): AsyncGenerator<TableChunk> {
  if (r.format === 'csv' || r.format === 'ndjson') {
    const s = await openSource(src, baseDir, r.where, { signal, limit: src.maxBytes });
    const bytes = metered(s.chunks, r.where, s.name, src.maxBytes, src.sha256);
    yield* chunkTable(r.format === 'csv' ? csvSource(bytes, r) : ndjsonSource(bytes, r), r);
    return;
  }
  let spill: string | undefined;
  try {
    let path: string;
    if (src.path !== undefined) {
      // openSource checks the path (inside the base directory, a file, under maxBytes)
      const s = await openSource(src, baseDir, r.where, { signal, limit: src.maxBytes });
      if (src.sha256) for await (const _ of metered(s.chunks, r.where, s.name, undefined, src.sha256));
      else (s.chunks as unknown as { destroy(): void }).destroy();
      path = resolveInside(baseDir!, src.path);
    } else {
      const limit = src.maxBytes ?? DEFAULT_MAX_BYTES;
      const s = await openSource(src, baseDir, r.where, { signal, limit });
      spill = await mkdtemp(join(tmpdir(), 'mlpipe-collect-'));
      path = join(spill, 'source');
      await pipeline(metered(s.chunks, r.where, s.name, limit, src.sha256), createWriteStream(path), { signal });
    }
    yield* chunkTable(r.format === 'parquet' ? parquetSource(path, r) : arrowSource(path, r), r);
  } finally {
    if (spill) await rm(spill, { recursive: true, force: true });
  }
}

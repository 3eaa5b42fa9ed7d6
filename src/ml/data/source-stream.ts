// Where a collect source's bytes come from, as a stream: a file inside the pipeline's directory,
// an http(s) URL, or an object in S3-compatible storage (`s3://bucket/key`, the endpoint and
// credentials the artifact store uses: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), so a cluster whose
// workers share no disk reads the same data everywhere. Readers either gather the bytes
// (readSourceBytes, with the size limit and sha256 check) or parse them as they arrive.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolveInside } from '../../artifacts/paths.ts';
import { createS3Client, endpointLabel } from '../../artifacts/s3-client.ts';
import { objectChunks } from '../../artifacts/s3-read.ts';
import type { FileOrUrl } from '../../spec/types.gen.ts';
import { DataError } from './data-error.ts';

export interface SourceStream {
  /** The source as the spec names it (path or URL), for messages. */
  name: string;
  /** Bytes, when known before reading (a file's size, a Content-Length, an object's length). */
  size?: number;
  chunks: AsyncIterable<Uint8Array>;
}

/** `s3://bucket/key` → bucket and key, or a DataError naming the fix. */
export function parseObjectUrl(url: string, where: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([^?#]+)$/.exec(url);
  if (!m) throw new DataError(`${where}: ${JSON.stringify(url)} is not s3://<bucket>/<key>; fix source.url`);
  return { bucket: m[1]!, key: m[2]! };
}

/**
 * Opens a source's byte stream. `limit` (bytes) refuses a source known to be larger before
 * reading it; a stream without a known size is checked by whoever reads it.
 */
export async function openSource(
  src: FileOrUrl,
  baseDir: string | undefined,
  where: string,
  o: { signal?: AbortSignal; limit?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<SourceStream> {
  const over = (name: string, size: number) =>
    new DataError(`${where}: ${name} is ${size} bytes, over the limit of ${o.limit}; raise source.maxBytes`);
  if (src.path !== undefined) {
    if (!baseDir) throw new DataError(`${where}: no base directory was given for path ${JSON.stringify(src.path)}`);
    let file: string;
    try {
      file = resolveInside(baseDir, src.path);
    } catch (e) {
      throw new DataError(`${where}: ${(e as Error).message}`);
    }
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) {
      throw new DataError(
        `${where}: ${src.path} does not exist (looked in ${baseDir}); fix source.path, or start workers ` +
          'whose checkout lies elsewhere with --repo-root <their checkout>',
      );
    }
    if (o.limit !== undefined && st.size > o.limit) throw over(src.path, st.size);
    return { name: src.path, size: st.size, chunks: createReadStream(file, { signal: o.signal }) };
  }
  if (src.url?.startsWith('s3://')) return openObject(src.url, where, o, over);
  if (src.url !== undefined) {
    let res: Response;
    try {
      res = await fetch(src.url, { signal: o.signal, redirect: 'follow', ...(src.headers ? { headers: src.headers } : {}) });
    } catch (e) {
      throw new Error(`${where}: fetching ${src.url} failed: ${(e as Error).message}`); // retryable
    }
    if (!res.ok || !res.body) {
      const msg = `${where}: ${src.url} answered HTTP ${res.status}`;
      if (res.status >= 400 && res.status < 500) throw new DataError(`${msg}; fix source.url`);
      throw new Error(msg); // 5xx: worth a retry
    }
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (o.limit !== undefined && declared > o.limit) {
      await res.body.cancel();
      throw over(src.url, declared);
    }
    return {
      name: src.url,
      ...(Number.isFinite(declared) ? { size: declared } : {}),
      chunks: res.body as unknown as AsyncIterable<Uint8Array>,
    };
  }
  throw new DataError(`${where}: the source needs a path or a url`);
}

/** An object in S3-compatible storage, its length known before the first byte is handed on. */
async function openObject(
  url: string,
  where: string,
  o: { signal?: AbortSignal; limit?: number; env?: NodeJS.ProcessEnv },
  over: (name: string, size: number) => DataError,
): Promise<SourceStream> {
  const { bucket, key } = parseObjectUrl(url, where);
  const env = o.env ?? process.env;
  const ctx = { client: createS3Client(env), bucket, endpoint: endpointLabel(env) };
  let size = 0;
  const it = objectChunks(ctx, key, {
    onLength: (n) => {
      size = n;
    },
    notFound: () => new DataError(`${where}: ${url} does not exist at ${ctx.endpoint}; fix source.url, or upload the object`),
  })[Symbol.asyncIterator]();
  // the first chunk comes after the length: read it now, so a missing object or a size over the
  // limit is an error here, before any parsing starts
  let first: IteratorResult<Uint8Array>;
  try {
    first = await it.next();
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new Error(`${where}: reading ${url} failed: ${(e as Error).message}`, { cause: e }); // retryable
  }
  if (o.limit !== undefined && size > o.limit) {
    await it.return?.(undefined);
    ctx.client.destroy();
    throw over(url, size);
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      if (!first.done) yield first.value;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        if (o.signal?.aborted) throw o.signal.reason;
        yield r.value;
      }
    } finally {
      await it.return?.(undefined);
      ctx.client.destroy();
    }
  }
  return { name: url, size, chunks: chunks() };
}

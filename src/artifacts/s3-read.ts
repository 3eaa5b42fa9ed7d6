// Streamed reads: an object's bytes as they arrive, in bounded memory. The SDK retries a request
// that fails before its body starts; a body that breaks off (reset, idle timeout) is resumed here
// from the byte it stopped at, pinned to the same object by its ETag.
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { explainS3Error, isNotFound } from './s3-errors.ts';
import type { S3Ctx } from './s3-ops.ts';

export interface ReadOptions {
  /** Called once with the object's length, before the first chunk. */
  onLength?: (bytes: number) => void;
  /** Called when the object does not exist (its result is thrown). */
  notFound: () => Error;
  /** Broken bodies resumed before giving up (default 4). */
  resumes?: number;
}

export async function* objectChunks(ctx: S3Ctx, key: string, o: ReadOptions): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let etag: string | undefined;
  let started = false;
  for (let broken = 0; ; ) {
    let body: Readable;
    try {
      const res = await ctx.client.send(
        new GetObjectCommand({
          Bucket: ctx.bucket,
          Key: key,
          ...(etag ? { IfMatch: etag } : {}),
          ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
        }),
      );
      if (!started) {
        started = true;
        etag = res.ETag;
        o.onLength?.(res.ContentLength ?? 0);
      }
      body = res.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw o.notFound();
      throw explainS3Error(e, { op: 'GetObject', bucket: ctx.bucket, key, endpoint: ctx.endpoint });
    }
    try {
      for await (const chunk of body) {
        offset += (chunk as Uint8Array).byteLength;
        yield chunk as Uint8Array;
      }
      return;
    } catch (e) {
      if (++broken > (o.resumes ?? 4)) {
        throw explainS3Error(e, { op: 'GetObject', bucket: ctx.bucket, key, endpoint: ctx.endpoint });
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** broken));
    } finally {
      body.destroy(); // a reader that stopped early frees the connection
    }
  }
}

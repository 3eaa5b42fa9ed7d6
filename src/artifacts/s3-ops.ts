// Small S3 operations the store and its lineage log share: each failure comes out explained
// (s3-errors.ts), with the operation and key it concerned.
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { explainS3Error, isNotFound } from './s3-errors.ts';

export interface S3Ctx {
  client: S3Client;
  bucket: string;
  /** endpointLabel(env), for messages. */
  endpoint: string;
}

/** Runs one request; its failure becomes an explained error. */
export async function call<T>(ctx: S3Ctx, op: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw explainS3Error(e, { op, bucket: ctx.bucket, key, endpoint: ctx.endpoint });
  }
}

export function sha256Base64(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}

/** A small object written whole, its SHA-256 checked by the server. */
export async function putSmall(ctx: S3Ctx, key: string, body: Uint8Array): Promise<void> {
  await call(ctx, 'PutObject', key, () =>
    ctx.client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: body, ChecksumSHA256: sha256Base64(body) })),
  );
}

/** A small object's bytes, or null when there is none. */
export async function getSmall(ctx: S3Ctx, key: string): Promise<Buffer | null> {
  try {
    const res = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  } catch (e) {
    if (isNotFound(e)) return null;
    throw explainS3Error(e, { op: 'GetObject', bucket: ctx.bucket, key, endpoint: ctx.endpoint });
  }
}

/** Every key under `prefix`, in S3's (lexicographic) order. */
export async function listKeys(ctx: S3Ctx, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await call(ctx, 'ListObjectsV2', prefix, () =>
      ctx.client.send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: prefix, ContinuationToken: token })),
    );
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function deleteKey(ctx: S3Ctx, key: string): Promise<void> {
  await call(ctx, 'DeleteObject', key, () => ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: key })));
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

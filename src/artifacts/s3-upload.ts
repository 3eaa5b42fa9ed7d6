// Publishing a content-addressed object: the key is known (the bytes were hashed first), and the
// object becomes visible in one step only once every byte was checked by the server: a single
// PutObject with the whole object's SHA-256, or a multipart upload whose parts each carry their
// SHA-256 and whose completion is checked against the composite checksum. `If-None-Match: *`
// makes the publish conditional, so two writers of the same content do not clobber each other
// (servers without conditional writes overwrite the same bytes, which is harmless).
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { explainS3Error, s3Status } from './s3-errors.ts';
import { call, deleteKey, mapLimit, type S3Ctx } from './s3-ops.ts';
import { ArtifactIntegrityError } from './store.ts';

const MiB = 1024 * 1024;
/** Parts of 8 MiB (S3's minimum is 5), more when an object would need over 10,000 parts. */
export const PART_SIZE = 8 * MiB;
/** Parts in flight at once: memory is bounded by this times the part size. */
const PART_CONCURRENCY = 4;

/** Bytes to upload, read one part at a time (from memory, or a file spilled to disk). */
export interface UploadSource {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Hands back a buffer `read` gave once its part is sent (so a file source can reuse it). */
  release?(buf: Uint8Array): void;
}

export function bufferSource(data: Uint8Array): UploadSource {
  return { size: data.byteLength, read: async (off, len) => data.subarray(off, off + len) };
}

export interface PublishOptions {
  partSize?: number;
  /** Replace what is there (a damaged object under this key) instead of keeping it. */
  replace?: boolean;
}

/** Publishes `src` (whose SHA-256 is `hex`) at `key`. Resolves false when the object was already there. */
export async function publish(ctx: S3Ctx, key: string, src: UploadSource, hex: string, o: PublishOptions = {}): Promise<boolean> {
  const partSize = Math.max(o.partSize ?? PART_SIZE, Math.ceil(src.size / 10_000));
  if (src.size <= partSize) return putWhole(ctx, key, await src.read(0, src.size), hex, o.replace);
  return putParts(ctx, key, src, partSize, o.replace);
}

async function putWhole(ctx: S3Ctx, key: string, body: Uint8Array, hex: string, replace?: boolean): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.client.send(
        new PutObjectCommand({
          Bucket: ctx.bucket,
          Key: key,
          Body: body,
          ChecksumSHA256: Buffer.from(hex, 'hex').toString('base64'),
          ...(replace ? {} : { IfNoneMatch: '*' }),
        }),
      );
      return true;
    } catch (e) {
      if (s3Status(e) === 412) return false; // already there
      // 409: another conditional write of this key is in flight; its outcome decides.
      if (s3Status(e) === 409 && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * attempt));
        continue;
      }
      throw explainS3Error(e, { op: 'PutObject', bucket: ctx.bucket, key, endpoint: ctx.endpoint });
    }
  }
}

async function putParts(ctx: S3Ctx, key: string, src: UploadSource, partSize: number, replace?: boolean): Promise<boolean> {
  const { UploadId } = await call(ctx, 'CreateMultipartUpload', key, () =>
    ctx.client.send(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, ChecksumAlgorithm: 'SHA256' })),
  );
  const abort = () => ctx.client.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId })).catch(() => undefined);
  try {
    const n = Math.ceil(src.size / partSize);
    const digests: Buffer[] = [];
    const parts = await mapLimit([...Array(n).keys()], PART_CONCURRENCY, async (i): Promise<CompletedPart> => {
      const body = await src.read(i * partSize, Math.min(partSize, src.size - i * partSize));
      digests[i] = createHash('sha256').update(body).digest();
      const sum = digests[i]!.toString('base64');
      const res = await call(ctx, 'UploadPart', key, () =>
        ctx.client.send(
          new UploadPartCommand({ Bucket: ctx.bucket, Key: key, UploadId, PartNumber: i + 1, Body: body, ChecksumSHA256: sum }),
        ),
      );
      src.release?.(body);
      return { PartNumber: i + 1, ETag: res.ETag, ChecksumSHA256: sum };
    });
    let done;
    try {
      done = await ctx.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: ctx.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
          ...(replace ? {} : { IfNoneMatch: '*' }),
        }),
      );
    } catch (e) {
      if (s3Status(e) === 412) {
        await abort();
        return false;
      }
      throw explainS3Error(e, { op: 'CompleteMultipartUpload', bucket: ctx.bucket, key, endpoint: ctx.endpoint });
    }
    const composite = `${createHash('sha256').update(Buffer.concat(digests)).digest('base64')}-${n}`;
    if (done.ChecksumSHA256 && done.ChecksumSHA256 !== composite) {
      await deleteKey(ctx, key).catch(() => undefined);
      throw new ArtifactIntegrityError(
        `S3 assembled s3://${ctx.bucket}/${key} from other parts than were sent ` +
          `(checksum ${done.ChecksumSHA256}, expected ${composite}); it was deleted: retry the write`,
      );
    }
    return true;
  } catch (e) {
    await abort();
    throw e;
  }
}

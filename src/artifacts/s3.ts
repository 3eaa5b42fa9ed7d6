// S3-compatible artifact store (`s3://bucket/prefix`): the local store's layout as object keys.
//   <prefix>sha256/<2 hex>/<64 hex>       artifacts, content-addressed and immutable
//   <prefix>runs/<run>/lineage/…          lineage records (s3-lineage.ts)
//   <prefix>runs/<run>/files/<name>       run files (report sections)
// An artifact is hashed before it is sent, so its key is known and it is published in one
// verified, conditional step (s3-upload.ts); streams are spilled to a local file while hashed,
// so memory stays bounded by the part size whatever the artifact's size.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { ArtifactRef } from '../core/plan.ts';
import { ArtifactTooLargeError } from './local.ts';
import { runDirName, runDirNames } from './run-dir.ts';
import { createS3Client, endpointLabel, parseS3Uri, type ClientOptions } from './s3-client.ts';
import { explainS3Error, isNotFound } from './s3-errors.ts';
import { S3LineageLog } from './s3-lineage.ts';
import { call, deleteKey, getSmall, listKeys, putSmall, type S3Ctx } from './s3-ops.ts';
import { objectChunks } from './s3-read.ts';
import { bufferSource, PART_SIZE, publish, type UploadSource } from './s3-upload.ts';
import {
  ArtifactNotFoundError,
  digestHex,
  runFileName,
  verifiedChunks,
  type ArtifactRecord,
  type ArtifactStore,
  type LineageLog,
  type PutOptions,
} from './store.ts';

export interface S3StoreOptions extends ClientOptions {
  /** Environment to read the AWS settings from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where putStream spills a stream while hashing it (its key is its hash); a local directory. */
  spillDir: string;
  /** Where lineage records live (default: objects in this bucket). */
  lineage?: LineageLog;
  partSize?: number;
}

export class S3ArtifactStore implements ArtifactStore {
  readonly location: string;
  private readonly ctx: S3Ctx;
  private readonly prefix: string;
  private readonly lineage: LineageLog;

  constructor(
    uri: string,
    private readonly o: S3StoreOptions,
  ) {
    const { bucket, prefix } = parseS3Uri(uri);
    const env = o.env ?? process.env;
    this.prefix = prefix;
    this.location = `s3://${bucket}/${prefix}`;
    this.ctx = { client: createS3Client(env, o), bucket, endpoint: endpointLabel(env) };
    this.lineage = o.lineage ?? new S3LineageLog(this.ctx, prefix);
  }

  private blobKey(hex: string): string {
    return `${this.prefix}sha256/${hex.slice(0, 2)}/${hex}`;
  }

  private ref(kind: ArtifactRef['kind'], hex: string, size: number): ArtifactRef {
    return { kind, uri: `s3://${this.ctx.bucket}/${this.blobKey(hex)}`, digest: `sha256:${hex}`, sizeBytes: size };
  }

  async put(data: Uint8Array, opts: PutOptions): Promise<ArtifactRef> {
    const hex = createHash('sha256').update(data).digest('hex');
    return this.store(hex, bufferSource(data), opts);
  }

  async putStream(chunks: AsyncIterable<Uint8Array>, opts: PutOptions & { maxBytes?: number }): Promise<ArtifactRef> {
    await mkdir(this.o.spillDir, { recursive: true });
    const file = join(this.o.spillDir, `mlpipe-s3-${process.pid}-${randomBytes(8).toString('hex')}`);
    const fh = await open(file, 'wx+', 0o600);
    try {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        if (opts.maxBytes !== undefined && size > opts.maxBytes) {
          throw new ArtifactTooLargeError(`artifact exceeds the size limit of ${opts.maxBytes} bytes`);
        }
        hash.update(chunk);
        await fh.write(chunk);
      }
      const spare: Buffer[] = []; // part buffers, reused: memory stays at parts in flight
      const src: UploadSource = {
        size,
        read: async (off, len) => {
          const buf = spare.pop() ?? Buffer.allocUnsafe(this.o.partSize ?? PART_SIZE);
          const { bytesRead } = await fh.read(buf, 0, Math.min(len, buf.length), off);
          return buf.subarray(0, bytesRead);
        },
        release: (b) => spare.push(Buffer.from(b.buffer)), // a whole part-sized buffer (too big for the shared pool)
      };
      return await this.store(hash.digest('hex'), src, opts);
    } finally {
      await fh.close().catch(() => undefined);
      await rm(file, { force: true });
    }
  }

  /** Publishes the bytes unless an intact copy is there already, then records their lineage. */
  private async store(hex: string, src: UploadSource, opts: PutOptions): Promise<ArtifactRef> {
    const key = this.blobKey(hex);
    const there = await this.head(key);
    if (there !== src.size) await publish(this.ctx, key, src, hex, { partSize: this.o.partSize, replace: there !== null });
    const ref = this.ref(opts.kind, hex, src.size);
    await this.lineage.add({ ref, lineage: opts.lineage, createdAt: new Date().toISOString() });
    return ref;
  }

  /** The object's size, or null when there is none. */
  private async head(key: string): Promise<number | null> {
    try {
      const res = await this.ctx.client.send(new HeadObjectCommand({ Bucket: this.ctx.bucket, Key: key }));
      return res.ContentLength ?? 0;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw explainS3Error(e, { op: 'HeadObject', bucket: this.ctx.bucket, key, endpoint: this.ctx.endpoint });
    }
  }

  getStream(ref: ArtifactRef, onLength?: (bytes: number) => void): AsyncGenerator<Uint8Array> {
    const key = this.blobKey(digestHex(ref.digest));
    const chunks = objectChunks(this.ctx, key, {
      onLength,
      notFound: () => new ArtifactNotFoundError(`artifact ${ref.digest} (${ref.kind}) is not in the store at ${this.location}`),
    });
    return verifiedChunks(chunks, ref, `Delete s3://${this.ctx.bucket}/${key} and re-run the stage that produced it.`);
  }

  async get(ref: ArtifactRef): Promise<Buffer> {
    // One buffer of the object's size, filled as the bytes arrive (no list of chunks to join).
    let out = Buffer.alloc(0);
    let at = 0;
    for await (const chunk of this.getStream(ref, (n) => (out = Buffer.allocUnsafe(n)))) {
      if (at + chunk.byteLength > out.length) out = Buffer.concat([out.subarray(0, at), chunk]);
      else out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out.subarray(0, at);
  }

  async stat(ref: ArtifactRef): Promise<{ sizeBytes: number } | null> {
    const size = await this.head(this.blobKey(digestHex(ref.digest)));
    return size === null ? null : { sizeBytes: size };
  }

  list(workflowId: string): Promise<ArtifactRecord[]> {
    return this.lineage.list(workflowId);
  }

  async remove(ref: ArtifactRef, workflowId: string): Promise<void> {
    if (!(await this.lineage.forget(workflowId, ref.digest))) await deleteKey(this.ctx, this.blobKey(digestHex(ref.digest)));
  }

  private runFiles(dir: string): string {
    return `${this.prefix}runs/${dir}/files/`;
  }

  async putRunFile(workflowId: string, name: string, data: Uint8Array): Promise<void> {
    await putSmall(this.ctx, this.runFiles(runDirName(workflowId)) + runFileName(name), data);
  }

  /** The run's file, else one an earlier version wrote under its old directory name. */
  async getRunFile(workflowId: string, name: string): Promise<Buffer | null> {
    for (const dir of runDirNames(workflowId)) {
      const found = await getSmall(this.ctx, this.runFiles(dir) + runFileName(name));
      if (found) return found;
    }
    return null;
  }

  async listRunFiles(workflowId: string, prefix: string): Promise<string[]> {
    const names = new Set<string>();
    for (const dir of runDirNames(workflowId)) {
      const base = this.runFiles(dir);
      for (const k of await listKeys(this.ctx, base + prefix)) names.add(k.slice(base.length));
    }
    return [...names].sort();
  }

  async check(): Promise<void> {
    await call(this.ctx, 'HeadBucket', undefined, () => this.ctx.client.send(new HeadBucketCommand({ Bucket: this.ctx.bucket })));
  }
}

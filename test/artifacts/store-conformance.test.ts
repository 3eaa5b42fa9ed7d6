/**
 * One contract, two backends: the same cases run against the local store and the S3 store (on a
 * real SeaweedFS server started for this file).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../src/core/plan.ts';
import {
  ArtifactIntegrityError,
  ArtifactNotFoundError,
  LocalArtifactStore,
  S3ArtifactStore,
  type ArtifactStore,
  type Lineage,
} from '../../src/artifacts/index.ts';
import { tempDir } from '../support/data.ts';
import { startS3Server, type S3Server } from '../support/s3.ts';

const lineage: Lineage = {
  workflowId: 'wf/1',
  runId: 'r',
  pipeline: 'p',
  stage: 's',
  attempt: 2,
  planHash: 'h',
  gitSha: 'g',
  inputs: { dataset: 'sha256:' + '0'.repeat(64) },
};
const MiB = 1024 * 1024;

interface Backend {
  make(): Promise<ArtifactStore>;
  /** Overwrite an artifact's stored bytes in place. */
  damage(store: ArtifactStore, ref: ArtifactRef, bytes: Buffer): Promise<void>;
  /** Whether any artifact bytes, or half-written ones, are stored. */
  anyBytes(store: ArtifactStore): Promise<boolean>;
}

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
}, 120_000);
afterAll(async () => s3?.stop());

const local: Backend = {
  make: async () => new LocalArtifactStore(join(tempDir(), 'a')),
  damage: async (_s, ref, bytes) => writeFileSync(fileURLToPath(ref.uri), bytes),
  anyBytes: async (s) => {
    const root = (s as LocalArtifactStore).root;
    const dirs = ['sha256', 'tmp'].map((d) => join(root, d)).filter(existsSync);
    return dirs.some((d) => readdirSync(d).length > 0);
  },
};

let bucket = '';
const s3Backend: Backend = {
  async make() {
    bucket ||= await s3.bucket('conformance');
    return new S3ArtifactStore(`s3://${bucket}/t${Math.random().toString(36).slice(2, 8)}/`, {
      env: s3.env,
      spillDir: join(tempDir(), 'spill'),
      partSize: 5 * MiB,
    });
  },
  async damage(_s, ref, bytes) {
    const key = ref.uri.slice(`s3://${bucket}/`.length);
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
  },
  async anyBytes(s) {
    const prefix = s.location.slice(`s3://${bucket}/`.length);
    const objs = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}sha256/` }));
    const uploads = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return (objs.Contents ?? []).length > 0 || (uploads.Uploads ?? []).length > 0;
  },
};

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

function pattern(bytes: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(Math.ceil(bytes / 4) * 4);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.imul(i + seed, 2654435761) >>> 0, i);
  return b.subarray(0, bytes);
}

describe.each([
  ['local', local],
  ['s3', s3Backend],
] as const)('%s store', (name, backend) => {
  it('is content-addressed, verifies on read, streams, and records lineage', async () => {
    const store = await backend.make();
    await store.check();
    const ref = await store.put(Buffer.from('hello'), { kind: 'metrics', lineage });
    expect(ref.digest).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(ref.sizeBytes).toBe(5);
    expect(ref.uri.startsWith(name === 's3' ? 's3://' : 'file://')).toBe(true);
    expect((await store.get(ref)).toString()).toBe('hello');
    expect((await collect(store.getStream(ref))).toString()).toBe('hello');
    expect(await store.stat(ref)).toEqual({ sizeBytes: 5 });
    const again = await store.put(Buffer.from('hello'), { kind: 'metrics', lineage: { ...lineage, name: 'second' } });
    expect(again.uri).toBe(ref.uri);
    const recs = await store.list('wf/1');
    expect(recs.map((r) => r.lineage.name)).toEqual([undefined, 'second']);
    expect(recs[0]!.lineage).toMatchObject({ stage: 's', attempt: 2, planHash: 'h', gitSha: 'g' });
    expect(await store.list('wf/other')).toEqual([]);
  });

  it('round-trips a large artifact put whole and as a stream', async () => {
    const store = await backend.make();
    const big = pattern(17 * MiB + 3);
    const ref = await store.put(big, { kind: 'dataset', lineage });
    expect((await store.get(ref)).equals(big)).toBe(true);
    const other = pattern(13 * MiB + 5, 2);
    async function* chunks() {
      for (let o = 0; o < other.length; o += 1_000_003) yield other.subarray(o, o + 1_000_003);
    }
    const streamed = await store.putStream(chunks(), { kind: 'dataset', lineage });
    expect(streamed.sizeBytes).toBe(other.length);
    expect((await collect(store.getStream(streamed))).equals(other)).toBe(true);
    if (name === 's3') {
      // published from parts, each checked by the server, and checked whole by us
      const head = await s3.client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: ref.uri.slice(`s3://${bucket}/`.length), ChecksumMode: 'ENABLED' }),
      );
      expect(head.ChecksumSHA256).toMatch(/-4$/);
    }
  });

  it('leaves nothing visible when a write fails midway or passes its size limit', async () => {
    const store = await backend.make();
    async function* failing() {
      yield pattern(6 * MiB);
      throw new Error('connection reset');
    }
    await expect(store.putStream(failing(), { kind: 'dataset', lineage })).rejects.toThrow('connection reset');
    async function* big() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, i);
    }
    await expect(store.putStream(big(), { kind: 'dataset', lineage, maxBytes: 5000 })).rejects.toThrow(/size limit/);
    expect(await backend.anyBytes(store)).toBe(false);
    expect(await store.list('wf/1')).toEqual([]);
  });

  it('refuses damaged bytes on read, whole or streamed, naming what to delete', async () => {
    const store = await backend.make();
    const ref = await store.put(Buffer.from('model weights'), { kind: 'model', lineage });
    await backend.damage(store, ref, Buffer.from('model weightz'));
    await expect(store.get(ref)).rejects.toThrow(ArtifactIntegrityError);
    await expect(collect(store.getStream(ref))).rejects.toThrow(/corrupt.*Delete .*re-run/);
    await expect(store.get({ ...ref, digest: 'sha256:../../etc' })).rejects.toThrow(/bad artifact digest/);
    const missing = { ...ref, digest: `sha256:${'a'.repeat(64)}` };
    await expect(store.get(missing)).rejects.toThrow(ArtifactNotFoundError);
    await expect(collect(store.getStream(missing))).rejects.toThrow(ArtifactNotFoundError);
    expect(await store.stat(missing)).toBeNull();
  });

  it('writers of the same content at once get one artifact and a record each', async () => {
    const store = await backend.make();
    const data = pattern(11 * MiB, 7);
    const refs = await Promise.all([1, 2, 3, 4].map((attempt) => store.put(data, { kind: 'model', lineage: { ...lineage, attempt } })));
    expect(new Set(refs.map((r) => r.uri)).size).toBe(1);
    expect((await store.get(refs[0]!)).equals(data)).toBe(true);
    expect((await store.list('wf/1')).map((r) => r.lineage.attempt).sort()).toEqual([1, 2, 3, 4]);
  });

  it("remove drops a run's records, and the bytes once no run refers to them", async () => {
    const store = await backend.make();
    const ref = await store.put(Buffer.from('checkpoint'), { kind: 'model', lineage });
    await store.put(Buffer.from('checkpoint'), { kind: 'model', lineage: { ...lineage, workflowId: 'other' } });
    await store.remove!(ref, 'wf/1');
    expect(await store.list('wf/1')).toEqual([]);
    expect(await store.stat(ref)).not.toBeNull(); // run "other" still has it
    await store.remove!(ref, 'other');
    expect(await store.stat(ref)).toBeNull();
  });

  it('keeps named run files: written whole, replaced, listed by prefix; bad names refused', async () => {
    const store = await backend.make();
    expect(await store.getRunFile('wf/1', 'report/training/train.json')).toBeNull();
    await store.putRunFile('wf/1', 'report/training/train.json', Buffer.from('{"a":1}'));
    await store.putRunFile('wf/1', 'report/training/train.json', Buffer.from('{"a":2}'));
    await store.putRunFile('wf/1', 'report/evaluation/evaluate.json', Buffer.from('{}'));
    await store.putRunFile('wf/1', 'other.txt', Buffer.from('x'));
    expect((await store.getRunFile('wf/1', 'report/training/train.json'))!.toString()).toBe('{"a":2}');
    expect(await store.listRunFiles('wf/1', 'report/')).toEqual(['report/evaluation/evaluate.json', 'report/training/train.json']);
    expect(await store.listRunFiles('wf/2', 'report/')).toEqual([]);
    expect(await store.list('wf/1')).toEqual([]); // files are not lineage
    for (const bad of ['../x', 'a/../../b', '/abs', '.hidden', 'a//b', '']) {
      await expect(store.putRunFile('wf/1', bad, Buffer.from('x'))).rejects.toThrow(/bad run file name/);
    }
  });
});

// The imageFolder source from S3-compatible storage (a real SeaweedFS) and as chunks: the same
// images and labels as from disk, classes interleaved across chunks, bad objects named by URL.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCore } from '../../../activities/collect.ts';
import { openDataset } from '../../../activities/lib/stage.ts';
import type { ArtifactRef } from '../../../src/core/plan.ts';
import { concatDatasets } from '../../../src/ml/data/chunked.ts';
import { column, decodeDataset, type Dataset, type NumericColumn } from '../../../src/ml/data/dataset.ts';
import { imageChunkRows, imageFolderChunks, listImageFolder, loadImageFolder } from '../../../src/ml/data/images.ts';
import { loadMnist } from '../../../src/ml/data/mnist.ts';
import { writeImageFolder } from '../../../src/ml/data/images.ts';
import { collectInput, tempDir, testEnv } from '../../support/data.ts';
import { type S3Server, startS3Server } from '../../support/s3.ts';

const N = 200;
let s3: S3Server;
let bucket: string;
let dir: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  s3 = await startS3Server();
  bucket = await s3.bucket('images');
  dir = tempDir();
  await writeImageFolder(await loadMnist(N), join(dir, 'digits'));
  for (const cls of readdirSync(join(dir, 'digits'))) {
    for (const f of readdirSync(join(dir, 'digits', cls))) {
      const Body = readFileSync(join(dir, 'digits', cls, f));
      await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `sets/digits/${cls}/${f}`, Body }));
    }
  }
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'sets/bad/a/x.png', Body: 'not a png' }));
  for (const [k, v] of Object.entries(s3.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 180_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await s3?.stop();
});

const pixels = (ds: Dataset) => (column(ds, 'image') as NumericColumn).data;
const labels = (ds: Dataset) => Array.from((column(ds, 'label') as NumericColumn).data);

describe('imageFolder from s3:// and in chunks', () => {
  it('collects the same images, labels and classes from an s3:// prefix as from the folder on disk', { timeout: 120_000 }, async () => {
    const env = testEnv();
    const run = async (source: Record<string, unknown>, base?: string) => {
      const out = await collectCore(collectInput({ source: { type: 'imageFolder', size: [28, 28], ...source } }, base), env);
      return decodeDataset(await env.store.get(out.outputs.dataset as unknown as ArtifactRef));
    };
    const local = await run({ path: 'digits' }, dir);
    const remote = await run({ url: `s3://${bucket}/sets/digits/` });
    expect(remote.rows).toBe(N);
    expect(remote.classes).toEqual(local.classes);
    expect(labels(remote)).toEqual(labels(local));
    expect(Array.from(pixels(remote))).toEqual(Array.from(pixels(local)));
    expect(remote.origin?.files?.[0]).toBe(`s3://${bucket}/sets/digits/0/${readdirSync(join(dir, 'digits', '0')).sort()[0]}`);
    await expect(run({ url: `s3://${bucket}/sets/bad` })).rejects.toThrow(`s3://${bucket}/sets/bad/a/x.png is not a readable PNG or JPEG`);
    await expect(run({ url: `s3://${bucket}/sets/none/` })).rejects.toThrow(`s3://${bucket}/sets/none has no class subfolders`);
  });

  it('chunks hold every image once, classes interleaved, each row still named by its file', { timeout: 120_000 }, async () => {
    const src = { type: 'imageFolder' as const, path: 'digits', size: [28, 28] };
    const whole = await loadImageFolder(src, dir, 'test');
    const listing = await listImageFolder(src, dir, 'test');
    const parts: Dataset[] = [];
    for await (const c of imageFolderChunks(src, listing, 64, 'test', { seed: 7 })) parts.push(c);
    expect(parts.map((p) => p.rows)).toEqual([64, 64, 64, 8]);
    // every chunk mixes classes (sorted by class, the first chunk would hold one or two)
    expect(new Set(labels(parts[0]!)).size).toBeGreaterThan(5);
    const gathered = concatDatasets(parts, {});
    const byFile = new Map(whole.origin!.files!.map((f, i) => [f, i]));
    const px = 784;
    parts.forEach((p) =>
      p.origin!.files!.forEach((f, r) => {
        const i = byFile.get(f)!;
        expect(labels(p)[r]).toBe(labels(whole)[i]);
        expect(Array.from(pixels(p).subarray(r * px, r * px + px))).toEqual(Array.from(pixels(whole).subarray(i * px, i * px + px)));
      }),
    );
    expect(new Set(parts.flatMap((p) => p.origin!.files!)).size).toBe(N);
    expect(gathered.rows).toBe(N);
    // a chunk of big images holds fewer of them: about 64 MiB of pixels
    expect(imageChunkRows({ ...src, size: [224, 224], channels: 3 }, 65_536)).toBe(111);
  });

  it('collect stores a folder of more images than a chunk holds as a chunked dataset, statistics merged', {
    timeout: 120_000,
  }, async () => {
    const env = testEnv();
    const run = async (over: Record<string, unknown>) => {
      const config = { source: { type: 'imageFolder', size: [28, 28], url: `s3://${bucket}/sets/digits/` }, ...over };
      const out = await collectCore(collectInput(config, undefined), env);
      return { out, ds: await openDataset(env.store, out.outputs.dataset as unknown as ArtifactRef) };
    };
    const whole = await run({});
    const chunked = await run({
      chunkRows: 64,
      expect: [{ column: 'label', values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }, { rows: { min: N } }],
    });
    expect(whole.ds.chunkRows).toEqual([N]);
    expect(chunked.ds.chunkRows).toEqual([64, 64, 64, 8]);
    expect(chunked.out.outputs).toMatchObject({ rows: N, droppedRows: 0, expectations: { passed: 2, failed: 0 } });
    expect(chunked.ds.classes).toEqual(whole.ds.classes);
    expect(chunked.ds.stats!.classHistogram).toEqual(whole.ds.stats!.classHistogram);
    const [a, b] = [whole.ds.stats!.columns.image!, chunked.ds.stats!.columns.image!];
    if (a.kind !== 'numeric' || b.kind !== 'numeric') throw new Error('image stats are numeric');
    expect(b.count).toBe(a.count);
    expect(b.mean!).toBeCloseTo(a.mean!, 6);
    expect(b.std!).toBeCloseTo(a.std!, 5);
    expect((await openDataset(env.store, whole.out.outputs.dataset as unknown as ArtifactRef)).rows).toBe(N);
  });
});

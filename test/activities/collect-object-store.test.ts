// collect from s3:// objects on a real S3 server (SeaweedFS): the source a cluster whose workers
// share no disk reads, with the endpoint and credentials the artifact store uses.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { column, decodeDataset } from '../../src/ml/data/dataset.ts';
import { collectInput, testEnv } from '../support/data.ts';
import { irisSchema } from '../support/pipelines.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

const IRIS = readFileSync(resolve('pipelines/data/iris.csv'));
let s3: S3Server;
let bucket: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  s3 = await startS3Server();
  bucket = await s3.bucket('data');
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'tables/iris.csv', Body: IRIS }));
  for (const [k, v] of Object.entries(s3.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 120_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await s3?.stop();
});

async function run(config: Record<string, unknown>) {
  const env = testEnv();
  const out = await collectCore(collectInput(config, undefined), env);
  return decodeDataset(await env.store.get(out.outputs.dataset as unknown as ArtifactRef));
}

describe('collect: s3:// sources', () => {
  it('reads an object as it reads a file, rows and sha256 included', async () => {
    const url = `s3://${bucket}/tables/iris.csv`;
    const sha = createHash('sha256').update(IRIS).digest('hex');
    const ds = await run({ source: { type: 'csv', url, sha256: sha }, schema: irisSchema });
    expect(ds.rows).toBe(150);
    expect(ds.origin?.file).toBe(url);
    expect(column(ds, 'species').type).toBe('category');
  });

  it('a missing object, a size over maxBytes and a bad URL are located errors naming the fix', async () => {
    await expect(run({ source: { type: 'csv', url: `s3://${bucket}/tables/nope.csv` } })).rejects.toThrow(
      new RegExp(`s3://${bucket}/tables/nope.csv does not exist at http://127.0.0.1:\\d+; fix source.url`),
    );
    await expect(run({ source: { type: 'csv', url: `s3://${bucket}/tables/iris.csv`, maxBytes: 1000 } })).rejects.toThrow(
      /is \d+ bytes, over the limit of 1000; raise source.maxBytes/,
    );
    await expect(run({ source: { type: 'csv', url: 's3://Bad_Bucket/x.csv' } })).rejects.toThrow(
      /is not s3:\/\/<bucket>\/<key>; fix source.url/,
    );
  });
});

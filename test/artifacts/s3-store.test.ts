/**
 * What only the S3 store has, against a real SeaweedFS: errors that name the setting to fix,
 * conditional publishing, retries through injected 5xx, timeouts and broken bodies, and memory
 * that does not grow with an artifact's size.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore, storeFrom, StoreUnavailableError, type Lineage } from '../../src/artifacts/index.ts';
import { createS3Client, endpointLabel } from '../../src/artifacts/s3-client.ts';
import { bufferSource, publish } from '../../src/artifacts/s3-upload.ts';
import { tempDir } from '../support/data.ts';
import { startFaultProxy, type Fault } from '../support/fault-proxy.ts';
import { freePort } from '../support/ports.ts';
import { startS3Server, type S3Server } from '../support/s3.ts';

const lineage: Lineage = { workflowId: 'wf/1', runId: 'r', pipeline: 'p', stage: 's', attempt: 1, planHash: 'h', inputs: {} };
const MiB = 1024 * 1024;

let s3: S3Server;
let bucket: string;
beforeAll(async () => {
  s3 = await startS3Server();
  bucket = await s3.bucket('s3store');
}, 120_000);
afterAll(async () => s3?.stop());

const store = (uri: string, env: Record<string, string | undefined> = s3.env, o: { requestTimeoutMs?: number } = {}) =>
  new S3ArtifactStore(uri, { env, spillDir: join(tempDir(), 'spill'), partSize: 5 * MiB, ...o });

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('S3 store: clear errors naming the setting to fix', () => {
  it('a missing bucket', async () => {
    const s = store('s3://no-such-bucket-here/p');
    for (const e of [await failure(s.check()), await failure(s.put(Buffer.from('x'), { kind: 'metrics', lineage }))]) {
      expect(e).toBeInstanceOf(StoreUnavailableError);
      expect(e.message).toContain('the S3 bucket "no-such-bucket-here" does not exist at ' + s3.endpoint);
      expect(e.message).toContain('--store / MLPIPE_STORE');
    }
  });

  it('wrong credentials: a wrong secret or an unknown key id, without printing the secret', async () => {
    for (const env of [
      { ...s3.env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' },
      { ...s3.env, AWS_ACCESS_KEY_ID: 'nobody' },
    ]) {
      const s = store(`s3://${bucket}/p`, env);
      for (const e of [await failure(s.check()), await failure(s.put(Buffer.from('x'), { kind: 'metrics', lineage }))]) {
        expect(e).toBeInstanceOf(StoreUnavailableError);
        expect(e.message).toContain('refused the S3 credentials');
        expect(e.message).toContain('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
        expect(e.message).not.toContain('not-the-secret');
      }
    }
  });

  it('an unreachable endpoint, after retrying', async () => {
    const port = await freePort(); // nothing listens there
    const s = store(`s3://${bucket}/p`, { ...s3.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_MAX_ATTEMPTS: '3' });
    const e = await failure(s.get({ kind: 'model', uri: '', digest: `sha256:${'b'.repeat(64)}`, sizeBytes: 1 }));
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect(e.message).toMatch(new RegExp(`cannot reach the S3 endpoint http://127.0.0.1:${port} \\(ECONNREFUSED\\) after 3 attempts`));
    expect(e.message).toContain('AWS_ENDPOINT_URL');
  });

  it('no region, a bad store URI, an unknown scheme', async () => {
    const e = await failure(store(`s3://${bucket}/p`, { ...s3.env, AWS_REGION: undefined }).check());
    expect(e.message).toContain('set AWS_REGION');
    expect(() => storeFrom('s3://Bad_Bucket/x', s3.env)).toThrow(/not s3:\/\/<bucket>\/<prefix> with a valid bucket name/);
    expect(() => storeFrom('s3://bucket/a/../b', s3.env)).toThrow(/\. or \.\. segments/);
    expect(() => storeFrom('gs://bucket/x', s3.env)).toThrow(/unknown scheme; use a directory, file:\/\/\/dir or s3:\/\/bucket\/prefix/);
  });

  it('an endpoint URL with a password is not printed with it', () => {
    expect(endpointLabel({ AWS_ENDPOINT_URL: 'http://user:hunter2@127.0.0.1:9000/' })).toBe('http://127.0.0.1:9000');
  });
});

describe('S3 store: publishing is conditional', () => {
  const ctx = () => ({ client: createS3Client(s3.env), bucket, endpoint: s3.endpoint });
  const read = async (key: string) =>
    Buffer.from(await (await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());

  it('a publish whole or in parts does not replace an object another writer put first', async () => {
    for (const [key, size] of [
      ['cond/whole', 1000],
      ['cond/parts', 12 * MiB],
    ] as const) {
      await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first writer' }));
      const data = Buffer.alloc(size, 7);
      const hex = (await import('node:crypto')).createHash('sha256').update(data).digest('hex');
      expect(await publish(ctx(), key, bufferSource(data), hex, { partSize: 5 * MiB })).toBe(false);
      expect((await read(key)).toString()).toBe('first writer');
      expect(await publish(ctx(), `${key}-new`, bufferSource(data), hex, { partSize: 5 * MiB })).toBe(true);
      expect((await read(`${key}-new`)).equals(data)).toBe(true);
    }
  });

  it('the server refuses bytes that do not match the checksum sent with them', async () => {
    const e = await failure(publish(ctx(), 'cond/bad', bufferSource(Buffer.from('abc')), 'c'.repeat(64)));
    expect(e.message).toMatch(/BadDigest|did not match|checksum/i);
    await expect(s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond/bad' }))).rejects.toThrow();
  });
});

describe('S3 store: retries', () => {
  async function through(plan: (req: { method?: string; url?: string }, n: number) => Fault, timeoutMs?: number) {
    let n = 0;
    const proxy = await startFaultProxy(s3.endpoint, (req) => plan(req, n++));
    const s = store(
      `s3://${bucket}/retry-${Math.random().toString(36).slice(2, 8)}`,
      { ...s3.env, AWS_ENDPOINT_URL: proxy.url },
      { requestTimeoutMs: timeoutMs },
    );
    return { proxy, s };
  }

  it('5xx answers are retried with backoff until the server answers', async () => {
    // every request's first two tries get a 503
    const tries = new Map<string, number>();
    const { proxy, s } = await through((req) => {
      const k = `${req.method} ${req.url}`;
      tries.set(k, (tries.get(k) ?? 0) + 1);
      return tries.get(k)! <= 2 ? '503' : 'pass';
    });
    try {
      const data = Buffer.alloc(7 * MiB, 3); // multipart: every part is retried too
      const ref = await s.put(data, { kind: 'dataset', lineage });
      expect((await s.get(ref)).equals(data)).toBe(true);
      expect(proxy.seen.filter((x) => x.fault === '503').length).toBeGreaterThanOrEqual(10);
      expect(proxy.seen.some((x) => x.method === 'PUT' && x.url.includes('partNumber=2') && x.fault === 'pass')).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a request that gets no answer times out and is retried', async () => {
    let stalled = 0;
    const { proxy, s } = await through((req) => (req.method === 'HEAD' && stalled++ === 0 ? 'stall' : 'pass'), 1_000);
    try {
      const ref = await s.put(Buffer.from('after a timeout'), { kind: 'metrics', lineage });
      expect((await s.get(ref)).toString()).toBe('after a timeout');
      const heads = proxy.seen.filter((x) => x.method === 'HEAD');
      expect(heads[0]!.fault).toBe('stall');
      expect(heads[1]!.url).toBe(heads[0]!.url); // the same request, again
    } finally {
      await proxy.close();
    }
  });

  it('a download whose body breaks off resumes from where it stopped', async () => {
    const setup = store(`s3://${bucket}/resume`);
    const data = Buffer.alloc(3 * MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 255;
    const ref = await setup.put(data, { kind: 'model', lineage });
    let cut = 0;
    const { proxy } = await through((req) => (req.method === 'GET' && !req.url!.includes('list-type') && cut++ === 0 ? 'cut' : 'pass'));
    try {
      const s = store(`s3://${bucket}/resume`, { ...s3.env, AWS_ENDPOINT_URL: proxy.url });
      expect((await s.get(ref)).equals(data)).toBe(true);
      const gets = proxy.seen.filter((x) => x.method === 'GET');
      expect(gets[0]!.fault).toBe('cut');
      expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/); // not from the start
    } finally {
      await proxy.close();
    }
  });
});

describe('S3 store: memory', () => {
  it('streaming a 384 MiB artifact in and out keeps the resident set growth under a quarter of its size; ' +
    'reading it whole does not', async () => {
    const out = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/support/s3-rss-child.ts'], {
      env: { ...process.env, ...s3.env, MLPIPE_STORE: `s3://${bucket}/rss`, MLPIPE_HOME: tempDir(), MLPIPE_RSS_MIB: '384' },
      maxBuffer: 1 << 20,
    });
    const r = JSON.parse(out.stdout) as {
      size: number;
      streamed: number;
      whole: number;
      growth: { put: number; getStream: number; get: number };
    };
    console.log(
      `s3 rss growth (MiB) for a 384 MiB artifact: putStream ${(r.growth.put / MiB).toFixed(1)}, ` +
        `getStream ${(r.growth.getStream / MiB).toFixed(1)}, get ${(r.growth.get / MiB).toFixed(1)}`,
    );
    // Parts in flight (4 × 8 MiB) and socket buffers, whatever the size: about 45 MiB in our runs
    // at 128, 384 and 512 MiB alike.
    expect(r.size).toBe(384 * MiB);
    expect(r.streamed).toBe(384 * MiB);
    expect(r.whole).toBe(384 * MiB);
    expect(r.growth.put).toBeLessThan(96 * MiB);
    expect(r.growth.getStream).toBeLessThan(96 * MiB);
    expect(r.growth.get).toBeGreaterThan(288 * MiB); // the measurement does see a buffered read
  }, 300_000);
});

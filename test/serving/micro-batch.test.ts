/**
 * Issue 13, throughput: micro-batching. Concurrent requests for one version are scored in one pass
 * of the model; each caller gets exactly its own rows back (the answers of the same request sent
 * alone), a bad request in a batch is refused alone, and batches never pass --max-batch rows.
 * Batching is observed through /metrics (mlpipe_serving_batch_requests / _rows histograms).
 *
 * To make "arrived together" certain rather than likely, every request sends its headers and half
 * its body, and the other halves go only once the server counts all of them in flight
 * (mlpipe_serving_requests_in_flight): the server holds the batch while a request is still being
 * read (up to max-wait, here far longer than the test needs).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../../src/serving/server.ts';
import { waitFor } from '../support/processes.ts';
import { post, waitRevision } from '../support/serving.ts';
import { FEATURES, irisWithIds } from '../support/protocols.ts';

let a: Awaited<ReturnType<typeof irisWithIds>>;
const servers: ModelServer[] = [];

beforeAll(async () => {
  a = await irisWithIds('micro-batch/run-1');
}, 180_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function serve(batch: { maxBatch: number; maxWaitMs: number }): Promise<string> {
  const s = new ModelServer({ registry: a.registry, store: a.env.store, pollMs: 50, advertise: false, batch });
  servers.push(s);
  const url = await s.start();
  await waitRevision(url, 'iris', 2);
  return url;
}

/** Requests of 1..5 rows each (mlpipe's route and TF Serving's list rows, pinned to v1); one has a bad value. */
function bodies(n: number, bad = -1): { body: unknown; rows: number }[] {
  return Array.from({ length: n }, (_, i) => {
    const rows = (i % 5) + 1;
    const picked = Array.from({ length: rows }, (_, k) => a.rows[(i * 7 + k * 13) % a.rows.length]!);
    if (i === bad) return { body: { instances: [...picked.slice(1), { ...picked[0], petal_length: 'long' }] }, rows };
    if (i % 2) return { body: { instances: picked.map((r) => FEATURES.map((f) => r[f])) }, rows };
    return { body: { instances: picked }, rows };
  });
}

const PATH = '/v1/models/iris/versions/1:predict';

/** Sends every body's first half now and the second halves together once all are in flight. */
async function together(url: string, list: { body: unknown }[]): Promise<{ status: number; json: any }[]> {
  const { port } = new URL(url);
  const rest: (() => void)[] = [];
  const answers = list.map(({ body }) => {
    const text = JSON.stringify(body);
    return new Promise<{ status: number; json: any }>((res, rej) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: PATH,
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (r) => {
          let t = '';
          r.on('data', (d) => (t += d));
          r.on('end', () => res({ status: r.statusCode!, json: JSON.parse(t) }));
        },
      );
      req.on('error', rej);
      req.write(text.slice(0, 5));
      rest.push(() => req.end(text.slice(5)));
    });
  });
  // Every request's headers must have reached the server before any body is completed.
  await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/^mlpipe_serving_requests_in_flight (\S+)$/m.exec(text)?.[1]) >= list.length + 1;
    },
    60_000,
    'every request to be in flight',
    50,
  );
  for (const f of rest) f();
  return Promise.all(answers);
}

/** A histogram's _count and _sum for v1 of iris, and its bucket counts. */
async function histogram(url: string, name: string): Promise<{ count: number; sum: number; le: Record<string, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const pick = (suffix: string) =>
    Number(new RegExp(`^${name}_${suffix}\\{model="iris",version="v1"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const le: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)",model="iris",version="v1"\\} (\\S+)$`, 'gm')))
    le[m[1]!] = Number(m[2]);
  return { count: pick('count'), sum: pick('sum'), le };
}

function expectSameAnswers(got: { status: number; json: any }, alone: { status: number; json: any }): void {
  expect(got.status).toBe(alone.status);
  const preds = (j: any) => (Array.isArray(j.predictions) ? j.predictions : []);
  expect(preds(got.json)).toHaveLength(preds(alone.json).length);
  preds(got.json).forEach((p: any, k: number) => {
    const q = preds(alone.json)[k];
    if (Array.isArray(p)) return p.forEach((v: number, j: number) => expect(v).toBeCloseTo(q[j], 6));
    expect(p.label).toBe(q.label);
    expect(p.passthrough).toEqual(q.passthrough);
    p.probabilities.forEach((v: number, j: number) => expect(v).toBeCloseTo(q.probabilities[j], 6));
  });
}

describe('micro-batching', () => {
  it('requests arriving together are scored in one pass, each caller gets its own rows; a bad one is refused alone', async () => {
    const url = await serve({ maxBatch: 10_000, maxWaitMs: 30_000 });
    const list = bodies(40, 17);
    // Each alone first: one request in flight, so each is its own batch.
    const alone: { status: number; json: any }[] = [];
    for (const { body } of list) alone.push(await post(`${url}${PATH}`, body));
    const before = await histogram(url, 'mlpipe_serving_batch_requests');
    expect(before.count).toBe(39);
    expect(before.sum).toBe(39);

    const got = await together(url, list);
    got.forEach((g, i) => expectSameAnswers(g, alone[i]!));
    expect(got[17]).toMatchObject({ status: 400, json: { error: expect.stringMatching(/row \d, column "petal_length"/) } });
    expect(got.filter((g) => g.status === 200)).toHaveLength(39);
    // The mlpipe answers echo their own ids: nobody got another caller's rows.
    got.forEach((g, i) => {
      const sent = (list[i]!.body as { instances: unknown[] }).instances;
      if (g.status === 200 && !Array.isArray(sent[0]))
        expect(g.json.predictions.map((p: any) => p.passthrough.id)).toEqual(sent.map((r: any) => r.id));
    });
    const after = await histogram(url, 'mlpipe_serving_batch_requests');
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBe(39);
    const rows = await histogram(url, 'mlpipe_serving_batch_rows');
    expect(rows.sum).toBe(2 * list.reduce((t, b, i) => t + (i === 17 ? 0 : b.rows), 0));
  }, 120_000);

  it("a batch never passes --max-batch rows; answers stay each caller's own", async () => {
    const url = await serve({ maxBatch: 8, maxWaitMs: 30_000 });
    const list = bodies(30);
    const alone: { status: number; json: any }[] = [];
    for (const { body } of list) alone.push(await post(`${url}${PATH}`, body));
    const before = await histogram(url, 'mlpipe_serving_batch_rows');
    const got = await together(url, list);
    got.forEach((g, i) => expectSameAnswers(g, alone[i]!));
    const after = await histogram(url, 'mlpipe_serving_batch_rows');
    const batches = after.count - before.count;
    const total = list.reduce((t, b) => t + b.rows, 0);
    expect(after.sum - before.sum).toBe(total);
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(total / 8));
    expect(batches).toBeLessThan(list.length);
    // Every batch (before and during the burst) is within the 8-row bucket.
    expect(after.le['8']).toBe(after.count);
  }, 120_000);

  it('with --max-batch 1 every request is scored alone', async () => {
    const url = await serve({ maxBatch: 1, maxWaitMs: 30_000 });
    const list = bodies(12);
    const got = await together(url, list);
    expect(got.every((g) => g.status === 200)).toBe(true);
    const h = await histogram(url, 'mlpipe_serving_batch_requests');
    expect([h.count, h.sum]).toEqual([12, 12]);
  }, 120_000);
});

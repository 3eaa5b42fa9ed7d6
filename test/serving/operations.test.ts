/**
 * Issue 13, operations: GET /metrics is Prometheus text (parsed by prometheus_client's own parser,
 * test/serving/clients/parse_metrics.py) that counts the requests made, by route, model, version
 * and code, with latency histograms, errors, load times and the traffic split; /livez and /readyz
 * differ; HTTPS with --tls-cert/--tls-key; stop() drains requests in flight.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../../src/serving/server.ts';
import { post, waitRevision } from '../support/serving.ts';
import { FEATURES, irisWithIds, setupHint } from '../support/protocols.ts';

let a: Awaited<ReturnType<typeof irisWithIds>>;
let server: ModelServer;
let base: string;

beforeAll(async () => {
  a = await irisWithIds('prometheus/run-1');
  server = new ModelServer({ registry: a.registry, store: a.env.store, pollMs: 50, seed: 11 });
  base = await server.start();
  await waitRevision(base, 'iris', 2);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(): Promise<{ types: Record<string, string>; samples: Sample[] }> {
  const r = await fetch(`${base}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  const child = spawn('python3', [resolve('test/serving/clients/parse_metrics.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end(text);
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`prometheus_client could not parse /metrics${setupHint(err)}: ${err}\n${text.slice(0, 2000)}`);
  return JSON.parse(out);
}

const value = (s: Sample[], name: string, labels: Record<string, string>) =>
  s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)).reduce((t, x) => t + x.value, 0);

describe('/metrics', () => {
  it('parses as Prometheus text and counts every request by route, model, version and code', async () => {
    const before = await scrape();
    const row = Object.fromEntries(FEATURES.map((f) => [f, a.rows[0]![f]]));
    for (let i = 0; i < 3; i++)
      expect((await post(`${base}/v1/models/iris/versions/1:predict`, { instances: [row, row] })).status).toBe(200);
    expect((await post(`${base}/v1/models/iris/labels/canary:predict`, { instances: [Object.values(row)] })).status).toBe(200);
    expect(
      (
        await post(`${base}/v2/models/iris/versions/2/infer`, {
          inputs: FEATURES.map((f) => ({ name: f, shape: [1], datatype: 'FP32', data: [row[f]] })),
        })
      ).status,
    ).toBe(200);
    expect((await post(`${base}/v1/models/iris/versions/1:predict`, { instances: [{ ...row, petal_width: 'x' }] })).status).toBe(400);
    expect((await post(`${base}/v1/models/nope:predict`, { instances: [row] })).status).toBe(404);
    const after = await scrape();
    const d = (name: string, labels: Record<string, string>) => value(after.samples, name, labels) - value(before.samples, name, labels);

    expect(after.types).toMatchObject({
      mlpipe_serving_requests: 'counter',
      mlpipe_serving_errors: 'counter',
      mlpipe_serving_request_duration_seconds: 'histogram',
      mlpipe_serving_model_load_seconds: 'gauge',
      mlpipe_serving_traffic_weight_percent: 'gauge',
      mlpipe_serving_ready: 'gauge',
    });
    const req = 'mlpipe_serving_requests_total';
    expect(d(req, { route: 'mlpipe:predict', model: 'iris', version: 'v1', code: '200' })).toBe(3);
    expect(d(req, { route: 'tfserving:predict', model: 'iris', version: 'v2', code: '200' })).toBe(1);
    expect(d(req, { route: 'v2:infer', model: 'iris', version: 'v2', code: '200' })).toBe(1);
    expect(d(req, { route: 'mlpipe:predict', model: 'iris', version: 'v1', code: '400' })).toBe(1);
    // An unknown model is counted without copying its name into a label.
    expect(d(req, { route: 'unknown', model: '', code: '404' })).toBe(1);
    expect(after.samples.some((s) => s.labels.model === 'nope')).toBe(false);
    expect(d('mlpipe_serving_errors_total', { model: 'iris', version: 'v1', kind: 'client' })).toBe(1);
    expect(d('mlpipe_serving_request_duration_seconds_count', { route: 'mlpipe:predict', model: 'iris', version: 'v1' })).toBe(4);
    expect(d('mlpipe_serving_predicted_rows_total', { model: 'iris', version: 'v1' })).toBe(6);
    expect(value(after.samples, 'mlpipe_serving_model_load_seconds', { model: 'iris', version: 'v2' })).toBeGreaterThan(0);
    expect(value(after.samples, 'mlpipe_serving_traffic_weight_percent', { model: 'iris', version: 'v2' })).toBe(30);
    expect(value(after.samples, 'mlpipe_serving_ready', {})).toBe(1);
  }, 60_000);

  it('liveness answers while readiness says why it is not ready', async () => {
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ ready: true, reasons: [] });
    // A model registered with no loadable version: alive, not ready, and the reason names it.
    const good = (await a.registry.get('iris'))!.versions[0]!;
    const rev = (
      await a.registry.update('broken', (e) => ({
        ...e,
        versions: [{ ...good, model: { ...good.model, digest: '0'.repeat(64) } }],
        traffic: { primary: good.version },
      }))
    ).revision;
    await waitRevision(base, 'broken', rev);
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reasons: string[] }).reasons).toEqual([
      expect.stringMatching(/^model broken has no loaded version \(v1: /),
    ]);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(503);
    const status = (await (await fetch(`${base}/v1/models/broken`)).json()) as {
      model_version_status: { state: string; status: { error_code: string } }[];
    };
    expect(status.model_version_status).toMatchObject([{ version: '1', state: 'END', status: { error_code: 'UNAVAILABLE' } }]);
    expect((await scrape()).samples.find((s) => s.name === 'mlpipe_serving_ready')?.value).toBe(0);
    expect(
      (await post(`${base}/v1/models/iris:predict`, { instances: [Object.fromEntries(FEATURES.map((f) => [f, a.rows[0]![f]]))] })).status,
    ).toBe(200);
  });

  it('HTTPS with a certificate and key: clients that trust it get answers; plain HTTP does not', async () => {
    const cert = join(a.root, 'cert.pem');
    const key = join(a.root, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const tls = new ModelServer({
      registry: a.registry,
      store: a.env.store,
      pollMs: 50,
      advertise: false,
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
    });
    const url = await tls.start();
    try {
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const row = Object.fromEntries(FEATURES.map((f) => [f, a.rows[0]![f]]));
      const body = JSON.stringify({ instances: [Object.values(row)] });
      const r = await new Promise<{ status: number; json: any }>((res, rej) => {
        const req = httpsRequest(
          `${url}/v1/models/iris/versions/1:predict`,
          { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json' } },
          (x) => {
            let t = '';
            x.on('data', (d) => (t += d));
            x.on('end', () => res({ status: x.statusCode!, json: JSON.parse(t) }));
          },
        );
        req.on('error', rej);
        req.end(body);
      });
      expect(r.status).toBe(200);
      expect(r.json.predictions[0]).toHaveLength(3);
      await expect(fetch(`${url.replace('https:', 'http:')}/livez`)).rejects.toThrow();
    } finally {
      await tls.stop();
    }
  });

  it('limits: rows per request, body size (also inflated) and body time, each a 4xx with its reason', async () => {
    const small = new ModelServer({
      registry: a.registry,
      store: a.env.store,
      pollMs: 50,
      advertise: false,
      maxRows: 3,
      maxBodyBytes: 2000,
      bodyTimeoutMs: 300,
    });
    const url = await small.start();
    try {
      await waitRevision(url, 'iris', 2);
      const row = Object.fromEntries(FEATURES.map((f) => [f, a.rows[0]![f]]));
      const four = [row, row, row, row];
      const why = /^4 rows in one request; the limit is 3 \(mlpipe serve --max-rows\)/;
      for (const [path, body] of [
        ['/v1/models/iris:predict', { instances: four }],
        ['/v1/models/iris:predict', { instances: four.map((r) => Object.values(r)) }],
        [
          '/v2/models/iris/infer',
          { inputs: FEATURES.map((f) => ({ name: f, shape: [4], datatype: 'FP32', data: four.map((r) => r[f]) })) },
        ],
      ] as const) {
        const r = await post(`${url}${path}`, body);
        expect(r.status, path).toBe(413);
        expect(r.json.error).toMatch(why);
      }
      expect((await post(`${url}/v1/models/iris:predict`, { instances: [row, row, row] })).status).toBe(200);
      const big = await post(`${url}/v1/models/iris:predict`, { instances: [row], pad: 'x'.repeat(3000) });
      expect([big.status, big.json.error]).toEqual([413, 'request body over 2000 bytes (mlpipe serve --max-body)']);
      const bomb = await fetch(`${url}/v1/models/iris:predict`, {
        method: 'POST',
        headers: { 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify({ instances: [row], pad: ' '.repeat(100_000) })),
      });
      expect([bomb.status, ((await bomb.json()) as { error: string }).error]).toEqual([
        413,
        'request body over 2000 bytes once inflated (mlpipe serve --max-body)',
      ]);
      // Half a body, then nothing: 408, and the connection is closed.
      const slow = await new Promise<{ status: number; body: string; connection?: string }>((res, rej) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: new URL(url).port,
            method: 'POST',
            path: '/v1/models/iris:predict',
            headers: { 'content-length': 100 },
          },
          (r) => {
            let t = '';
            r.on('data', (d) => (t += d));
            r.on('end', () => res({ status: r.statusCode!, body: t, connection: r.headers.connection }));
          },
        );
        req.on('error', rej);
        req.write('{"instances": [');
      });
      expect(slow.status).toBe(408);
      expect(JSON.parse(slow.body).error).toBe('the request body did not arrive within 300 ms (mlpipe serve --body-timeout)');
      expect(slow.connection).toBe('close');
    } finally {
      await small.stop();
    }
  });

  it('stop() drains: new connections are refused, a request in flight is answered, then it ends promptly', async () => {
    const row = Object.fromEntries(FEATURES.map((f) => [f, a.rows[0]![f]]));
    const body = JSON.stringify({ instances: [row] });
    const { port } = new URL(base);
    // Headers and half the body now, the rest after stop() has begun.
    const answer = new Promise<{ status: number; body: string }>((res, rej) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/models/iris:predict',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (r) => {
          let text = '';
          r.on('data', (d) => (text += d));
          r.on('end', () => res({ status: r.statusCode!, body: text }));
        },
      );
      req.on('error', rej);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        const t0 = Date.now();
        stopped = server.stop().then(() => Date.now() - t0);
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 300);
    });
    let stopped: Promise<number> | undefined;
    const r = await answer;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).predictions).toHaveLength(1);
    expect(await stopped!).toBeLessThan(2_000);
    await expect(fetch(`${base}/livez`)).rejects.toThrow();
  });
});

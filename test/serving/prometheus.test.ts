/**
 * Issue 13: GET /metrics is Prometheus text (parsed by prometheus_client's own parser, test/serving/
 * clients/parse_metrics.py) that counts the requests made, by route, model, version and code, with
 * latency histograms, errors, load times and the traffic split; /livez and /readyz differ.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../../src/serving/server.ts';
import { post, waitRevision } from './helpers.ts';
import { FEATURES, irisWithIds, setupHint } from './protocol-helpers.ts';

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
    for (let i = 0; i < 3; i++) expect((await post(`${base}/v1/models/iris/versions/1:predict`, { instances: [row, row] })).status).toBe(200);
    expect((await post(`${base}/v1/models/iris/labels/canary:predict`, { instances: [Object.values(row)] })).status).toBe(200);
    expect((await post(`${base}/v2/models/iris/versions/2/infer`, { inputs: FEATURES.map((f) => ({ name: f, shape: [1], datatype: 'FP32', data: [row[f]] })) })).status).toBe(200);
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
    const rev = (await a.registry.update('broken', (e) => ({ ...e, versions: [{ ...good, model: { ...good.model, digest: '0'.repeat(64) } }], traffic: { primary: good.version } }))).revision;
    await waitRevision(base, 'broken', rev);
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reasons: string[] }).reasons).toEqual([expect.stringMatching(/^model broken has no loaded version \(v1: /)]);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(503);
    const status = (await (await fetch(`${base}/v1/models/broken`)).json()) as { model_version_status: { state: string; status: { error_code: string } }[] };
    expect(status.model_version_status).toMatchObject([{ version: '1', state: 'END', status: { error_code: 'UNAVAILABLE' } }]);
    expect((await scrape()).samples.find((s) => s.name === 'mlpipe_serving_ready')?.value).toBe(0);
    expect((await post(`${base}/v1/models/iris:predict`, { instances: [Object.fromEntries(FEATURES.map((f) => [f, a.rows[0]![f]]))] })).status).toBe(200);
  });
});

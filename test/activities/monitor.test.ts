import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import { monitorCore } from '../../activities/monitor.ts';
import { stageInput } from '../support/data.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { decodeDataset, isNumeric, splitIndices } from '../../src/ml/data/dataset.ts';
import { ks, psi } from '../../src/ml/eval/drift.ts';
import { applyTransform, type Transform } from '../../src/ml/data/preprocess.ts';
import { ensureLocalToken, readTokenFile } from '../../src/serving/auth.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { deployInput, irisArtifacts, post, waitRevision } from '../support/serving.ts';

let a: Awaited<ReturnType<typeof irisArtifacts>>;
let server: ModelServer;
let base: string;
let deployment: ArtifactRef;
let rows: Record<string, number>[];
const hooks: unknown[] = [];
const hook = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    hooks.push(JSON.parse(body));
    res.end('ok');
  });
});

beforeAll(async () => {
  a = await irisArtifacts('monitor/run-1');
  const registry = new Registry(registryDir(a.home));
  // The request log needs the server's token; monitor finds it beside the registry.
  server = new ModelServer({ registry, store: a.env.store, seed: 1, pollMs: 50, authToken: readTokenFile(ensureLocalToken(registry.dir)) });
  base = await server.start();
  const model = await a.train();
  const d = await deployCore(deployInput({ modelName: 'iris' }, { model, transform: a.transform }, a.workflowId), a.env, {
    registry,
    autostart: false,
  });
  deployment = d.outputs.deployment as unknown as ArtifactRef;
  await waitRevision(base, 'iris', 1);
  // Traffic: Iris rows with sepal_length shifted by +1.5 cm (drift), the rest unchanged.
  const raw = decodeDataset(await a.env.store.get(a.raw));
  rows = Array.from({ length: raw.rows }, (_, i) => {
    const r: Record<string, number> = {};
    for (const c of raw.columns) if (c.name !== raw.label && isNumeric(c)) r[c.name] = c.data[i]! + (c.name === 'sepal_length' ? 1.5 : 0);
    return r;
  });
  for (let i = 0; i < rows.length; i += 10)
    expect((await post(`${base}/v1/models/iris:predict`, { instances: rows.slice(i, i + 10) })).status).toBe(200);
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  hook.close();
});

const monitorInput = (config: JsonObject) => stageInput('monitor', config, { deployment, dataset: a.dataset }, a.workflowId);

describe('monitor', () => {
  it('PSI/KS per feature between the (preprocessed) training split and recent traffic, metrics, alert webhook', async () => {
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alert`;
    const r = await monitorCore(
      monitorInput({
        window: '1h',
        metrics: ['latencyP95', 'errorRate', 'requests'],
        drift: [
          { feature: 'sepal_length', test: 'psi', threshold: 0.2 },
          { feature: 'sepal_length', test: 'ks', threshold: 0.1 },
          { feature: 'petal_width', test: 'ks', threshold: 0.1 },
        ],
        onBreach: { action: 'alert', webhook: url },
      }),
      a.env,
    );
    expect(r.outputs).toMatchObject({ drifted: true, breached: true, report: { kind: 'metrics' } });
    const report = JSON.parse((await a.env.store.get(r.outputs.report as unknown as ArtifactRef)).toString());
    // The same numbers computed here from the transform and the preprocessed train split.
    const prep = decodeDataset(await a.env.store.get(a.dataset));
    const t = JSON.parse((await a.env.store.get(a.transform)).toString()) as Transform;
    const train = splitIndices(prep, 'train');
    const col = (name: string) => prep.columns.find((c) => c.name === name) as { data: Float32Array };
    const j = t.featureColumns.indexOf('sepal_length');
    const cur = rows.map((row) => applyTransform(t, [row]).data[j]!);
    const ref = Array.from(train, (i) => col('sepal_length').data[i]!);
    expect(report.drift[0]).toMatchObject({ feature: 'sepal_length', test: 'psi', space: 'transformed', current: 150, drifted: true });
    expect(report.drift[0].value).toBeCloseTo(psi(ref, cur).value, 12);
    expect(report.drift[1].value).toBeCloseTo(ks(ref, cur), 12);
    expect(report.drift[2].drifted).toBe(false); // petal_width was not shifted
    expect(report.metrics.v1).toMatchObject({ requests: 15, errorRate: 0 });
    expect(report.metrics.v1.latencyP95).toBeGreaterThan(0);
    expect(report.action).toMatchObject({ action: 'alert', delivered: true });
    expect(hooks[0]).toMatchObject({ model: 'iris', version: 'v1' });
  });

  it('without enough traffic in the window it reports no value rather than a noisy one', async () => {
    const r = await monitorCore(monitorInput({ window: '1ms', drift: [{ feature: 'sepal_length', test: 'psi', threshold: 0.2 }] }), a.env, {
      waitMs: 0,
    });
    expect(r.outputs).toMatchObject({ drifted: false, breached: false });
    const report = JSON.parse((await a.env.store.get(r.outputs.report as unknown as ArtifactRef)).toString());
    expect(report.drift[0]).toMatchObject({ value: null, note: expect.stringMatching(/needs 50/) });
  });
});

describe('monitor: the request log needs the token', () => {
  it("drift against a server without a token fails the stage, non-retryable, with the server's reason", async () => {
    const registry = new Registry(registryDir(a.home));
    const open = new ModelServer({ registry, store: a.env.store, pollMs: 50, advertise: false });
    await open.start();
    try {
      await waitRevision(open.url, 'iris', (await registry.get('iris'))!.revision);
      const dep = JSON.parse((await a.env.store.get(deployment)).toString());
      const lineage = { workflowId: a.workflowId, runId: 'r1', pipeline: 'test', stage: 'deploy', attempt: 1, planHash: 'h', inputs: {} };
      const elsewhere = await a.env.store.put(Buffer.from(JSON.stringify({ ...dep, endpoint: `${open.url}/v1/models/iris` })), {
        kind: 'deployment',
        lineage,
      });
      const input = stageInput(
        'monitor',
        { drift: [{ feature: 'sepal_length', test: 'psi', threshold: 0.2 }] },
        { deployment: elsewhere, dataset: a.dataset },
        a.workflowId,
      );
      const err = await monitorCore(input, a.env).then(
        () => undefined,
        (e: Error & { type?: string; nonRetryable?: boolean }) => e,
      );
      expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect(err!.message).toMatch(
        /\/recent\?window=3600000ms: HTTP 403 .*is disabled: this server has no auth token; start it with --auth-token-file/,
      );
    } finally {
      await open.stop();
    }
  });
});

describe('monitor: rollback rule', () => {
  it('rolls back a canary whose metrics break the deployment rule', async () => {
    const registry = new Registry(registryDir(a.home));
    const model = await a.train({ seed: 9 });
    const d = await deployCore(
      deployInput(
        { modelName: 'iris', strategy: { type: 'canary', weight: 50 }, rollback: { latencyP95Above: '0ms' } } as JsonObject,
        { model, transform: a.transform },
        a.workflowId,
        'deploy-canary',
      ),
      a.env,
      { registry, autostart: false },
    );
    expect(d.outputs.version).toBe('v2');
    const rev = (await registry.get('iris'))!.revision;
    await waitRevision(base, 'iris', rev);
    for (let i = 0; i < 40; i++) await post(`${base}/v1/models/iris:predict`, { instances: [rows[i]] });
    const r = await monitorCore(
      stageInput(
        'monitor',
        { window: '1h', metrics: ['latencyP95', 'requests'] },
        { deployment: d.outputs.deployment as unknown as ArtifactRef },
        a.workflowId,
      ),
      a.env,
    );
    expect(r.outputs).toMatchObject({ drifted: false, breached: true });
    const report = JSON.parse((await a.env.store.get(r.outputs.report as unknown as ArtifactRef)).toString());
    expect(report.rollback).toMatchObject({ rolledBack: 'v2', breaches: [expect.stringMatching(/latency p95/)] });
    expect(report.metrics.v2.requests).toBeGreaterThan(0);
    const e = (await registry.get('iris'))!;
    expect(e.traffic).toEqual({ primary: 'v1' });
    expect(e.events.at(-1)).toMatchObject({ event: 'rolledBack', version: 'v2', reason: expect.stringMatching(/^monitor: latency p95/) });
  });
});

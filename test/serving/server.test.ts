import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import { predict } from '../../activities/evaluate.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { loadModel } from '../../src/ml/train/checkpoint.ts';
import { decodeDataset, featureTensor, isNumeric, type Dataset } from '../../src/ml/data/dataset.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { bearer, deployInput, get, irisArtifacts, post, waitRevision } from '../support/serving.ts';

const TOKEN = 'server-test-token-0123456789abcdef';

let a: Awaited<ReturnType<typeof irisArtifacts>>;
let server: ModelServer;
let base: string;
let models: ArtifactRef[];
let rawRows: Record<string, unknown>[];
let prep: Dataset;
let registry: Registry;

const deploy = (config: object, model: ArtifactRef, stage: string) =>
  deployCore(deployInput({ modelName: 'iris', ...config } as never, { model, transform: a.transform }, a.workflowId, stage), a.env, {
    registry,
    autostart: false,
  });

beforeAll(async () => {
  a = await irisArtifacts();
  models = [await a.train(), await a.train({ seed: 2, optimizer: { type: 'adam', learningRate: 0.01 } }), await a.train({ seed: 3 })];
  registry = new Registry(registryDir(a.home));
  server = new ModelServer({ registry, store: a.env.store, seed: 7, pollMs: 50, authToken: TOKEN });
  base = await server.start();
  const raw = decodeDataset(await a.env.store.get(a.raw));
  rawRows = Array.from({ length: raw.rows }, (_, i) => {
    const row: Record<string, unknown> = {};
    for (const c of raw.columns) if (c.name !== raw.label) row[c.name] = isNumeric(c) ? c.data[i] : c.values[i];
    return row;
  });
  prep = decodeDataset(await a.env.store.get(a.dataset));
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('model server over HTTP', () => {
  it('answers /healthz and 404s an unknown model with the models it has', async () => {
    expect(await get(`${base}/healthz`)).toMatchObject({ ok: true });
    const r = await post(`${base}/v1/models/nope:predict`, { instances: [{}] });
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/no model "nope"/);
  });

  it('predict applies the saved transform: raw rows give exactly the predictions of the preprocessed features', async () => {
    const d = await deploy({ strategy: { type: 'replace' } }, models[0]!, 'deploy-1');
    expect(d.outputs.version).toBe('v1');
    expect(d.outputs.endpoint).toBe(`${base}/v1/models/iris`); // the advertised server
    await waitRevision(base, 'iris', 1);
    const idx = Array.from({ length: 20 }, (_, i) => i * 7);
    const r = await post(`${base}/v1/models/iris:predict`, { instances: idx.map((i) => rawRows[i]) });
    expect(r.status).toBe(200);
    expect(r.json.version).toBe('v1');
    const { model, meta } = await loadModel(await a.env.store.get(models[0]!));
    const want = predict(model, meta, featureTensor(prep, idx));
    model.dispose();
    r.json.predictions.forEach((p: { label: string; probabilities: number[] }, k: number) => {
      expect(p.label).toBe(prep.classes![want.yPred[k]!]);
      const probs = (want.scores as number[][])[k]!;
      p.probabilities.forEach((v, j) => expect(Math.abs(v - probs[j]!)).toBeLessThan(1e-6));
    });
    // Bad input: a 400 naming row and column, not counted against the version.
    const bad = await post(`${base}/v1/models/iris:predict`, { instances: [{ ...rawRows[0], petal_width: 'wide' }] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/row 1, column "petal_width"/);
    const m = await get(`${base}/v1/models/iris/metrics`);
    expect(m.versions.v1).toMatchObject({ requests: 1, errors: 0, errorRate: 0 });
    expect(m.versions.v1.latencyP50Ms).toBeGreaterThan(0);
    const recent = await get(`${base}/v1/models/iris/recent?window=1h`, bearer(TOKEN));
    expect(recent.rows).toHaveLength(20);
    expect(recent.rows[0].row).toEqual(rawRows[0]);
  });

  it('canary: the seeded split sends close to `weight`% to the new version; the model view shows the split', async () => {
    await deploy({ strategy: { type: 'canary', weight: 25 } }, models[1]!, 'deploy-2');
    const view = await waitRevision(base, 'iris', 2);
    expect(view).toMatchObject({ primary: 'v1', candidate: { version: 'v2', mode: 'canary', weight: 25 }, traffic: { v1: 75, v2: 25 } });
    const counts: Record<string, number> = {};
    const n = 800;
    for (let i = 0; i < n; i++) {
      const r = await post(`${base}/v1/models/iris:predict`, { instances: [rawRows[i % rawRows.length]] });
      counts[r.json.version] = (counts[r.json.version] ?? 0) + 1;
    }
    expect(Math.abs(counts.v2! / n - 0.25)).toBeLessThan(0.04);
    const m = await get(`${base}/v1/models/iris/metrics`);
    expect(m.versions.v2.requests).toBe(counts.v2);
    expect(m.versions.v1.requests).toBe(counts.v1! + 1);
    expect(m.versions.v2.latencyP95Ms).toBeGreaterThanOrEqual(m.versions.v2.latencyP50Ms);
  });

  it('routing is deterministic for a seed', async () => {
    const other = new ModelServer({ registry, store: a.env.store, seed: 7, pollMs: 50, advertise: false });
    const third = new ModelServer({ registry, store: a.env.store, seed: 7, pollMs: 50, advertise: false });
    const urls = [await other.start(), await third.start()];
    try {
      const seqs = await Promise.all(
        urls.map(async (u) => {
          const s: string[] = [];
          for (let i = 0; i < 60; i++) s.push((await post(`${u}/v1/models/iris:predict`, { instances: [rawRows[0]] })).json.version);
          return s.join(',');
        }),
      );
      expect(seqs[0]).toBe(seqs[1]);
      expect(seqs[0]).toContain('v2');
    } finally {
      await other.stop();
      await third.stop();
    }
  });

  it('shadow: the new version gets a copy of every request; only the primary answers', async () => {
    await deploy({ strategy: { type: 'shadow' } }, models[2]!, 'deploy-3');
    const view = await waitRevision(base, 'iris', 3);
    expect(view).toMatchObject({ primary: 'v1', shadow: 'v3', traffic: { v1: 100 } });
    for (let i = 0; i < 30; i++) {
      const r = await post(`${base}/v1/models/iris:predict`, { instances: [rawRows[i]], labels: ['setosa'] }, bearer(TOKEN));
      expect(r.json).toMatchObject({ version: 'v1' });
    }
    await new Promise((r) => setTimeout(r, 100)); // shadow copies run after the answer
    const m = await get(`${base}/v1/models/iris/metrics?window=1h`);
    expect(m.versions.v3).toMatchObject({ requests: 30, shadow: true, labelled: 30 });
    expect(m.versions.v1.shadow).toBe(false);
  });

  it('a canary past its duration is rolled back when it breaks the rule, and promoted when healthy', async () => {
    await deploy(
      { strategy: { type: 'canary', weight: 50, duration: '400ms' }, rollback: { latencyP95Above: '0ms' } },
      models[1]!,
      'deploy-4',
    );
    await waitRevision(base, 'iris', 4);
    for (let i = 0; i < 20; i++) await post(`${base}/v1/models/iris:predict`, { instances: [rawRows[i]] });
    let view = await waitRevision(base, 'iris', 5);
    expect(view.primary).toBe('v1');
    expect(view.candidate).toBeNull();
    expect((await registry.get('iris'))!.events.at(-1)).toMatchObject({ event: 'rolledBack', version: 'v4' });
    expect((await registry.get('iris'))!.events.at(-1)!.reason).toMatch(/latency p95/);

    await deploy(
      { strategy: { type: 'canary', weight: 50, duration: '300ms' }, rollback: { errorRateAbove: 0.5 } },
      models[2]!,
      'deploy-5',
    );
    await waitRevision(base, 'iris', 6);
    for (let i = 0; i < 10; i++) await post(`${base}/v1/models/iris:predict`, { instances: [rawRows[i]] });
    view = await waitRevision(base, 'iris', 7);
    expect(view).toMatchObject({ primary: 'v5', candidate: null, traffic: { v5: 100 } });
    expect((await post(`${base}/v1/models/iris:predict`, { instances: [rawRows[0]] })).json.version).toBe('v5');
  });

  it('a retried deploy registers nothing new', async () => {
    const before = (await registry.get('iris'))!.revision;
    const d = await deploy({ strategy: { type: 'canary', weight: 50, duration: '300ms' } }, models[2]!, 'deploy-5');
    expect(d.outputs.version).toBe('v5');
    expect(d.outputs.endpoint).toBe(`${base}/v1/models/iris`);
    expect((await registry.get('iris'))!.versions).toHaveLength(5);
    expect((await registry.get('iris'))!.revision).toBe(before + 1);
  });
});

/**
 * Issue 13: TensorFlow Serving's REST API on the model server, exercised by a python `requests`
 * session written as a TF Serving user would (test/serving/clients/tfserving_rest.py): model
 * status, metadata, row and columnar predict, versions and labels in the path, errors. Its
 * predictions must be exactly mlpipe's own route's. Also: a column the saved transform drops
 * (`id`) is not demanded, and mlpipe's route echoes it back.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../../src/serving/server.ts';
import { post, waitRevision } from '../support/serving.ts';
import { FEATURES, irisWithIds, python } from '../support/protocols.ts';

let a: Awaited<ReturnType<typeof irisWithIds>>;
let server: ModelServer;
let base: string;

beforeAll(async () => {
  a = await irisWithIds('tfserving/run-1');
  server = new ModelServer({ registry: a.registry, store: a.env.store, pollMs: 50, seed: 3 });
  base = await server.start();
  await waitRevision(base, 'iris', 2);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

describe('TensorFlow Serving REST', () => {
  it("a requests session sees TF Serving shapes, and the same predictions as mlpipe's route", async () => {
    const rows = a.rows.filter((_, i) => i % 10 === 0);
    const file = join(a.root, 'rows.json');
    writeFileSync(file, JSON.stringify({ features: FEATURES, rows }));
    const out = JSON.parse((await python('tfserving_rest.py', [base, 'iris', file])).stdout) as {
      v1: number[][];
      v2: number[][];
      labels: string[];
    };
    for (const [v, want] of [
      ['1', out.v1],
      ['2', out.v2],
    ] as const) {
      // mlpipe's own route, pinned to the same version: rows with their ids, as a user sends them.
      const r = await post(`${base}/v1/models/iris/versions/${v}:predict`, { instances: rows });
      expect(r.status).toBe(200);
      expect(r.json.version).toBe(`v${v}`);
      expect(r.json.predictions.map((p: { probabilities: number[] }) => p.probabilities)).toEqual(want);
      if (v === '1') expect(r.json.predictions.slice(0, 2).map((p: { label: string }) => p.label)).toEqual(out.labels);
    }
  }, 120_000);

  it("the column preprocess drops is not demanded; mlpipe's route echoes it back", async () => {
    const row = a.rows[0]!;
    const { id, ...features } = row;
    // both requests score two rows: a matrix product's float32 rounding may differ with the batch size
    const without = await post(`${base}/v1/models/iris/labels/stable:predict`, { instances: [features, features] });
    expect(without.status).toBe(200);
    expect(without.json.predictions[0].passthrough).toBeUndefined();
    const withId = await post(`${base}/v1/models/iris/labels/stable:predict`, { instances: [row, { ...features, id: 'x-7', note: 'hi' }] });
    expect(withId.status).toBe(200);
    expect(withId.json.predictions.map((p: { passthrough: unknown }) => p.passthrough)).toEqual([{ id }, { id: 'x-7', note: 'hi' }]);
    expect(withId.json.predictions[0].probabilities).toEqual(without.json.predictions[0].probabilities);
    // A used column is still required, and the error names row and column.
    const { petal_length: _, ...short } = features;
    const bad = await post(`${base}/v1/models/iris:predict`, { instances: [features, short] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^row 2, column "petal_length": value is missing/);
  });

  it("/v1/models/<m> is both mlpipe's description and TF Serving's status; versions map to numbers and labels", async () => {
    const r = (await (await fetch(`${base}/v1/models/iris`)).json()) as any;
    expect(r).toMatchObject({ name: 'iris', primary: 'v1', traffic: { v1: 70, v2: 30 } });
    expect(r.versions.map((v: { version: string; number: number; labels: string[] }) => [v.version, v.number, v.labels])).toEqual([
      ['v1', 1, ['stable']],
      ['v2', 2, ['canary']],
    ]);
    expect(r.model_version_status).toEqual([
      { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      { version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ]);
  });
});

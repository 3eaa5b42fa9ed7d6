/**
 * Issue 13: KServe's Open Inference Protocol v2 on the model server, driven by tritonclient.http
 * (test/serving/clients/kserve_v2_triton.py) exactly as its docs use it: liveness, readiness,
 * server and model metadata, inference with binary tensors (the client's default) and JSON. Its
 * answers must be exactly mlpipe's own route's. Plus the raw JSON shape a curl user sees.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../../src/serving/server.ts';
import { get, post, waitRevision } from '../support/serving.ts';
import { FEATURES, irisWithIds, python } from '../support/protocols.ts';

let a: Awaited<ReturnType<typeof irisWithIds>>;
let server: ModelServer;
let base: string;

beforeAll(async () => {
  a = await irisWithIds('kserve-v2/run-1');
  server = new ModelServer({ registry: a.registry, store: a.env.store, pollMs: 50, seed: 5 });
  base = await server.start();
  await waitRevision(base, 'iris', 2);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

describe('KServe v2', () => {
  it("tritonclient checks readiness, reads metadata and infers; the answers are mlpipe's route's", async () => {
    const rows = a.rows.filter((_, i) => i % 7 === 0);
    const file = join(a.root, 'rows.json');
    writeFileSync(file, JSON.stringify({ features: FEATURES, rows }));
    const out = JSON.parse((await python('kserve_v2_triton.py', [new URL(base).host, 'iris', file])).stdout) as Record<
      string,
      { probabilities: number[][]; labels: string[] }
    >;
    for (const v of ['1', '2']) {
      const r = await post(`${base}/v1/models/iris/versions/${v}:predict`, { instances: rows });
      expect(r.status).toBe(200);
      expect(r.json.predictions.map((p: { probabilities: number[] }) => p.probabilities)).toEqual(out[v]!.probabilities);
      expect(r.json.predictions.map((p: { label: string }) => p.label)).toEqual(out[v]!.labels);
    }
  }, 120_000);

  it('JSON over plain HTTP: shapes, datatypes, id and errors as {"error"}', async () => {
    expect(await get(`${base}/v2/health/live`)).toEqual({ live: true });
    expect(await get(`${base}/v2/health/ready`)).toEqual({ ready: true });
    expect(await get(`${base}/v2/models/iris/versions/v2/ready`)).toMatchObject({ name: 'iris', ready: true, version: '2' });
    const rows = a.rows.slice(0, 2);
    const body = {
      id: 'x1',
      parameters: { anything: true },
      inputs: FEATURES.map((f) => ({ name: f, shape: [2], datatype: 'FP32', data: rows.map((r) => r[f]) })),
    };
    const r = await post(`${base}/v2/models/iris/versions/1/infer`, body);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model_name: 'iris', model_version: '1', id: 'x1' });
    expect(r.json.outputs.map((o: { name: string; datatype: string; shape: number[] }) => [o.name, o.datatype, o.shape])).toEqual([
      ['probabilities', 'FP32', [2, 3]],
      ['class_id', 'INT64', [2]],
      ['label', 'BYTES', [2]],
    ]);
    const mine = await post(`${base}/v1/models/iris/versions/1:predict`, { instances: rows });
    expect(r.json.outputs[0].data).toEqual(mine.json.predictions.flatMap((p: { probabilities: number[] }) => p.probabilities));
    expect(r.json.outputs[2].data).toEqual(mine.json.predictions.map((p: { label: string }) => p.label));

    const wrongType = await post(`${base}/v2/models/iris/infer`, { inputs: [{ ...body.inputs[0], datatype: 'BYTES' }] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error).toBe("input 'sepal_length': datatype BYTES where FP32 belongs");
    const short = await post(`${base}/v2/models/iris/infer`, { inputs: [{ ...body.inputs[0], data: [1] }] });
    expect(short.json.error).toBe("input 'sepal_length': shape [2] needs 2 values, got 1");
    const value = await post(`${base}/v2/models/iris/infer`, {
      inputs: body.inputs.map((x, i) => (i === 3 ? { ...x, data: [0.2, 'wide'] } : x)),
    });
    expect(value.status).toBe(400);
    expect(value.json.error).toMatch(/^row 2, column "petal_width": "wide" is a string; send a number/);
    const none = await fetch(`${base}/v2/models/nope/ready`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: string }).error).toMatch(/no model "nope"/);
  });
});

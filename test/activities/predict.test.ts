// The batch predict stage on Iris, through the real activities, against the model server in this
// process: the same rows give the same labels and probabilities, and the `id` that preprocess
// dropped is kept in the predictions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCore } from '../../activities/evaluate.ts';
import { predictCore } from '../../activities/predict.ts';
import { readDataset } from '../../activities/lib/stage.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { isNumeric, type Dataset } from '../../src/ml/data/dataset.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { stageInput } from '../support/data.ts';
import { ref } from '../support/pipelines.ts';
import { post, waitRevision } from '../support/serving.ts';
import { irisWithIds } from '../support/protocols.ts';

let a: Awaited<ReturnType<typeof irisWithIds>>;
let server: ModelServer;
let base: string;
const wf = 'predict/run-1';

beforeAll(async () => {
  a = await irisWithIds(wf);
  server = new ModelServer({ registry: a.registry, store: a.env.store, pollMs: 50, seed: 3 });
  base = await server.start();
  await waitRevision(base, 'iris', 2);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

async function predictions(config: JsonObject, inputs: Record<string, ArtifactRef>) {
  const r = await predictCore(stageInput('predict', config, inputs, wf), a.env, { registry: a.registry });
  return { rows: r.outputs.rows, ds: await readDataset(a.env.store, ref(r, 'predictions')) };
}

const col = (ds: Dataset, name: string) => {
  const c = ds.columns.find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name} in ${ds.columns.map((x) => x.name).join(', ')}`);
  return isNumeric(c) ? Array.from(c.data) : c.values;
};

/** The server's answer for every row, pinned to version `v`, as a client sends them (ids included). */
async function served(v: string) {
  const r = await post(`${base}/v1/models/iris/versions/${v}:predict`, { instances: a.rows });
  expect(r.status).toBe(200);
  return r.json.predictions as { label: string; probabilities: number[]; passthrough: { id: string } }[];
}

describe('predict stage', () => {
  it('a registered version: the same labels and probabilities as the server, ids and the label kept', async () => {
    const { rows, ds } = await predictions({ model: { name: 'iris', version: 'v1' } }, { dataset: a.raw });
    expect(rows).toBe(150);
    expect(ds.columns.map((c) => c.name)).toEqual([
      'id',
      'species',
      'prediction',
      'probability_setosa',
      'probability_versicolor',
      'probability_virginica',
    ]);
    const want = await served('1');
    expect(col(ds, 'id')).toEqual(want.map((p) => p.passthrough.id));
    expect(col(ds, 'prediction')).toEqual(want.map((p) => p.label));
    const probs = ['setosa', 'versicolor', 'virginica'].map((k) => col(ds, `probability_${k}`) as number[]);
    expect(want.map((_, i) => probs.map((p) => p[i]))).toEqual(want.map((p) => p.probabilities));
  }, 60_000);

  it("an upstream model and transform, scored in chunks of 7 rows: the server's answers still", async () => {
    const v2 = (await a.registry.get('iris'))!.versions.find((v) => v.version === 'v2')!;
    const { ds } = await predictions({ batchRows: 7 }, { dataset: a.raw, model: v2.model, transform: a.transform });
    const want = await served('2');
    expect(col(ds, 'id')).toEqual(want.map((p) => p.passthrough.id));
    expect(col(ds, 'prediction')).toEqual(want.map((p) => p.label));
    const probs = ['setosa', 'versicolor', 'virginica'].map((k) => col(ds, `probability_${k}`) as number[]);
    want.forEach((p, i) => p.probabilities.forEach((q, k) => expect(probs[k]![i]).toBeCloseTo(q, 6)));
  }, 60_000);

  it('the version serving traffic by default; a missing model, version or split is an error that says what to do', async () => {
    const { ds } = await predictions({ model: { name: 'iris' }, split: 'all' }, { dataset: a.raw });
    expect(col(ds, 'prediction')).toEqual((await served('1')).map((p) => p.label));
    await expect(predictions({ model: { name: 'iris', version: 'v9' } }, { dataset: a.raw })).rejects.toThrow(
      /"iris" has no live version "v9" \(it has v1, v2\)/,
    );
    await expect(predictions({ model: { name: 'nope' } }, { dataset: a.raw })).rejects.toThrow(
      /no model "nope" in the registry; deploy it first/,
    );
    await expect(predictions({ model: { name: 'iris' }, split: 'test' }, { dataset: a.raw })).rejects.toThrow(
      /split: the dataset has no test split/,
    );
  }, 60_000);

  it('evaluate scores the predictions a predict stage wrote: the same metrics as evaluating the model itself', async () => {
    const v2 = (await a.registry.get('iris'))!.versions.find((v) => v.version === 'v2')!;
    const metrics = ['accuracy', 'f1Macro', 'rocAuc', 'confusionMatrix'];
    // The preprocessed dataset scored by the bare model: every row, so its splits still hold.
    const scored = await predictCore(stageInput('predict', {}, { dataset: a.prepared, model: v2.model }, wf), a.env, {
      registry: a.registry,
    });
    const fromPredictions = await evaluateCore(stageInput('evaluate', { metrics }, { predictions: ref(scored, 'predictions') }, wf), a.env);
    const fromModel = await evaluateCore(stageInput('evaluate', { metrics }, { model: v2.model, dataset: a.prepared }, wf), a.env);
    for (const m of metrics) expect(fromPredictions.outputs[m], m).toEqual(fromModel.outputs[m]);
    expect(fromPredictions.outputs.accuracy).toBeGreaterThan(0.6);

    // Raw rows scored by a registered version: no splits, so every row, against the kept label.
    const { ds } = await predictions({ model: { name: 'iris', version: 'v1' } }, { dataset: a.raw });
    const raw = await predictCore(stageInput('predict', { model: { name: 'iris', version: 'v1' } }, { dataset: a.raw }, wf), a.env, {
      registry: a.registry,
    });
    const e = await evaluateCore(
      stageInput(
        'evaluate',
        { metrics: ['accuracy'], gates: [{ metric: 'accuracy', min: 0.99 }] },
        { predictions: ref(raw, 'predictions') },
        wf,
      ),
      a.env,
    );
    const right = (col(ds, 'prediction') as string[]).filter((p, i) => p === col(ds, 'species')[i]).length;
    expect(e.outputs.accuracy).toBeCloseTo(right / 150, 12);
    expect(e.outputs.passed).toBe(right / 150 >= 0.99);
    // A dataset that is not predictions says what it takes.
    await expect(evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { predictions: a.raw }, wf), a.env)).rejects.toThrow(
      /has no `prediction` column .*takes a predict stage's output/,
    );
  }, 60_000);
});

/**
 * `mlpipe artifacts ls|get` on a real run (the suite's dev server, the real stage activities): a
 * pipeline with a predict stage on Iris rows with an `id` that preprocess drops. The predictions
 * export as CSV with the ids, a split as JSON, and the model as a TensorFlow.js directory that
 * tfjs-node loads and that gives the predictions the stage wrote.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as TfModule from '@tensorflow/tfjs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/ml/runtime/backend.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
let dir: string;
let run: string;

const spec = (queue: string) => `apiVersion: mlpipe/v1
metadata: { name: artifacts-cli }
defaults: { taskQueue: ${queue} }
stages:
  data:
    type: collect
    source: { type: csv, path: iris.csv }
    schema:
      label: species
      columns:
        - { name: id, type: string }
        - { name: sepal_length, type: number }
        - { name: sepal_width, type: number }
        - { name: petal_length, type: number }
        - { name: petal_width, type: number }
        - { name: species, type: category, values: [setosa, versicolor, virginica] }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: drop, columns: [id] }, { type: labelEncode, columns: [species] }, { type: standardize }, { type: split, train: 0.8, test: 0.2, seed: 7 }]
  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 8, activation: relu }, { type: dense, units: 3, activation: softmax }] }
    optimizer: { type: adam, learningRate: 0.05 }
    loss: sparseCategoricalCrossentropy
    epochs: 5
    seed: 1
  score: { type: predict, needs: [data, train], batchRows: 64 }
`;

function mlpipe(...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/mlpipe.js', ...args, '--address', env.address],
      // the store the suite's in-process worker writes to (its process's, not env.home)
      { env: { ...process.env, NO_COLOR: '1' }, timeout: 200_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr, stdout }),
    );
  });
}

beforeAll(async () => {
  env = await testEnv('artifacts-cli');
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-artifacts-cli-'));
  const lines = readFileSync(resolve('pipelines/data/iris.csv'), 'utf8').trim().split('\n');
  writeFileSync(join(dir, 'iris.csv'), [`id,${lines[0]}`, ...lines.slice(1).map((l, i) => `row-${i + 1},${l}`)].join('\n'));
  writeFileSync(join(dir, 'p.yaml'), spec(env.queue));
  const r = await mlpipe('run', join(dir, 'p.yaml'), '--wait', '--task-queue', env.queue);
  expect(r.code, r.out).toBe(0);
  run = /started (\S+)/.exec(r.out)?.[1] ?? '';
}, 240_000);
afterAll(async () => {
  await env?.close();
});

describe('mlpipe artifacts', () => {
  it('ls: every artifact of the run with its kind, size, digest and what it was made from', async () => {
    const r = await mlpipe('artifacts', 'ls', run);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^ARTIFACT\s+KIND\s+SIZE\s+DIGEST\s+CREATED\s+FROM/);
    expect(r.out).toMatch(/^data\.dataset\s+dataset\s+[\d.]+ (B|KiB)\s+[0-9a-f]{12}\s/m);
    expect(r.out).toMatch(/^prep\.transform\s+transform\s.*dataset←data\.dataset$/m);
    expect(r.out).toMatch(/^train\.model\s+model\s.*dataset←prep\.dataset$/m);
    expect(r.out).toMatch(/^score\.predictions\s+dataset\s.*dataset←data\.dataset model←train\.model transform←prep\.transform$/m);
    const json = JSON.parse((await mlpipe('artifacts', 'ls', run, '--json')).stdout) as {
      name: string;
      ref: { digest: string };
      lineage: { stage: string };
    }[];
    expect(json.find((x) => x.name === 'score.predictions')?.lineage.stage).toBe('score');
  }, 60_000);

  it('get: predictions as CSV keep the id that preprocess dropped; a split as JSON', async () => {
    const file = join(dir, 'predictions.csv');
    const r = await mlpipe('artifacts', 'get', run, 'score.predictions', '-o', file);
    expect(r.code, r.out).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,species,prediction,probability_setosa,probability_versicolor,probability_virginica');
    expect(lines).toHaveLength(151);
    expect(lines[1]).toMatch(/^row-1,setosa,(setosa|versicolor|virginica),(0|1|0\.\d+),/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(Array.from({ length: 150 }, (_, i) => `row-${i + 1}`));
    const right = lines.slice(1).filter((l) => l.split(',')[1] === l.split(',')[2]).length;
    expect(right).toBeGreaterThan(100); // a trained model, not noise

    const test = await mlpipe('artifacts', 'get', run, 'prep.dataset', '--split', 'test', '--format', 'json');
    expect(test.code, test.out).toBe(0);
    const rows = JSON.parse(test.stdout) as Record<string, number>[];
    expect(rows).toHaveLength(30);
    expect(Object.keys(rows[0]!).sort()).toEqual(['petal_length', 'petal_width', 'sepal_length', 'sepal_width', 'species']);
  }, 60_000);

  it('show: one artifact with its lineage and the shape of its content (a dataset, a model, a JSON document)', async () => {
    const ds = JSON.parse((await mlpipe('artifacts', 'show', run, 'prep.dataset', '--json')).stdout) as Record<string, unknown>;
    expect(ds).toMatchObject({
      artifact: 'prep.dataset',
      kind: 'dataset',
      rows: 150,
      label: 'species',
      classes: ['setosa', 'versicolor', 'virginica'],
      splits: { train: 120, test: 30 },
    });
    expect(ds.columns).toEqual([
      'sepal_length: number',
      'sepal_width: number',
      'petal_length: number',
      'petal_width: number',
      'species: integer',
    ]);
    expect(ds.madeBy).toMatch(/^prep \(attempt 1\) of artifacts-cli\//);
    expect(ds.from).toBe('dataset←data.dataset');
    const model = await mlpipe('artifacts', 'show', run, 'train.model');
    expect(model.code, model.out).toBe(0);
    expect(model.stdout).toMatch(/^featureShape\s+\[4\]$/m);
    expect(model.stdout).toMatch(/^classes\s+setosa, versicolor, virginica$/m);
    expect(model.stdout).toMatch(/^layers\s+Dense → Dense$/m);
    const history = await mlpipe('artifacts', 'show', run, 'train.history');
    expect(history.stdout).toMatch(/^kind\s+metrics$/m);
    expect(history.stdout).toMatch(/"epochs": 5/);
  }, 60_000);

  it('get --format parquet: the same rows as the CSV, typed (strings, float32 numbers), read back by hyparquet', async () => {
    const file = join(dir, 'predictions.parquet');
    const r = await mlpipe('artifacts', 'get', run, 'score.predictions', '--format', 'parquet', '-o', file);
    expect(r.code, r.out).toBe(0);
    const buf = await asyncBufferFromFile(file);
    const schema = parquetSchema(await parquetMetadataAsync(buf));
    const types = Object.fromEntries(schema.children.map((c) => [c.element.name, c.element.converted_type ?? c.element.type]));
    expect(types).toEqual({
      id: 'UTF8',
      species: 'UTF8',
      prediction: 'UTF8',
      probability_setosa: 'FLOAT',
      probability_versicolor: 'FLOAT',
      probability_virginica: 'FLOAT',
    });
    const rows = (await parquetReadObjects({ file: buf })) as Record<string, string | number>[];
    const csv = readFileSync(join(dir, 'predictions.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    expect(rows).toHaveLength(csv.length);
    rows.forEach((row, i) => {
      expect([row.id, row.species, row.prediction]).toEqual(csv[i]!.slice(0, 3));
      // The CSV writes each float32 as its shortest text: it reads back as the same float32.
      expect(row.probability_setosa).toBe(Math.fround(Number(csv[i]![3])));
    });
    const bad = await mlpipe('artifacts', 'get', run, 'train.history', '--format', 'parquet');
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/Parquet is for datasets: use --format json/);
  }, 60_000);

  it('get: the model is a TensorFlow.js directory that tfjs-node loads, giving the predictions the stage wrote', async () => {
    const out = join(dir, 'model');
    const r = await mlpipe('artifacts', 'get', run, 'train.model', '-o', out);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    const meta = JSON.parse(readFileSync(join(out, 'mlpipe.json'), 'utf8')) as { classes?: string[]; featureShape: number[] };
    expect(meta.featureShape).toEqual([4]);

    const { info } = selectBackend();
    expect(info.backend, 'tfjs-node is needed to load file:// models').not.toBe('cpu-js');
    const tf = createRequire(import.meta.url)('@tensorflow/tfjs-node') as typeof TfModule;
    const model = await tf.loadLayersModel(`file://${out}/model.json`);
    // The preprocessed rows (in the raw order: no shuffle step) through the exported model.
    const all = JSON.parse((await mlpipe('artifacts', 'get', run, 'prep.dataset', '--format', 'json')).stdout) as Record<string, number>[];
    const x = tf.tensor2d(all.map((r) => [r.sepal_length!, r.sepal_width!, r.petal_length!, r.petal_width!]));
    const p = (model.predict(x) as TfModule.Tensor).arraySync() as number[][];
    const csv = readFileSync(join(dir, 'predictions.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    const classes = ['setosa', 'versicolor', 'virginica'];
    p.forEach((probs, i) => {
      expect(classes[probs.indexOf(Math.max(...probs))]).toBe(csv[i]![2]);
      probs.forEach((q, k) => expect(Number(csv[i]![3 + k])).toBeCloseTo(q, 4));
    });
  }, 60_000);

  it('a rerun the step cache answered lists and exports the artifacts an earlier run made', async () => {
    const again = await mlpipe('run', join(dir, 'p.yaml'), '--wait', '--task-queue', env.queue);
    expect(again.code, again.out).toBe(0);
    const run2 = /started (\S+)/.exec(again.out)?.[1] ?? '';
    const ls = await mlpipe('artifacts', 'ls', run2);
    expect(ls.code, ls.out).toBe(0);
    expect(ls.out).toMatch(/^score\.predictions\s+dataset\s.*\s-\s+\(step cache: made by an earlier run\)$/m);
    const csv = await mlpipe('artifacts', 'get', run2, 'score.predictions');
    expect(csv.stdout).toBe(readFileSync(join(dir, 'predictions.csv'), 'utf8'));
  }, 120_000);

  it('a wrong name says what the run has', async () => {
    const r = await mlpipe('artifacts', 'get', run, 'score.nothing');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/has no artifact score\.nothing; it has: data\.dataset, .*score\.predictions/);
  }, 60_000);
});

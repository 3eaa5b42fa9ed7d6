/**
 * Data larger than memory, end to end through a real worker and Temporal dev server: a CSV read
 * in chunks of 1,000 rows (collect.chunkRows), preprocessed in streaming passes, checked by an
 * expect stage, trained from chunks with a shuffle buffer, evaluated and batch-predicted (the raw rows)
 * chunk by chunk. The same pipeline with one chunk (the in-memory path) reaches the same accuracy, and a
 * bad value in a late chunk fails the run naming its csv line and column.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../activities/lib/stage.ts';
import { defaultStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { Rng } from '../../src/core/rng.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const ROWS = 12_000;
let env: TestEnv;
let dir: string;

beforeAll(async () => {
  env = await testEnv('ltm');
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-ltm-'));
  // 6 numeric features (f2 missing now and then), a category, a label that depends on them
  const rng = new Rng(11);
  const lines = ['f0,f1,f2,f3,f4,f5,kind,label'];
  for (let r = 0; r < ROWS; r++) {
    const f = Array.from({ length: 6 }, () => rng.normal() * 2 + 1);
    const kind = ['a', 'b', 'c'][Math.floor(rng.next() * 3)]!;
    const score = f[0]! - 0.8 * f[1]! + 0.5 * f[3]! + (kind === 'b' ? 1.5 : 0) + 0.3 * rng.normal();
    const f2 = rng.next() < 0.05 ? '' : f[2]!.toFixed(4);
    lines.push([f[0]!.toFixed(4), f[1]!.toFixed(4), f2, ...f.slice(3).map((v) => v.toFixed(4)), kind, score > 1 ? 'yes' : 'no'].join(','));
  }
  writeFileSync(join(dir, 'big.csv'), `${lines.join('\n')}\n`);
  const bad = [...lines];
  bad[10_500] = bad[10_500]!.replace(/^[^,]+,/, 'oops,'); // line 10501 of the file
  writeFileSync(join(dir, 'bad.csv'), `${bad.join('\n')}\n`);
}, 120_000);

afterAll(async () => {
  await env?.close();
});

function pipeline(name: string, file: string, chunkRows: number): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `apiVersion: mlpipe/v1
metadata: { name: ${name} }
stages:
  data:
    type: collect
    source: { type: csv, path: ${file} }
    schema: { label: label }
    chunkRows: ${chunkRows}
  prep:
    type: preprocess
    needs: [data]
    steps:
      - { type: split, train: 0.8, test: 0.2, seed: 5 }
      - { type: impute, columns: [f2], strategy: median }
      - { type: standardize, columns: [f0, f1, f2, f3, f4, f5] }
      - { type: oneHot, columns: [kind] }
      - { type: labelEncode, columns: [label] }
  checked:
    type: expect
    needs: [prep]
    split: train
    expect:
      - { column: f2, nullShare: { max: 0 } }
      - { column: f0, range: { min: -10, max: 10 } }
  train:
    type: train
    needs: [checked]
    model:
      layers:
        - { type: dense, units: 16, activation: relu }
        - { type: dense, units: 2, activation: softmax }
    optimizer: { type: adam, learningRate: 0.01 }
    loss: sparseCategoricalCrossentropy
    epochs: 3
    batchSize: 64
    seed: 2
  evaluate:
    type: evaluate
    needs: [train]
    inputs: { dataset: prep }
    metrics: [accuracy]
    gates: [{ metric: accuracy, min: 0.85 }]
  score:
    type: predict
    needs: [train]
    inputs: { dataset: data }
`,
  );
  return path;
}

describe('data larger than memory through Temporal', () => {
  it('collect → preprocess → expect → train → evaluate → predict over 12 chunks, as accurate as one chunk', {
    timeout: 600_000,
  }, async () => {
    const chunked = await (await env.start((await compileFile(pipeline('ltmchunks', 'big.csv', 1000))).plan)).result();
    const whole = await (await env.start((await compileFile(pipeline('ltmwhole', 'big.csv', 65_536))).plan)).result();
    const store = defaultStore();
    const data = await openDataset(store, chunked.stages.data!.outputs.dataset as unknown as ArtifactRef);
    expect(data.chunkRows).toEqual(Array(12).fill(1000));
    const prep = await openDataset(store, chunked.stages.prep!.outputs.dataset as unknown as ArtifactRef);
    expect(prep.chunkRows.length).toBe(12);
    expect(prep.splitRows!.train! + prep.splitRows!.test!).toBe(ROWS);
    expect((await openDataset(store, whole.stages.prep!.outputs.dataset as unknown as ArtifactRef)).chunkRows).toEqual([ROWS]);
    expect(chunked.stages.checked!.outputs).toMatchObject({ expectations: { passed: 2, failed: 0 } });
    const [a, b] = [chunked.stages.evaluate!.outputs.accuracy as number, whole.stages.evaluate!.outputs.accuracy as number];
    console.log(`12,000 rows, 3 epochs: test accuracy ${a} from 12 chunks, ${b} from one`);
    expect(a).toBeGreaterThanOrEqual(0.85);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(0.03);
    const predictions = await openDataset(store, chunked.stages.score!.outputs.predictions as unknown as ArtifactRef);
    expect(predictions.rows).toBe(ROWS);
    expect(predictions.chunkRows.length).toBe(12);
  });

  it('a bad value in a late chunk fails collect naming its line and column, storing no dataset', { timeout: 120_000 }, async () => {
    const h = await env.start((await compileFile(pipeline('ltmbad', 'bad.csv', 1000))).plan);
    await expect(h.result()).rejects.toThrow();
    const stage = (await describeRun(env.client, h.workflowId)).run!.stages.data!;
    expect(stage.status).toBe('failed');
    expect(stage.error).toContain('bad.csv row 10500 (line 10501), column "f0": "oops" is not a number');
    const left = (await defaultStore().list(h.workflowId)).filter((r) => r.lineage.stage === 'data');
    expect(left).toEqual([]);
  });
});

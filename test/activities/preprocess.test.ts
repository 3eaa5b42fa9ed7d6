import { copyFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { decodeDataset, featureTensor, labelVector, type Dataset } from '../../src/ml/data/dataset.ts';
import { applyTransform, runPreprocess, type Transform } from '../../src/ml/data/preprocess.ts';
import { collectInput, stageInput, tempDir, testEnv } from '../support/data.ts';
import { irisSchema } from '../support/pipelines.ts';

async function irisPipeline(steps: Record<string, unknown>[]) {
  const env = testEnv();
  const dir = tempDir();
  copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
  const c = await collectCore(collectInput({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir), env);
  const p = await preprocessCore(stageInput('preprocess', { steps }, { dataset: c.outputs.dataset as unknown as ArtifactRef }), env);
  const ds = decodeDataset(await env.store.get(p.outputs.dataset as unknown as ArtifactRef));
  const transform = JSON.parse((await env.store.get(p.outputs.transform as unknown as ArtifactRef)).toString()) as Transform;
  return { ds, transform, outputs: p.outputs };
}

const classCounts = (ds: Dataset, idx: Uint32Array) => {
  const y = labelVector(ds, idx);
  const c = [0, 0, 0];
  for (const v of y) c[v]!++;
  return c;
};

describe('preprocess', () => {
  const steps = [
    { type: 'labelEncode', columns: ['species'] },
    { type: 'standardize' },
    { type: 'split', train: 0.7, validation: 0.1, test: 0.2, seed: 42, stratify: true },
  ];

  it('makes reproducible, stratified splits and fits the scaler on the train split only', async () => {
    const a = await irisPipeline(steps);
    const b = await irisPipeline(steps);
    expect((a.outputs.dataset as JsonObject).digest).toBe((b.outputs.dataset as JsonObject).digest);
    expect((a.outputs.transform as JsonObject).kind).toBe('transform');
    const s = a.ds.splits!;
    expect([s.train!.length, s.validation!.length, s.test!.length]).toEqual([105, 15, 30]);
    expect(classCounts(a.ds, s.train!)).toEqual([35, 35, 35]);
    expect(classCounts(a.ds, s.test!)).toEqual([10, 10, 10]);
    expect(new Set([...s.train!, ...s.validation!, ...s.test!]).size).toBe(150);
    expect(a.ds.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    // Standardised with train statistics: train features have mean 0 and std 1, test ones do not exactly.
    const tr = featureTensor(a.ds, s.train!);
    const mean0 = Array.from({ length: tr.data.length / 4 }, (_, i) => tr.data[i * 4]!).reduce((x, y) => x + y) / s.train!.length;
    expect(Math.abs(mean0)).toBeLessThan(1e-6);
    const te = featureTensor(a.ds, s.test!);
    const meanT = Array.from({ length: te.data.length / 4 }, (_, i) => te.data[i * 4]!).reduce((x, y) => x + y) / s.test!.length;
    expect(Math.abs(meanT)).toBeGreaterThan(1e-4);
    const c = await irisPipeline(steps.map((x) => (x.type === 'split' ? { ...x, seed: 43 } : x)));
    expect(Array.from(c.ds.splits!.test!)).not.toEqual(Array.from(s.test!));
  });

  it('applies the saved transform to raw rows exactly as training saw them', async () => {
    const { ds, transform } = await irisPipeline([
      { type: 'labelEncode', columns: ['species'] },
      { type: 'minMaxScale', columns: ['sepal_length', 'sepal_width'] },
      { type: 'standardize', columns: ['petal_length', 'petal_width'] },
      { type: 'split', train: 0.8, seed: 1 },
    ]);
    const lines = readFileSync('pipelines/data/iris.csv', 'utf8').trim().split('\n').slice(1);
    const test = ds.splits!.test!;
    const rows = Array.from(test, (r) => {
      const [a, b, c, d] = lines[r]!.split(',');
      return { sepal_length: Number(a), sepal_width: Number(b), petal_length: Number(c), petal_width: Number(d) };
    });
    const served = applyTransform(transform, rows);
    const trained = featureTensor(ds, test);
    expect(served.shape).toEqual(trained.shape);
    expect(Array.from(served.data)).toEqual(Array.from(trained.data));
    expect(() => applyTransform(transform, [{ sepal_length: 'x', sepal_width: 1, petal_length: 1, petal_width: 1 }])).toThrow(
      /row 1, column "sepal_length": "x" is a string; send a number/,
    );
    // Numbers as text are refused too: a JSON client sends numbers (issue 10 item 7).
    expect(() => applyTransform(transform, [{ ...rows[0], sepal_width: '3.5' }])).toThrow(/row 1, column "sepal_width": "3.5" is a string/);
  });

  it('imputes, one-hot encodes (an unknown category refused when served) and augments images', () => {
    const ds: Dataset = {
      rows: 4,
      label: 'y',
      columns: [
        { name: 'a', type: 'number', shape: [], data: Float32Array.from([1, NaN, 3, 5]), nullable: true },
        { name: 'c', type: 'string', values: ['red', 'blue', 'red', null], nullable: true },
        { name: 'y', type: 'integer', shape: [], data: Float32Array.from([0, 1, 0, 1]) },
      ],
    };
    const { dataset, transform } = runPreprocess(
      ds,
      [
        { type: 'impute', columns: ['a'], strategy: 'mean' },
        { type: 'impute', columns: ['c'], strategy: 'mostFrequent' },
        { type: 'oneHot', columns: ['c'] },
      ],
      undefined,
      'test',
    );
    expect(dataset.columns.map((c) => c.name)).toEqual(['a', 'c_blue', 'c_red', 'y']);
    expect(Array.from(featureTensor(dataset).data)).toEqual([1, 0, 1, 3, 1, 0, 3, 0, 1, 5, 0, 1]);
    expect(Array.from(applyTransform(transform, [{ a: null, c: 'red' }]).data)).toEqual([3, 0, 1]);
    expect(() => applyTransform(transform, [{ a: null, c: 'green' }])).toThrow(
      /row 1, column "c": "green" is not one of the values seen in training \("blue", "red"\)/,
    );

    const img: Dataset = {
      rows: 2,
      label: 'y',
      columns: [
        { name: 'image', type: 'number', shape: [2, 2, 1], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
        { name: 'y', type: 'integer', shape: [], data: Float32Array.from([0, 1]) },
      ],
    };
    const aug = runPreprocess(img, [{ type: 'augment', flipHorizontal: true, copies: 3, seed: 5 }], undefined, 'test').dataset;
    expect(aug.rows).toBe(8);
    expect(aug.splits!.train!.length).toBe(8);
    const imgs = featureTensor(aug).data;
    for (let r = 2; r < 8; r++) {
      const px = Array.from(imgs.subarray(r * 4, r * 4 + 4));
      const y = labelVector(aug)[r]!;
      const orig = y === 0 ? [1, 2, 3, 4] : [5, 6, 7, 8];
      const flipped = y === 0 ? [2, 1, 4, 3] : [6, 5, 8, 7];
      expect([orig, flipped]).toContainEqual(px);
    }
  });

  it('reports a missing column with the fix', async () => {
    await expect(irisPipeline([{ type: 'standardize', columns: ['petal_area'] }])).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/no column "petal_area"/),
    });
  });
});

/**
 * Issue 10 item 6: evaluation data encoded apart from the training data (its own preprocess
 * stage) has class ids of its own. The evaluate activity must score the model in the model's
 * class ids (from its training transform): a reordered or partial class list maps by name, and a
 * label the model never saw is an error naming it and its rows, or (unseenLabels: ownClass) a
 * class of its own with a warning. Real Iris data through the real collect, preprocess, train and
 * evaluate activities.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import { evaluateCore } from '../../activities/evaluate.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { loadModel, predict } from '../../src/ml/train/checkpoint.ts';
import { decodeDataset, featureTensor } from '../../src/ml/data/dataset.ts';
import { collectInput, stageInput, tempDir, testEnv } from '../support/data.ts';
import { irisSchema, ref } from '../support/pipelines.ts';

const IRIS = readFileSync(resolve('pipelines/data/iris.csv'), 'utf8').trim().split('\n');
const header = IRIS[0]!;
const rowsOf = (species: string) => IRIS.slice(1).filter((l) => l.endsWith(`,${species}`));

let env: ReturnType<typeof testEnv>;
let dir: string;
let model: ArtifactRef;

/** collect + preprocess of an evaluation CSV (its own label encoding), split in halves. */
async function evalData(name: string, lines: string[], values?: string[]) {
  writeFileSync(join(dir, name), [header, ...lines].join('\n') + '\n');
  const schema = {
    ...irisSchema,
    columns: irisSchema.columns.map((c) =>
      c.name === 'species' ? { name: 'species', type: 'category', ...(values ? { values } : {}) } : c,
    ),
  };
  const c = await collectCore(collectInput({ source: { type: 'csv', path: name }, schema }, dir), env);
  const prep = await preprocessCore(
    stageInput(
      'preprocess',
      {
        steps: [
          { type: 'labelEncode', columns: ['species'] },
          { type: 'split', train: 0.5, test: 0.5, seed: 4, stratify: true },
        ],
      },
      { dataset: ref(c, 'dataset') },
    ),
    env,
  );
  return ref(prep, 'dataset');
}

const evaluate = (dataset: ArtifactRef, extra: Record<string, unknown> = {}) =>
  evaluateCore(stageInput('evaluate', { metrics: ['accuracy', 'confusionMatrix'], ...extra }, { dataset, model }), env);

/** The model's accuracy on the dataset's test rows, judged by class name (the oracle). */
async function accuracyByName(dataset: ArtifactRef): Promise<number> {
  const ds = decodeDataset(await env.store.get(dataset));
  const idx = ds.splits!.test!;
  const { model: m, meta } = await loadModel(await env.store.get(model));
  const p = predict(m, meta, featureTensor(ds, idx));
  m.dispose();
  const label = ds.columns.find((c) => c.name === 'species')! as { data: Float32Array };
  let hits = 0;
  idx.forEach((r, i) => (hits += meta.classes![p.yPred[i]!] === ds.classes![label.data[r]!] ? 1 : 0));
  return hits / idx.length;
}

beforeAll(async () => {
  env = testEnv();
  process.env.MLPIPE_HOME = join(tempDir(), 'home');
  dir = tempDir();
  writeFileSync(join(dir, 'iris.csv'), IRIS.join('\n') + '\n');
  const c = await collectCore(collectInput({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir), env);
  const p = await preprocessCore(
    stageInput(
      'preprocess',
      {
        steps: [
          { type: 'labelEncode', columns: ['species'] },
          { type: 'split', train: 0.8, test: 0.2, seed: 1, stratify: true },
        ],
      },
      { dataset: ref(c, 'dataset') },
    ),
    env,
  );
  const t = await trainCore(
    stageInput(
      'train',
      {
        model: {
          layers: [
            { type: 'dense', units: 16, activation: 'relu' },
            { type: 'dense', units: 3, activation: 'softmax' },
          ],
        },
        optimizer: { type: 'adam', learningRate: 0.05 },
        loss: 'sparseCategoricalCrossentropy',
        epochs: 60,
        batchSize: 16,
        seed: 2,
      },
      { dataset: ref(p, 'dataset') },
    ),
    env,
  );
  model = ref(t, 'model');
}, 180_000);

describe('evaluate: class ids come from the training transform', () => {
  it('evaluation data with a partial class list (its own ids) is scored by class name', async () => {
    // Encoded on their own, versicolor and virginica get ids 0 and 1; the model's are 1 and 2.
    const ds = await evalData('two.csv', [...rowsOf('versicolor'), ...rowsOf('virginica')]);
    const e = await evaluate(ds);
    const want = await accuracyByName(ds);
    expect(want).toBeGreaterThan(0.8);
    expect(e.outputs.accuracy).toBeCloseTo(want, 10);
    const cm = e.outputs.confusionMatrix as number[][];
    expect(cm).toHaveLength(3); // one row per class the model knows, in its order
    expect(cm[0]).toEqual([0, 0, 0]); // no setosa in this data
    const doc = JSON.parse((await env.store.get(e.outputs.metrics as unknown as ArtifactRef)).toString());
    expect(doc.classes).toEqual(['setosa', 'versicolor', 'virginica']);
  });

  it('a label the model never saw fails the stage by default, naming the label and its rows', async () => {
    const odd = rowsOf('setosa')
      .slice(0, 6)
      .map((l) => l.replace(/,setosa$/, ',arctica'));
    const ds = await evalData(
      'new.csv',
      [...odd, ...rowsOf('setosa').slice(6), ...rowsOf('versicolor')],
      ['arctica', 'setosa', 'versicolor', 'virginica'],
    );
    const err = await evaluate(ds).then(
      () => undefined,
      (e: Error & { type?: string; nonRetryable?: boolean }) => e,
    );
    expect(err?.type).toBe('InvalidInput');
    expect(err?.nonRetryable).toBe(true);
    // the test split holds 3 of the 6 arctica rows (stratified halves); rows count from 1 in the dataset
    const testRows = decodeDataset(await env.store.get(ds))
      .splits!.test!.filter((r) => r < 6)
      .map((r) => r + 1)
      .sort((a, b) => a - b);
    expect(testRows).toHaveLength(3);
    expect(err?.message).toContain(`"arctica" (dataset rows ${testRows.join(', ')})`);
    expect(err?.message).toMatch(/The model's classes: setosa, versicolor, virginica/);
    expect(err?.message).toMatch(/unseenLabels: ownClass/);
  });

  it('unseenLabels: ownClass counts them as a class of their own, with a warning', async () => {
    const odd = rowsOf('setosa')
      .slice(0, 6)
      .map((l) => l.replace(/,setosa$/, ',arctica'));
    const ds = await evalData(
      'own.csv',
      [...odd, ...rowsOf('setosa').slice(6), ...rowsOf('versicolor')],
      ['arctica', 'setosa', 'versicolor', 'virginica'],
    );
    const e = await evaluate(ds, { unseenLabels: 'ownClass' });
    const n = decodeDataset(await env.store.get(ds)).splits!.test!.length;
    const cm = e.outputs.confusionMatrix as number[][];
    expect(cm).toHaveLength(4);
    expect(cm[3]!.reduce((a, b) => a + b, 0)).toBe(3); // the three arctica rows of the test split...
    expect(cm[3]![3]).toBe(0); // ...are never right
    expect(cm.map((r) => r[3])).toEqual([0, 0, 0, 0]); // and never predicted
    const right = cm.reduce((a, r, i) => a + r[i]!, 0);
    expect(e.outputs.accuracy).toBeCloseTo(right / n, 10);
    expect(right / n).toBeGreaterThan(0.8); // the known rows are still scored by name
    const doc = JSON.parse((await env.store.get(e.outputs.metrics as unknown as ArtifactRef)).toString());
    expect(doc.classes).toEqual(['setosa', 'versicolor', 'virginica', 'arctica']);
    expect(doc.warnings[0]).toMatch(/3 evaluation rows have labels the model was not trained on.*"arctica"/);
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import { evaluateCore } from '../../activities/evaluate.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import { loadModel } from '../../src/ml/train/checkpoint.ts';
import { Rng } from '../../src/ml/data/rng.ts';
import { Registry } from '../../src/serving/registry.ts';
import { collectInput, stageInput, tempDir, testEnv } from '../support/data.ts';
import { irisSchema, prepared, ref } from '../support/pipelines.ts';

const irisSteps = [
  { type: 'labelEncode', columns: ['species'] },
  { type: 'standardize' },
  { type: 'split', train: 0.7, validation: 0.1, test: 0.2, seed: 3, stratify: true },
];
const mlp = (lr: number, epochs: number, extra: Record<string, unknown> = {}) => ({
  model: {
    layers: [
      { type: 'dense', units: 16, activation: 'relu', kernelRegularizer: { l2: 0.001 } },
      { type: 'dropout', rate: 0.1 },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
  },
  optimizer: { type: 'adam', learningRate: lr },
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
  epochs,
  batchSize: 16,
  seed: 5,
  ...extra,
});

describe('train options', () => {
  it("params (a search's winner) override config paths before training; a path that misses is the spec's error", async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'opt/params');
    const t = await trainCore(
      stageInput(
        'train',
        mlp(0.05, 2, { params: { 'optimizer.learningRate': 0.003, 'model.layers[0].units': 8, epochs: 1 } }),
        { dataset: prep.dataset },
        'opt/params',
      ),
      prep.env,
    );
    const { model, meta } = await loadModel(await prep.env.store.get(ref(t, 'model')));
    expect(meta.spec.optimizer).toMatchObject({ learningRate: 0.003 });
    expect(model.layers[0]!.getConfig().units).toBe(8);
    expect(t.outputs.epochs).toBe(1);
    model.dispose();
    await expect(
      trainCore(
        stageInput('train', mlp(0.05, 1, { params: { 'model.layers[7].units': 8 } }), { dataset: prep.dataset }, 'opt/params'),
        prep.env,
      ),
    ).rejects.toThrow(/params: config path model\.layers\[7\]\.units: no item 7 in layers/);
  });

  it('early stopping ends training before the epoch budget', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'opt/es');
    const t = await trainCore(
      stageInput(
        'train',
        mlp(0.05, 300, { earlyStopping: { monitor: 'val_loss', patience: 3, restoreBest: true } }),
        { dataset: prep.dataset },
        'opt/es',
      ),
      prep.env,
    );
    const h = JSON.parse((await prep.env.store.get(ref(t, 'history'))).toString()) as { stopReason: string; epochs: number };
    expect(h.stopReason).toBe('earlyStopping');
    expect(t.outputs.epochs as number).toBeLessThan(300);
    expect(typeof t.outputs.val_accuracy).toBe('number');
  });

  it('warm start continues from an upstream model artifact', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'opt/warm');
    const base = await trainCore(stageInput('train', mlp(0.02, 40), { dataset: prep.dataset }, 'opt/warm'), prep.env);
    const evalOf = async (model: ReturnType<typeof ref>) =>
      (await evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { dataset: prep.dataset, model }, 'opt/warm'), prep.env))
        .outputs.accuracy as number;
    const baseAcc = await evalOf(ref(base, 'model'));
    // One epoch at a negligible learning rate: a warm-started model keeps its accuracy, a fresh one has none.
    const tiny = mlp(1e-7, 1);
    const warm = await trainCore(stageInput('train', tiny, { dataset: prep.dataset, model: ref(base, 'model') }, 'opt/warm'), prep.env);
    const fresh = await trainCore(stageInput('train', tiny, { dataset: prep.dataset }, 'opt/warm'), prep.env);
    expect(baseAcc).toBeGreaterThan(0.9);
    expect(await evalOf(ref(warm, 'model'))).toBeCloseTo(baseAcc, 5);
    expect(await evalOf(ref(fresh, 'model'))).toBeLessThan(0.8);
  });

  it("warm start with freezeLayers keeps the frozen layers' weights and trains the rest on the graph step", async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'opt/freeze');
    const base = await trainCore(stageInput('train', mlp(0.02, 20), { dataset: prep.dataset }, 'opt/freeze'), prep.env);
    const tuned = await trainCore(
      stageInput(
        'train',
        mlp(0.05, 5, { warmStart: { freezeLayers: 1 } }),
        { dataset: prep.dataset, model: ref(base, 'model') },
        'opt/freeze',
      ),
      prep.env,
    );
    expect(tuned.outputs.engine).toBe('graph');
    const weightsOf = async (t: typeof base) => {
      const { model } = await loadModel(await prep.env.store.get(ref(t, 'model')));
      // keyed by shape: each of this model's four tensors has its own
      const byName = Object.fromEntries(model.weights.map((w) => [w.shape.join('x'), Array.from(w.read().dataSync())]));
      model.dispose();
      return byName;
    };
    const [before, after] = [await weightsOf(base), await weightsOf(tuned)];
    expect(Object.keys(after).sort()).toEqual(['16', '16x3', '3', '4x16']);
    expect(after['4x16']).toEqual(before['4x16']); // the frozen first layer
    expect(after['16']).toEqual(before['16']);
    expect(after['16x3']).not.toEqual(before['16x3']); // the trained last layer
  });

  it('warm start from a registered model by name, and a clear error for an unknown one', async () => {
    const prep = await prepared({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, irisSteps, 'opt/warm-reg');
    const base = await trainCore(stageInput('train', mlp(0.02, 40), { dataset: prep.dataset }, 'opt/warm-reg'), prep.env);
    await new Registry().update('iris', (e) => ({
      ...e,
      versions: [
        {
          version: '1',
          model: ref(base, 'model'),
          createdAt: '2026-01-01T00:00:00Z',
          source: { workflowId: 'w', runId: 'r', pipeline: 'p', stage: 'train' },
        },
      ],
      traffic: { primary: '1' },
    }));
    const evalOf = async (model: ReturnType<typeof ref>) =>
      (await evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { dataset: prep.dataset, model }, 'opt/warm-reg'), prep.env))
        .outputs.accuracy as number;
    const warm = await trainCore(
      stageInput('train', { ...mlp(1e-7, 1), warmStart: { model: 'iris' } }, { dataset: prep.dataset }, 'opt/warm-reg'),
      prep.env,
    );
    expect(await evalOf(ref(warm, 'model'))).toBeCloseTo(await evalOf(ref(base, 'model')), 5);
    await expect(
      trainCore(
        stageInput('train', { ...mlp(1e-7, 1), warmStart: { model: 'nope' } }, { dataset: prep.dataset }, 'opt/warm-reg'),
        prep.env,
      ),
    ).rejects.toThrow(/no model named "nope" is registered/);
    await expect(
      trainCore(
        stageInput('train', { ...mlp(1e-7, 1), warmStart: { model: 'iris', version: '9' } }, { dataset: prep.dataset }, 'opt/warm-reg'),
        prep.env,
      ),
    ).rejects.toThrow(/has no version "9"; it has 1/);
  });

  it('balanced class weights raise the minority class recall', async () => {
    const rng = new Rng(11);
    const rows = [
      ...Array.from({ length: 270 }, () => ({ a: rng.normal(), b: rng.normal(), y: 0 })),
      ...Array.from({ length: 30 }, () => ({ a: rng.normal() + 1.2, b: rng.normal() + 1.2, y: 1 })),
    ];
    const dir = tempDir();
    writeFileSync(join(dir, 'imb.json'), JSON.stringify(rows));
    process.env.MLPIPE_HOME = tempDir();
    const env = testEnv();
    const c = await collectCore(
      collectInput(
        {
          source: { type: 'json', path: 'imb.json' },
          schema: {
            label: 'y',
            columns: [
              { name: 'a', type: 'number' },
              { name: 'b', type: 'number' },
              { name: 'y', type: 'integer' },
            ],
          },
        },
        dir,
      ),
      env,
    );
    const p = await preprocessCore(
      stageInput('preprocess', { steps: [{ type: 'split', train: 1, seed: 1 }] }, { dataset: ref(c, 'dataset') }),
      env,
    );
    const cfg = (extra: Record<string, unknown>) => ({
      model: { layers: [{ type: 'dense', units: 2, activation: 'softmax' }] },
      optimizer: { type: 'adam', learningRate: 0.05 },
      loss: 'sparseCategoricalCrossentropy',
      epochs: 30,
      batchSize: 32,
      seed: 2,
      ...extra,
    });
    const recall = async (extra: Record<string, unknown>) => {
      const t = await trainCore(stageInput('train', cfg(extra), { dataset: ref(p, 'dataset') }), env);
      const e = await evaluateCore(
        stageInput(
          'evaluate',
          { split: 'train', metrics: ['recallMacro', 'confusionMatrix'] },
          { dataset: ref(p, 'dataset'), model: ref(t, 'model') },
        ),
        env,
      );
      const cm = e.outputs.confusionMatrix as number[][];
      return cm[1]![1]! / 30;
    };
    const plain = await recall({});
    const balanced = await recall({ classWeights: 'balanced' });
    console.log(`minority recall: plain ${plain.toFixed(3)}, balanced ${balanced.toFixed(3)}`);
    expect(balanced).toBeGreaterThan(plain + 0.2);
  });

  it('binary classification with one sigmoid unit: labels, threshold and ROC AUC', async () => {
    process.env.MLPIPE_HOME = tempDir();
    const env = testEnv();
    const c = await collectCore(
      stageInput('collect', {
        source: { type: 'synthetic', generator: 'blobs', samples: 400, features: 2, classes: 2, noise: 4, seed: 9 },
      }),
      env,
    );
    const p = await preprocessCore(
      stageInput(
        'preprocess',
        { steps: [{ type: 'standardize' }, { type: 'split', train: 0.75, test: 0.25, seed: 2, stratify: true }] },
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
              { type: 'dense', units: 8, activation: 'relu' },
              { type: 'dense', units: 1, activation: 'sigmoid' },
            ],
          },
          optimizer: { type: 'adam', learningRate: 0.02 },
          loss: 'binaryCrossentropy',
          metrics: ['accuracy'],
          epochs: 20,
          seed: 4,
        },
        { dataset: ref(p, 'dataset') },
      ),
      env,
    );
    const e = await evaluateCore(
      stageInput(
        'evaluate',
        { metrics: ['accuracy', 'rocAuc', 'confusionMatrix'] },
        { dataset: ref(p, 'dataset'), model: ref(t, 'model') },
      ),
      env,
    );
    console.log(`binary blobs: accuracy ${e.outputs.accuracy}, rocAuc ${e.outputs.rocAuc}`);
    expect(e.outputs.accuracy as number).toBeGreaterThan(0.8);
    expect(e.outputs.rocAuc as number).toBeGreaterThan((e.outputs.accuracy as number) - 0.05);
    expect((e.outputs.confusionMatrix as number[][]).length).toBe(2);
  });
});

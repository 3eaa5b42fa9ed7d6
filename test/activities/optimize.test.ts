import { describe, expect, it } from 'vitest';
import { optimizeCore, priorTrials } from '../../activities/optimize.ts';
import { collectCore } from '../../activities/collect.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { gridParams, search, setPath, StopSearch, type Space } from '../../src/ml/search/index.ts';
import { stageInput, tempDir, testEnv } from '../support/data.ts';
import { ref } from '../support/pipelines.ts';

// A smooth objective with its peak at learningRate 1e-2, units 64; more budget → closer to it.
const objective = (p: Record<string, unknown>, budget = 8) =>
  -((Math.log10(p['optimizer.learningRate'] as number) + 2) ** 2) - ((p['model.layers[0].units'] as number) - 64) ** 2 / 4096 - 1 / budget;
const space: Space = {
  'optimizer.learningRate': { type: 'logUniform', min: 1e-5, max: 1 },
  'model.layers[0].units': { type: 'int', min: 8, max: 128, step: 8 },
};

describe('search', () => {
  it('random search finds the better region, deterministically for a seed, in parallel', async () => {
    const run = (seed: number) =>
      search({
        space,
        method: 'random',
        trials: 40,
        parallelism: 4,
        seed,
        direction: 'maximize',
        run: async (p) => ({ value: objective(p) }),
      });
    const r = await run(3);
    const lr = r.best!.params['optimizer.learningRate'] as number;
    expect(Math.abs(Math.log10(lr) + 2)).toBeLessThan(0.5);
    expect(Math.abs((r.best!.params['model.layers[0].units'] as number) - 64)).toBeLessThanOrEqual(40);
    expect(r.trials).toHaveLength(40);
    expect((await run(3)).trials.map((t) => t.params)).toEqual(r.trials.map((t) => t.params));
  });

  it('a failing trial only loses; StopSearch ends the search', async () => {
    const lost = await search({
      space,
      method: 'random',
      trials: 3,
      seed: 1,
      direction: 'maximize',
      run: async (_p, id) => {
        if (id === 1) throw new Error('NaN loss');
        return { value: id };
      },
    });
    expect(lost.trials.map((t) => t.error ?? t.value)).toEqual([0, 'NaN loss', 2]);
    const stop = new StopSearch('the objective is not an output');
    await expect(
      search({
        space,
        method: 'random',
        trials: 3,
        seed: 1,
        direction: 'maximize',
        run: async () => {
          throw stop;
        },
      }),
    ).rejects.toBe(stop);
  });

  it('grid: every combination (3 points on a range, ints by step), best is the grid point nearest the peak', async () => {
    const g = gridParams({ lr: { type: 'logUniform', min: 1e-4, max: 1 }, b: { type: 'choice', values: [32, 64] } });
    expect(g).toHaveLength(6);
    expect(g.some((p) => Math.abs((p.lr as number) - 0.01) < 1e-12)).toBe(true);
    const r = await search({ space, method: 'grid', trials: 100, direction: 'maximize', run: async (p) => ({ value: objective(p) }) });
    expect(r.trials).toHaveLength(9); // 3 learning rates × 3 of the 16 unit counts
    expect(r.best!.params['optimizer.learningRate']).toBeCloseTo(10 ** -2.5, 10);
  });

  it('successive halving spends the full budget only on the survivors and finds the better region', async () => {
    const budgets: number[] = [];
    const r = await search({
      space,
      method: 'successiveHalving',
      trials: 16,
      seed: 5,
      direction: 'maximize',
      maxBudget: 16,
      run: async (p, _id, budget) => {
        budgets.push(budget!);
        return { value: objective(p, budget) };
      },
    });
    // 16 configs at 1 epoch, 8 at 2, 4 at 4, 2 at 8, the last one at the full 16.
    expect(budgets).toEqual([...Array(16).fill(1), ...Array(8).fill(2), ...Array(4).fill(4), 8, 8, 16]);
    expect(r.best!.budget).toBe(16);
    const rand = await search({
      space,
      method: 'random',
      trials: 16,
      seed: 5,
      direction: 'maximize',
      run: async (p) => ({ value: objective(p) }),
    });
    expect(objective(r.best!.params)).toBeCloseTo(Math.max(...rand.trials.map((t) => t.value!)), 10); // same 16 configs: SH keeps the best
  });

  it('a failing trial loses; finished trials of a previous attempt are not run again', async () => {
    let runs = 0;
    const first = await search({
      space,
      method: 'random',
      trials: 6,
      seed: 1,
      direction: 'minimize',
      run: async (p, id) => {
        runs++;
        if (id === 2) throw new Error('loss is NaN');
        return { value: -objective(p) };
      },
    });
    expect(first.trials[2]).toMatchObject({ value: null, error: 'loss is NaN' });
    expect(first.best!.id).not.toBe(2);
    runs = 0;
    const again = await search({
      space,
      method: 'random',
      trials: 6,
      seed: 1,
      direction: 'minimize',
      done: first.trials.slice(0, 4),
      run: async (p) => {
        runs++;
        return { value: -objective(p) };
      },
    });
    expect(runs).toBe(2);
    expect(again.trials.map((t) => t.params)).toEqual(first.trials.map((t) => t.params));
  });

  it('setPath sets nested paths and names a missing list item', () => {
    const c: Record<string, unknown> = { model: { layers: [{ units: 1 }] }, optimizer: { type: 'adam' } };
    setPath(c, 'model.layers[0].units', 7);
    setPath(c, 'optimizer.learningRate', 0.1);
    expect(c).toEqual({ model: { layers: [{ units: 7 }] }, optimizer: { type: 'adam', learningRate: 0.1 } });
    expect(() => setPath(c, 'model.layers[3].units', 1)).toThrow(/no item 3/);
  });
});

describe('optimize activity (real training)', () => {
  it('tunes the train config: the good learning rate wins, outputs best params, value, model and every trial', async () => {
    const root = tempDir('mlpipe-opt-');
    process.env.MLPIPE_HOME = `${root}/home`;
    const env = testEnv(root);
    const wf = 'opt/run-1';
    const c = await collectCore(
      stageInput(
        'collect',
        { source: { type: 'synthetic', generator: 'blobs', samples: 400, features: 4, classes: 3, noise: 1.5, seed: 2 } } as JsonObject,
        {},
        wf,
      ),
      env,
    );
    const p = await preprocessCore(
      stageInput(
        'preprocess',
        { steps: [{ type: 'split', train: 0.75, validation: 0.25, seed: 1 }, { type: 'standardize' }] } as JsonObject,
        { dataset: ref(c, 'dataset') },
        wf,
      ),
      env,
    );
    const tuned = {
      model: {
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.1 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
      epochs: 3,
      batchSize: 32,
      seed: 1,
    };
    const r = await optimizeCore(
      {
        ...stageInput(
          'optimize',
          {
            tunes: 'train',
            method: 'grid',
            parallelism: 2,
            space: { 'optimizer.learningRate': { type: 'choice', values: [1e-6, 0.3] } },
            objective: { metric: 'val_accuracy', direction: 'maximize' },
          } as unknown as JsonObject,
          { dataset: ref(p, 'dataset') },
          wf,
        ),
        tunedConfig: tuned as unknown as JsonObject,
      },
      env,
    );
    expect(r.outputs.best).toEqual({ 'optimizer.learningRate': 0.3 });
    expect(r.outputs.bestValue as number).toBeGreaterThan(0.8);
    expect(r.outputs.model).toMatchObject({ kind: 'model' });
    const doc = JSON.parse((await env.store.get(r.outputs.trials as unknown as ArtifactRef)).toString());
    expect(doc.trials).toHaveLength(2);
    expect(doc.trials[0].value).toBeLessThan(doc.trials[1].value);
    expect(doc.best.model.digest).toBe((r.outputs.model as unknown as ArtifactRef).digest);
    expect(env.beats.some((b) => (b as { checkpoint?: { trials: unknown[] } }).checkpoint?.trials.length === 2)).toBe(true);
  });

  it('a retry skips the trials of the last heartbeat, in its shape or the one older workers sent', () => {
    const trials = [{ id: 0, params: { lr: 0.1 }, value: 0.9 }];
    expect(priorTrials({ progress: { message: 'm', step: 1, steps: 2 }, checkpoint: { trials } })).toEqual(trials);
    expect(priorTrials({ progress: { message: 'm', step: 1, steps: 2 }, trials })).toEqual(trials);
    expect(priorTrials(undefined)).toEqual([]);
  });

  it('a space path that is not in the tuned config fails before any training', async () => {
    const env = testEnv(tempDir('mlpipe-opt-'));
    const fake = { kind: 'dataset', uri: 'file:///x', digest: `sha256:${'0'.repeat(64)}`, sizeBytes: 1 } as ArtifactRef;
    await expect(
      optimizeCore(
        {
          ...stageInput(
            'optimize',
            {
              tunes: 'train',
              space: { 'model.layers[5].units': { type: 'int', min: 1, max: 4 } },
              objective: { metric: 'val_loss', direction: 'minimize' },
            } as unknown as JsonObject,
            { dataset: fake },
          ),
          tunedConfig: { model: { layers: [] }, epochs: 1 },
        },
        env,
      ),
    ).rejects.toThrow(/no item 5/);
  });
});

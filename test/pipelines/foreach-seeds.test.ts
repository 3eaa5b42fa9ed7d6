/**
 * pipelines/foreach-seeds.yaml end to end on the dev server: the Iris MLP trained once per seed
 * (three train items, each its own activity and model), each model evaluated by the evaluate item
 * with the same index (its items come from `${stages.train.items…}`), the accuracies collected in
 * seed order; a rerun is answered by the step cache item by item.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('foreach-example');
  process.env.MLPIPE_HOME = env.home; // the in-process worker's artifact store and step cache
});
afterAll(async () => {
  await env?.close();
});

describe('pipelines/foreach-seeds.yaml', () => {
  it('trains and evaluates once per seed, collects the results in seed order, and hits the cache per item on a rerun', async () => {
    const { plan } = await compileFile(join(import.meta.dirname, '../../pipelines/foreach-seeds.yaml'));
    const res = await (await env.start(plan)).result();
    const train = res.stages.train!;
    const evaluate = res.stages.evaluate!;
    expect(train.items!.map((i) => [i.item, i.status])).toEqual([
      [1, 'succeeded'],
      [2, 'succeeded'],
      [3, 'succeeded'],
    ]);
    const models = train.outputs.model as unknown as ArtifactRef[];
    expect(models).toHaveLength(3);
    expect(new Set(models.map((m) => m.digest)).size).toBe(3); // three seeds, three models
    expect(evaluate.items!.map((i) => i.item)).toEqual([1, 2, 3]);
    const accuracy = evaluate.outputs.accuracy as number[];
    expect(accuracy).toHaveLength(3);
    for (const a of accuracy) expect(a).toBeGreaterThan(0.5); // 3 classes: well above chance
    expect(evaluate.items!.map((i) => i.outputs.accuracy)).toEqual(accuracy);

    const again = await (await env.start(plan)).result();
    expect(again.stages.train!.items!.map((i) => i.cached)).toEqual([true, true, true]);
    expect(again.stages.evaluate!.items!.map((i) => i.cached)).toEqual([true, true, true]);
    expect(again.stages.evaluate!.outputs.accuracy).toEqual(accuracy);
  });
});

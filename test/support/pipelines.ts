import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { collectCore } from '../../activities/collect.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import { evaluateCore } from '../../activities/evaluate.ts';
import type { ArtifactRef, StageResult } from '../../src/core/plan.ts';
import { collectInput, stageInput, tempDir, testEnv } from './data.ts';

export const irisSchema = {
  label: 'species',
  columns: [
    { name: 'sepal_length', type: 'number' },
    { name: 'sepal_width', type: 'number' },
    { name: 'petal_length', type: 'number' },
    { name: 'petal_width', type: 'number' },
    { name: 'species', type: 'category', values: ['setosa', 'versicolor', 'virginica'] },
  ],
};

export const ref = (r: StageResult, k: string) => r.outputs[k] as unknown as ArtifactRef;

/** collect → preprocess, returning the env and the preprocessed dataset ref. */
export async function prepared(collect: Record<string, unknown>, steps: Record<string, unknown>[], workflowId = 'test/run-1') {
  const root = tempDir();
  process.env.MLPIPE_HOME = join(root, 'home');
  const env = testEnv(root);
  const dir = tempDir();
  copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
  const c = await collectCore(collectInput(collect, dir, workflowId), env);
  const p = await preprocessCore(stageInput('preprocess', { steps }, { dataset: ref(c, 'dataset') }, workflowId), env);
  return { env, dataset: ref(p, 'dataset'), workflowId };
}

export async function trainAndEvaluate(
  prep: Awaited<ReturnType<typeof prepared>>,
  train: Record<string, unknown>,
  evaluate: Record<string, unknown>,
) {
  const t = await trainCore(stageInput('train', train, { dataset: prep.dataset }, prep.workflowId), prep.env);
  const e = await evaluateCore(
    stageInput('evaluate', evaluate, { dataset: prep.dataset, model: ref(t, 'model') }, prep.workflowId),
    prep.env,
  );
  return { t, e };
}

// A trained Iris classifier and its transform, made by the real collect → preprocess → train
// cores, for the serving tests.
import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { collectCore } from '../../activities/collect.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import type { ArtifactRef, JsonObject, StageActivityInput } from '../../src/core/plan.ts';
import { collectInput, stageInput, tempDir, testEnv } from './data.ts';
import { irisSchema, ref } from './pipelines.ts';

export const irisSteps: JsonObject[] = [
  { type: 'labelEncode', columns: ['species'] },
  { type: 'standardize' },
  { type: 'split', train: 0.8, test: 0.2, seed: 7, stratify: true },
];
export const irisTrain: JsonObject = {
  model: {
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.05 },
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
  epochs: 5,
  batchSize: 16,
  seed: 1,
};

export async function irisArtifacts(workflowId = 'serving/run-1') {
  const root = tempDir('mlpipe-serving-');
  const home = join(root, 'home');
  process.env.MLPIPE_HOME = home;
  const env = testEnv(root);
  const dir = tempDir();
  copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
  const c = await collectCore(collectInput({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir, workflowId), env);
  const p = await preprocessCore(stageInput('preprocess', { steps: irisSteps }, { dataset: ref(c, 'dataset') }, workflowId), env);
  const train = async (over: JsonObject = {}) =>
    ref(await trainCore(stageInput('train', { ...irisTrain, ...over }, { dataset: ref(p, 'dataset') }, workflowId), env), 'model');
  return { root, home, env, raw: ref(c, 'dataset'), dataset: ref(p, 'dataset'), transform: ref(p, 'transform'), train, workflowId };
}

export function deployInput(
  config: JsonObject,
  inputs: Record<string, ArtifactRef>,
  workflowId = 'serving/run-1',
  stage = 'deploy',
): StageActivityInput {
  return { ...stageInput('deploy', config, inputs, workflowId), stage };
}

/** `body` as JSON, or a string sent as it is (JSON that JSON.stringify cannot write, e.g. 1e999). */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<any> {
  const r = await fetch(url, { headers });
  return r.json();
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Waits until the server shows the registry revision `rev` of `name`. */
export async function waitRevision(base: string, name: string, rev: number): Promise<any> {
  // Generous: loading a model on a busy machine (other suites training) can take seconds.
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${base}/v1/models/${name}`);
    if (r.status === 200) {
      const j = (await r.json()) as { revision: number };
      if (j.revision >= rev) return j;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`server never reached revision ${rev} of ${name}`);
}

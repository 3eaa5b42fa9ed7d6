// Two Iris versions deployed from a CSV with an `id` column that preprocess drops: v1 stable, v2 a
// canary. For the protocol tests (TF Serving REST, KServe v2, /metrics) and their real clients.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { collectCore } from '../../activities/collect.ts';
import { deployCore } from '../../activities/deploy.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import type { JsonObject } from '../../src/core/plan.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { collectInput, stageInput, tempDir, testEnv } from './data.ts';
import { irisSchema, ref } from './pipelines.ts';
import { deployInput, irisTrain } from './serving.ts';

export const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

export async function irisWithIds(workflowId: string) {
  const root = tempDir('mlpipe-protocols-');
  const home = join(root, 'home');
  process.env.MLPIPE_HOME = home;
  const env = testEnv(root);
  const dir = tempDir();
  const lines = readFileSync(resolve('pipelines/data/iris.csv'), 'utf8').trim().split('\n');
  writeFileSync(join(dir, 'iris.csv'), [`id,${lines[0]}`, ...lines.slice(1).map((l, i) => `row-${i + 1},${l}`)].join('\n'));
  const schema = { ...irisSchema, columns: [{ name: 'id', type: 'string' }, ...irisSchema.columns] };
  const c = await collectCore(collectInput({ source: { type: 'csv', path: 'iris.csv' }, schema }, dir, workflowId), env);
  const steps: JsonObject[] = [
    { type: 'drop', columns: ['id'] },
    { type: 'labelEncode', columns: ['species'] },
    { type: 'standardize' },
    { type: 'split', train: 0.8, test: 0.2, seed: 7, stratify: true },
  ];
  const p = await preprocessCore(stageInput('preprocess', { steps }, { dataset: ref(c, 'dataset') }, workflowId), env);
  const registry = new Registry(registryDir(home));
  const deploy = async (seed: number, strategy: JsonObject, stage: string) => {
    const model = ref(
      await trainCore(stageInput('train', { ...irisTrain, seed }, { dataset: ref(p, 'dataset') }, workflowId), env),
      'model',
    );
    await deployCore(deployInput({ modelName: 'iris', strategy }, { model, transform: ref(p, 'transform') }, workflowId, stage), env, {
      registry,
      autostart: false,
    });
  };
  await deploy(1, { type: 'replace' }, 'deploy-v1');
  await deploy(2, { type: 'canary', weight: 30 }, 'deploy-v2');
  // Raw rows as a client would send them: the id, the four measurements, no label.
  const rows = lines.slice(1).map((l, i) => {
    const v = l.split(',');
    return { id: `row-${i + 1}`, ...Object.fromEntries(FEATURES.map((f, k) => [f, Number(v[k])])) } as Record<string, unknown>;
  });
  return { root, home, env, registry, rows, raw: ref(c, 'dataset'), prepared: ref(p, 'dataset'), transform: ref(p, 'transform') };
}

const run = promisify(execFile);

/** The python clients come from scripts/setup.sh: say so when one is missing. */
export function setupHint(stderr = ''): string {
  const m = /ModuleNotFoundError: No module named '([^']+)'/.exec(stderr);
  return m ? ` (python3 lacks ${m[1]}: run scripts/setup.sh, which installs tritonclient[http], requests and prometheus-client)` : '';
}

/** Runs a python client script (async: the server under test runs in this process). */
export async function python(script: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('python3', [resolve('test/serving/clients', script), ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} failed: ${x.message}${setupHint(x.stderr)}\n--- stdout\n${x.stdout ?? ''}\n--- stderr\n${x.stderr ?? ''}`);
  }
}

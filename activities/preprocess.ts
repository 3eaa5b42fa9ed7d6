// preprocess: the spec's ordered steps → a dataset artifact with its splits and a transform
// artifact (the fitted column steps) that the model server applies to requests.
import type { ArtifactRef, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { computeStats } from '../src/ml/data/dataset-stats.ts';
import { runPreprocess } from '../src/ml/data/preprocess.ts';
import {
  lineage,
  mapError,
  readDataset,
  requireInput,
  stageEnv,
  where,
  withHeartbeats,
  writeDataset,
  stageConfig,
  type StageEnv,
} from './lib/stage.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';

export type PreprocessConfig = StageConfig<'preprocess'>;

export async function preprocessCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const cfg = stageConfig(input, 'preprocess');
  const ref = requireInput(input, 'dataset', 'dataset');
  try {
    return await withHeartbeats(env, { progress: { stage: input.stage, phase: 'preprocess' } }, () => run(input, env, cfg, ref));
  } catch (e) {
    return mapError(e);
  }
}

async function run(input: StageActivityInput, env: StageEnv, cfg: PreprocessConfig, ref: ArtifactRef): Promise<StageResult> {
  const raw = await readDataset(env.store, ref);
  const { dataset, transform } = runPreprocess(raw, cfg.steps, cfg.label, where(input));
  dataset.stats = computeStats(dataset);
  const ds = await writeDataset(env.store, dataset, input, env);
  const tr = await env.store.put(Buffer.from(JSON.stringify(transform)), { kind: 'transform', lineage: lineage(input, env) });
  return { outputs: { dataset: { ...ds }, transform: { ...tr }, rows: dataset.rows } };
}

export async function preprocess(input: StageActivityInput): Promise<StageResult> {
  return preprocessCore(input, stageEnv());
}

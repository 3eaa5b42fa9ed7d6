// predict: batch predictions. A dataset scored by a model (an upstream train/optimize stage's, or
// a version from the model registry) through its saved transform, on the model server's own path
// (src/serving/score.ts), so a batch prediction and a served answer for the same row agree.
import type { ArtifactRef, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { DataError } from '../src/ml/data/sources.ts';
import { splitIndices, type Dataset } from '../src/ml/data/dataset.ts';
import { predictDataset } from '../src/serving/batch.ts';
import { Registry } from '../src/serving/registry.ts';
import { disposeScoringModel, loadScoringModel } from '../src/serving/score.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';
import {
  invalid,
  readDataset,
  requireInput,
  stageConfig,
  stageEnv,
  where,
  withHeartbeats,
  writeDataset,
  type StageEnv,
} from './lib/stage.ts';

export type PredictConfig = StageConfig<'predict'>;

interface Source {
  model: ArtifactRef;
  transform?: ArtifactRef;
  /** Names the model in errors and the outputs. */
  what: string;
}

/** The registered version `cfg.model` names (default: the one serving traffic), with its transform. */
async function registered(input: StageActivityInput, cfg: PredictConfig, at: string, registry: Registry): Promise<Source> {
  const { name, version } = cfg.model!;
  const entry = await registry.get(name);
  if (!entry || entry.versions.length === 0)
    invalid(`${at}: model.name: no model "${name}" in the registry; deploy it first, or see \`mlpipe models ls\``);
  const want = version ?? entry.traffic.primary;
  if (!want) invalid(`${at}: model "${name}" has no version serving traffic; name one: \`model: { name: ${name}, version: <v> }\``);
  const v = entry.versions.find((x) => x.version === want);
  if (!v)
    invalid(`${at}: model.version: "${name}" has no live version "${want}" (it has ${entry.versions.map((x) => x.version).join(', ')})`);
  // The transform it was deployed with; an upstream one only where the version has none.
  const transform = v.transform ?? (input.inputs.transform && requireInput(input, 'transform', 'transform'));
  return { model: v.model, transform, what: `model ${name} ${v.version}` };
}

export async function predictCore(input: StageActivityInput, env: StageEnv, o: { registry?: Registry } = {}): Promise<StageResult> {
  const at = where(input);
  const cfg = stageConfig(input, 'predict');
  const ds = await readDataset(env.store, requireInput(input, 'dataset', 'dataset'));
  const src: Source = cfg.model
    ? await registered(input, cfg, at, o.registry ?? new Registry())
    : {
        model: requireInput(input, 'model', 'model'),
        transform: input.inputs.transform && requireInput(input, 'transform', 'transform'),
        what: 'the model',
      };
  let idx: Uint32Array;
  try {
    idx = splitIndices(ds, cfg.split ?? 'all');
  } catch (e) {
    return invalid(`${at}: split: ${(e as Error).message}`);
  }
  const scorer = await loadScoringModel(env.store, src.model, src.transform);
  let out: Dataset;
  try {
    out = await predictDataset(ds, idx, scorer, {
      batchRows: cfg.batchRows,
      what: src.what,
      onChunk: async (done, total) => {
        env.heartbeat({
          progress: { stage: input.stage, phase: 'predict', step: done, steps: total, message: `${done} of ${total} rows` },
        });
        if (env.signal?.aborted) throw new Error(`${at}: cancelled after ${done} of ${total} rows`);
        await new Promise((r) => setImmediate(r)); // let heartbeats and cancellation through
      },
    });
  } catch (e) {
    if (e instanceof DataError) invalid(`${at}: ${e.message}`);
    throw e;
  } finally {
    disposeScoringModel(scorer);
  }
  const ref = await writeDataset(env.store, out, input, env);
  return { outputs: { predictions: { ...ref }, rows: out.rows } };
}

export async function predict(input: StageActivityInput): Promise<StageResult> {
  const env = stageEnv();
  return withHeartbeats(env, { progress: { stage: input.stage, phase: 'predict' } }, () => predictCore(input, env));
}

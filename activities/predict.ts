// predict: batch predictions. A dataset scored by a model (an upstream train/optimize stage's, or
// a version from the model registry) through its saved transform, on the model server's own path
// (src/serving/score.ts), so a batch prediction and a served answer for the same row agree.
import type { ArtifactRef, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { DataError } from '../src/ml/data/sources.ts';
import { splitIndices, type Dataset, type SplitName } from '../src/ml/data/dataset.ts';
import type { ChunkedDataset } from '../src/ml/data/chunked.ts';
import { chunksInOrder } from './lib/evaluate-chunks.ts';
import { predictDataset } from '../src/serving/batch.ts';
import { Registry } from '../src/serving/registry.ts';
import { disposeScoringModel, loadScoringModel } from '../src/serving/score.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';
import {
  invalid,
  openDataset,
  requireInput,
  stageConfig,
  stageEnv,
  where,
  withHeartbeats,
  writeChunks,
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
  const ds = await openDataset(env.store, requireInput(input, 'dataset', 'dataset'));
  const src: Source = cfg.model
    ? await registered(input, cfg, at, o.registry ?? new Registry())
    : {
        model: requireInput(input, 'model', 'model'),
        transform: input.inputs.transform && requireInput(input, 'transform', 'transform'),
        what: 'the model',
      };
  const total = splitTotal(ds, cfg.split ?? 'all');
  const scorer = await loadScoringModel(env.store, src.model, src.transform);
  let done = 0;
  let last: Dataset | undefined;
  // Each chunk's rows scored and handed to writeChunks before the next is read: one chunk is
  // stored as a v1 dataset exactly as before, several as chunk artifacts and a manifest.
  async function* predictions() {
    for await (const chunk of chunksInOrder(ds)) {
      let idx: Uint32Array;
      try {
        idx = splitIndices(chunk, cfg.split ?? 'all');
      } catch (e) {
        return invalid(`${at}: split: ${(e as Error).message}`);
      }
      if (idx.length === 0 && ds.chunkRows.length > 1) continue;
      const base = done;
      last = await predictDataset(chunk, idx, scorer, {
        batchRows: cfg.batchRows,
        what: src.what,
        onChunk: async (n) => {
          env.heartbeat({
            progress: { stage: input.stage, phase: 'predict', step: base + n, steps: total, message: `${base + n} of ${total} rows` },
          });
          if (env.signal?.aborted) throw new Error(`${at}: cancelled after ${base + n} of ${total} rows`);
          await new Promise((r) => setImmediate(r)); // let heartbeats and cancellation through
        },
      });
      done += idx.length;
      yield last;
    }
  }
  let ref: ArtifactRef;
  try {
    ref = await writeChunks(
      env.store,
      predictions(),
      () => (last?.label ? { label: last.label, ...(last.classes ? { classes: last.classes } : {}) } : {}),
      input,
      env,
    );
  } catch (e) {
    if (e instanceof DataError) invalid(`${at}: ${e.message}`);
    throw e;
  } finally {
    disposeScoringModel(scorer);
  }
  return { outputs: { predictions: { ...ref }, rows: done } };
}

/** Rows the stage will score: the split's size from the manifest, or all rows. */
function splitTotal(ds: ChunkedDataset, split: string): number {
  if (split === 'all') return ds.rows;
  return ds.splitRows?.[split as SplitName] ?? ds.rows;
}

export async function predict(input: StageActivityInput): Promise<StageResult> {
  const env = stageEnv();
  return withHeartbeats(env, { progress: { stage: input.stage, phase: 'predict' } }, () => predictCore(input, env));
}

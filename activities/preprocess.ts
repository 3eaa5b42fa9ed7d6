// preprocess: the spec's ordered steps → a dataset artifact with its splits and a transform
// artifact (the fitted column steps) that the model server applies to requests. A dataset of one
// chunk is preprocessed in memory; a chunked one (more rows than collect's chunkRows) streams:
// fit passes over its train rows, then an apply pass writing the output chunk by chunk
// (src/ml/data/preprocess-stream.ts).
import type { ArtifactRef, StageActivityInput, StageResult } from '../src/core/plan.ts';
import type { ChunkedDataset } from '../src/ml/data/chunked.ts';
import { computeStats } from '../src/ml/data/dataset-stats.ts';
import { runPreprocess } from '../src/ml/data/preprocess.ts';
import { preprocessStream } from '../src/ml/data/preprocess-stream.ts';
import type { HeartbeatDetails } from '../src/temporal/progress.ts';
import {
  lineage,
  mapError,
  openDataset,
  requireInput,
  stageEnv,
  where,
  withHeartbeats,
  writeChunks,
  writeDataset,
  stageConfig,
  type StageEnv,
} from './lib/stage.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';

export type PreprocessConfig = StageConfig<'preprocess'>;

export async function preprocessCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const cfg = stageConfig(input, 'preprocess');
  const ref = requireInput(input, 'dataset', 'dataset');
  const beat: HeartbeatDetails<unknown> = { progress: { stage: input.stage, phase: 'preprocess' } };
  try {
    return await withHeartbeats(env, beat, () => run(input, env, cfg, ref, beat));
  } catch (e) {
    return mapError(e);
  }
}

async function run(
  input: StageActivityInput,
  env: StageEnv,
  cfg: PreprocessConfig,
  ref: ArtifactRef,
  beat: HeartbeatDetails<unknown>,
): Promise<StageResult> {
  const src = await openDataset(env.store, ref);
  if (src.chunkRows.length > 1) return runStreaming(input, env, cfg, src, beat);
  const raw = await src.chunk(0);
  const { dataset, transform } = runPreprocess(raw, cfg.steps, cfg.label, where(input));
  dataset.stats = computeStats(dataset);
  const ds = await writeDataset(env.store, dataset, input, env);
  const tr = await env.store.put(Buffer.from(JSON.stringify(transform)), { kind: 'transform', lineage: lineage(input, env) });
  return { outputs: { dataset: { ...ds }, transform: { ...tr }, rows: dataset.rows } };
}

async function runStreaming(
  input: StageActivityInput,
  env: StageEnv,
  cfg: PreprocessConfig,
  src: ChunkedDataset,
  beat: HeartbeatDetails<unknown>,
): Promise<StageResult> {
  const run = await preprocessStream(src, cfg.steps, cfg.label, where(input), {
    progress: ({ pass, passes, chunk, chunks, message }) => {
      // A cancelled run stops at the next chunk (a chunk failing mid-write leaves no chunks).
      if (env.signal?.aborted) throw new Error(`${where(input)}: cancelled at ${message}`);
      beat.progress = { stage: input.stage, phase: 'preprocess', step: chunk, steps: chunks, pass, passes, message };
      env.heartbeat({ ...beat }); // (the timer's beats send `beat` itself, with the latest progress)
    },
  });
  let out: ReturnType<typeof run.finish> | undefined;
  const ds = await writeChunks(
    env.store,
    run.chunks,
    () => {
      out = run.finish();
      return { stats: out.stats, label: out.label, classes: out.classes };
    },
    input,
    env,
  );
  const tr = await env.store.put(Buffer.from(JSON.stringify(out!.transform)), { kind: 'transform', lineage: lineage(input, env) });
  return { outputs: { dataset: { ...ds }, transform: { ...tr }, rows: src.rows } };
}

export async function preprocess(input: StageActivityInput): Promise<StageResult> {
  return preprocessCore(input, stageEnv());
}

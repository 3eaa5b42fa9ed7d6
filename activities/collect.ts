// collect: csv/json/ndjson/parquet/arrow (file or URL), a class-per-folder image tree, the built-in
// MNIST digits, or a seeded synthetic set →
// a dataset artifact with its schema and statistics (monitoring's drift baseline).
import type { ArtifactRef, JsonValue, SpecLocation, StageActivityInput, StageResult } from '../src/core/plan.ts';
import type { Dataset } from '../src/ml/data/dataset.ts';
import { computeStats } from '../src/ml/data/dataset-stats.ts';
import { loadMnist } from '../src/ml/data/mnist.ts';
import { imageChunkRows, imageFolderChunks, listImageFolder, loadImageFolder } from '../src/ml/data/images.ts';
import { DataError, readSourceBytes } from '../src/ml/data/sources.ts';
import { parseTable } from '../src/ml/data/table-parse.ts';
import { generateSynthetic } from '../src/ml/data/synthetic.ts';
import { resolveInside } from '../src/artifacts/paths.ts';
import { evaluateExpectations, failureMessage, type ExpectationSummary } from '../src/ml/data/expectations.ts';
import { updateRunReport } from '../src/ml/report/report.ts';
import {
  invalid,
  mapError,
  readDataset,
  stageConfig,
  stageEnv,
  where,
  withHeartbeats,
  writeChunks,
  writeDataset,
  type StageEnv,
} from './lib/stage.ts';
import { DEFAULT_CHUNK_ROWS } from '../src/ml/data/chunked.ts';
import { StatsAccumulator } from '../src/ml/data/dataset-stats-merge.ts';
import { ChunkedExpectations } from '../src/ml/data/expectations-chunked.ts';
import { streamTable } from '../src/ml/data/table-source.ts';
import type { StreamRequest } from '../src/ml/data/table-stream.ts';
import type { ColumnarSource, CsvSource, ImageFolderSource, JsonSource } from '../src/spec/types.gen.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';
import type { HeartbeatDetails } from '../src/temporal/progress.ts';

type CollectConfig = StageConfig<'collect'>;

/** Env var (set by `mlpipe worker --repo-root`): where this worker sees the pipelines' git checkout. */
export const REPO_ROOT_ENV = 'MLPIPE_REPO_ROOT';

/**
 * Where a collect stage's relative paths resolve: the spec's directory inside this worker's
 * checkout when the worker was given one (the plan may come from another machine), else the
 * directory the plan was compiled in.
 */
export function sourceBaseDir(location: SpecLocation | undefined, at: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const root = env[REPO_ROOT_ENV];
  if (!root || location?.repoDir === undefined) return location?.baseDir;
  try {
    return resolveInside(root, location.repoDir || '.');
  } catch (e) {
    throw new DataError(`${at}: ${(e as Error).message}`);
  }
}

/**
 * Load the source into a dataset (with statistics). Throws DataError on bad input. `onPhase`
 * hears what it is doing (heartbeat progress).
 */
export async function collectDataset(
  cfg: CollectConfig,
  location: SpecLocation | undefined,
  at: string,
  signal?: AbortSignal,
  onPhase?: (message: string) => void,
): Promise<Dataset> {
  const src = cfg.source;
  let ds: Dataset;
  switch (src.type) {
    case 'csv':
    case 'json':
    case 'ndjson':
    case 'parquet':
    case 'arrow': {
      const buf = await readSourceBytes(src, sourceBaseDir(location, at), at, signal);
      const file = src.path ?? src.url ?? '?';
      onPhase?.(`parsing ${file} (${buf.length} bytes)`);
      const csv = src.type === 'csv' ? { header: src.header, delimiter: src.delimiter } : undefined;
      // with its statistics; a big file off this thread, so the worker stays responsive
      return parseTable(
        buf,
        { format: src.type, csv, schema: cfg.schema, onBadRows: cfg.onBadRows ?? 'fail', where: at, file },
        { signal },
      );
    }
    case 'mnist':
      ds = await loadMnist(src.limit);
      break;
    case 'imageFolder':
      ds = await loadImageFolder(src, sourceBaseDir(location, at), at, { signal, onPhase });
      break;
    case 'synthetic':
      ds = generateSynthetic(src);
      break;
    default:
      throw new DataError(`${at}: unknown source type ${JSON.stringify((src as { type: string }).type)}`);
  }
  if (cfg.schema?.label) {
    if (!ds.columns.some((c) => c.name === cfg.schema!.label)) {
      throw new DataError(
        `${at}: schema.label ${JSON.stringify(cfg.schema.label)} is not a column of the ${src.type} source ` +
          `(columns: ${ds.columns.map((c) => c.name).join(', ')})`,
      );
    }
    ds.label = cfg.schema.label;
  }
  ds.stats = computeStats(ds);
  return ds;
}

export async function collectCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const cfg = stageConfig(input, 'collect');
  try {
    const beat: HeartbeatDetails = { progress: { stage: input.stage, phase: 'collect', message: 'reading the source' } };
    const onPhase = (message: string) => {
      beat.progress = { stage: input.stage, phase: 'collect', message };
      env.heartbeat(beat);
    };
    return await withHeartbeats(env, beat, async () => {
      const src = cfg.source;
      if (src.type === 'csv' || src.type === 'ndjson' || src.type === 'parquet' || src.type === 'arrow') {
        return await collectStreamed(cfg, input, env, onPhase);
      }
      if (src.type === 'imageFolder') return await collectImages(src, cfg, input, env, onPhase);
      return await storeWhole(await collectDataset(cfg, input.location, where(input), env.signal, onPhase), cfg, input, env, onPhase);
    });
  } catch (e) {
    return mapError(e);
  }
}

/** Expectations, the report's data section, then the dataset as one v1 artifact. */
async function storeWhole(
  ds: Dataset,
  cfg: CollectConfig,
  input: StageActivityInput,
  env: StageEnv,
  onPhase: (message: string) => void,
): Promise<StageResult> {
  const droppedRows = ds.stats?.droppedRows ?? 0;
  let expectations: ExpectationSummary | undefined;
  if (cfg.expect?.length) {
    onPhase(`checking ${cfg.expect.length} expectations`);
    const refInput = input.inputs.reference;
    const reference = refInput ? await readDataset(env.store, refInput) : undefined;
    expectations = evaluateExpectations(ds, cfg.expect, reference, where(input));
  }
  await reportAndCheck(input, env, ds.rows, droppedRows, expectations);
  onPhase(`storing ${ds.rows} rows`);
  const ref = await writeDataset(env.store, ds, input, env);
  return { outputs: collectOutputs(ref, ds.rows, droppedRows, expectations) };
}

/** The report shows the data checks (a failed run's too: that is when they matter); a failed `error` rule fails the stage. */
async function reportAndCheck(
  input: StageActivityInput,
  env: StageEnv,
  rows: number,
  droppedRows: number,
  expectations: ExpectationSummary | undefined,
): Promise<void> {
  if (expectations || droppedRows) {
    await updateRunReport(input.run, env.store, {
      data: { stage: input.stage, rows, droppedRows, expectations: expectations?.results },
    });
  }
  const failed = expectations && failureMessage(expectations, where(input));
  if (failed) invalid(failed);
}

function collectOutputs(ref: ArtifactRef, rows: number, droppedRows: number, expectations: ExpectationSummary | undefined) {
  // rows dropped by onBadRows: drop are a result the user should see, not only in the artifact
  const outputs: Record<string, JsonValue> = { dataset: { ...ref }, rows, droppedRows };
  if (expectations) {
    const { passed, failed: f, results } = expectations;
    outputs.expectations = { passed, failed: f, results: results as unknown as JsonValue[] };
  }
  return outputs;
}

/**
 * A csv, ndjson, Parquet or Arrow source read as a stream (table-source.ts). At most `chunkRows`
 * rows: one in-memory dataset, stored as before. More: each chunk is stored as it comes, its
 * statistics and expectation states merged, then the manifest (writeChunks); a bad row, a failed
 * expectation or a wrong sha256 found late removes the chunks already stored.
 */
async function collectStreamed(
  cfg: CollectConfig,
  input: StageActivityInput,
  env: StageEnv,
  onPhase: (message: string) => void,
): Promise<StageResult> {
  const src = cfg.source as CsvSource | JsonSource | ColumnarSource;
  const at = where(input);
  const file = src.path ?? src.url ?? '?';
  const chunkRows = cfg.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const format = src.type as StreamRequest['format'];
  const csv = src.type === 'csv' ? { header: src.header, delimiter: src.delimiter } : undefined;
  onPhase(`parsing ${file}`);
  const chunks = streamTable(
    src,
    sourceBaseDir(input.location, at),
    { format, csv, schema: cfg.schema, onBadRows: cfg.onBadRows ?? 'fail', where: at, file, chunkRows },
    env.signal,
  );
  let droppedRows = 0;
  let rows = 0;
  const next = async (): Promise<Dataset | undefined> => {
    for (let r = await chunks.next(); !r.done; r = await chunks.next()) {
      droppedRows += r.value.dropped;
      if (r.value.dataset) {
        rows += r.value.dataset.rows;
        return r.value.dataset;
      }
    }
    return undefined;
  };
  try {
    let first = await next();
    if (!first) throw new DataError(`${at}: ${file} has no usable rows`);
    let second = await next();
    if (!second) {
      first.stats = computeStats(first, droppedRows);
      return await storeWhole(first, cfg, input, env, onPhase);
    }
    const stats = new StatsAccumulator();
    const refInput = input.inputs.reference;
    const reference = cfg.expect?.length && refInput ? await readDataset(env.store, refInput) : undefined;
    const checks = cfg.expect?.length ? new ChunkedExpectations(cfg.expect, reference, at, (c) => stats.sample(c)) : undefined;
    let stored = 0;
    // held only until stored: this frame stays alive to the end, and must not pin two chunks
    const pending: Dataset[] = [first, second];
    first = second = undefined;
    async function* all(): AsyncGenerator<Dataset> {
      for (let d = pending.shift() ?? (await next()); d; d = pending.shift() ?? (await next())) {
        stats.add(d);
        checks?.add(d);
        yield d;
        stored++;
        onPhase(`parsing ${file}: ${stored} chunks stored (${rows} rows so far)`);
      }
    }
    let expectations: ExpectationSummary | undefined;
    const ref = await writeChunks(
      env.store,
      all(),
      async () => {
        expectations = checks?.summary();
        await reportAndCheck(input, env, rows, droppedRows, expectations);
        return { stats: stats.result(droppedRows), label: cfg.schema?.label };
      },
      input,
      env,
    );
    return { outputs: collectOutputs(ref, rows, droppedRows, expectations) };
  } finally {
    await chunks.return(undefined);
  }
}

/**
 * An image folder (on disk or under an s3:// prefix): one in-memory dataset when its images fit in
 * a chunk (about 64 MiB of pixels, at most `chunkRows`), else chunks decoded one at a time in a
 * seeded order that interleaves the classes, with merged statistics and expectations.
 */
async function collectImages(
  src: ImageFolderSource,
  cfg: CollectConfig,
  input: StageActivityInput,
  env: StageEnv,
  onPhase: (message: string) => void,
): Promise<StageResult> {
  const at = where(input);
  onPhase(`listing ${src.path ?? src.url}`);
  const listing = await listImageFolder(src, sourceBaseDir(input.location, at), at);
  try {
    const rows = imageChunkRows(src, cfg.chunkRows ?? DEFAULT_CHUNK_ROWS, at);
    if (listing.files.length <= rows) {
      const ds = await loadImageFolder(src, undefined, at, { signal: env.signal, onPhase, listing });
      ds.stats = computeStats(ds);
      return await storeWhole(ds, cfg, input, env, onPhase);
    }
    const stats = new StatsAccumulator();
    const refInput = input.inputs.reference;
    const reference = cfg.expect?.length && refInput ? await readDataset(env.store, refInput) : undefined;
    const checks = cfg.expect?.length ? new ChunkedExpectations(cfg.expect, reference, at, (c) => stats.sample(c)) : undefined;
    async function* all(): AsyncGenerator<Dataset> {
      for await (const d of imageFolderChunks(src, listing, rows, at, { signal: env.signal, onPhase })) {
        stats.add(d);
        checks?.add(d);
        yield d;
      }
    }
    let expectations: ExpectationSummary | undefined;
    const total = listing.files.length;
    const ref = await writeChunks(
      env.store,
      all(),
      async () => {
        expectations = checks?.summary();
        await reportAndCheck(input, env, total, 0, expectations);
        return { stats: stats.result(0), label: 'label', classes: listing.classes };
      },
      input,
      env,
    );
    return { outputs: collectOutputs(ref, total, 0, expectations) };
  } finally {
    listing.close();
  }
}

export async function collect(input: StageActivityInput): Promise<StageResult> {
  return collectCore(input, stageEnv());
}

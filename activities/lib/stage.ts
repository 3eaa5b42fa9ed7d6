// Shared plumbing of the data/training activities: the StageEnv they run in (built from the
// Temporal context of src/temporal/progress.ts when there is one; a direct call outside a worker
// works too), the artifact store, lineage records and error mapping.
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactKind, ArtifactRef, StageActivityInput, StageKind } from '../../src/core/plan.ts';
import type { StageConfig } from '../../src/spec/stages/descriptor.ts';
import { defaultStore, PathEscapeError, StoreFullError, type ArtifactStore, type Lineage } from '../../src/artifacts/index.ts';
import { decodeDataset, encodeDataset, SPLITS, type Dataset, type SplitName } from '../../src/ml/data/dataset.ts';
import { DataError } from '../../src/ml/data/sources.ts';
import {
  type ChunkedDataset,
  type ColumnSchema,
  columnSchema,
  type DatasetInfo,
  decodeManifest,
  encodeManifest,
  gatherChunks,
  inMemoryChunks,
} from '../../src/ml/data/chunked.ts';
import { activityContext, type HeartbeatDetails } from '../../src/temporal/progress.ts';

/** Options every stage core accepts so that it runs (and is tested) without Temporal. */
export interface StageEnv {
  store: ArtifactStore;
  attempt: number;
  /** Sends a heartbeat; every mlpipe activity sends the one shape `{ progress, checkpoint? }`. */
  heartbeat: (details: HeartbeatDetails<unknown>) => void;
  heartbeatDetails: unknown;
  signal?: AbortSignal;
  /** Write this stage's section of the run report (optimize's trials do not). Default true. */
  report?: boolean;
}

export function stageEnv(overrides: Partial<StageEnv> = {}): StageEnv {
  const ctx = activityContext();
  return {
    store: overrides.store ?? defaultStore(),
    attempt: overrides.attempt ?? ctx?.info.attempt ?? 1,
    heartbeat: overrides.heartbeat ?? ((d) => ctx?.heartbeat(d)),
    heartbeatDetails: 'heartbeatDetails' in overrides ? overrides.heartbeatDetails : ctx?.info.heartbeatDetails,
    signal: overrides.signal ?? ctx?.cancellationSignal,
  };
}

export function lineage(input: StageActivityInput, env: StageEnv, name?: string): Lineage {
  const inputs: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.inputs)) inputs[k] = v.digest;
  return {
    workflowId: input.run.workflowId,
    runId: input.run.runId,
    pipeline: input.run.pipeline,
    stage: input.stage,
    attempt: env.attempt,
    planHash: input.run.planHash,
    gitSha: input.run.gitSha,
    inputs,
    name,
  };
}

/**
 * The stage's config, typed by its kind's schema: validate held it to the schema, and the
 * workflow and worker only replaced `${…}` inside it since. (`kind` names the schema: an
 * optimize trial runs train's.)
 */
export function stageConfig<K extends StageKind>(input: StageActivityInput, _kind: K): StageConfig<K> {
  return input.config as unknown as StageConfig<K>;
}

export function where(input: StageActivityInput): string {
  return `${input.kind} stage ${JSON.stringify(input.stage)}`;
}

/** Bad input becomes a non-retryable `InvalidInput` failure; everything else is rethrown. */
export function mapError(e: unknown): never {
  if (e instanceof DataError || e instanceof PathEscapeError) {
    throw ApplicationFailure.nonRetryable(e.message, 'InvalidInput');
  }
  throw e;
}

/** First pause before retrying a stage that ran out of disk, doubling per attempt up to 10 minutes. */
export const NO_SPACE_RETRY_MS = 30_000;

/**
 * A full disk needs an operator to make room, which the stage's usual backoff (about a second)
 * never gives: such a failure becomes `NoSpace`, retried after a longer pause (the retry policy's
 * attempt limit still holds). Other errors pass through.
 */
export function noSpaceFailure(err: unknown, attempt: number): unknown {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof StoreFullError || code === 'ENOSPC' || code === 'EDQUOT') {
      const delayMs = Math.min(NO_SPACE_RETRY_MS * 2 ** Math.max(0, attempt - 1), 10 * 60_000);
      return ApplicationFailure.create({
        message: `${e.message} (attempt ${attempt}; the next one in ${delayMs / 1000} s)`,
        type: 'NoSpace',
        nextRetryDelay: delayMs,
      });
    }
  }
  return err;
}

export function invalid(message: string): never {
  throw ApplicationFailure.nonRetryable(message, 'InvalidInput');
}

export function requireInput(input: StageActivityInput, name: string, kind: ArtifactKind): ArtifactRef {
  const ref = input.inputs[name];
  if (!ref) invalid(`${where(input)}: needs an input \`${name}\` (a ${kind} artifact); add a stage that produces one to \`needs\``);
  if (ref.kind !== kind) invalid(`${where(input)}: input \`${name}\` is a ${ref.kind} artifact, not a ${kind}`);
  return ref;
}

/**
 * A dataset artifact as chunks read on demand (src/ml/data/chunked.ts): a chunked dataset's
 * manifest, or a v1 dataset as its one chunk.
 */
export async function openDataset(store: ArtifactStore, ref: ArtifactRef): Promise<ChunkedDataset> {
  const buf = await store.get(ref);
  const m = decodeManifest(buf);
  if (!m) return inMemoryChunks(decodeDataset(buf));
  const { format: _format, chunks, ...info } = m;
  return {
    ...info,
    chunkRows: chunks.map((c) => c.rows),
    chunk: async (i) => {
      const c = chunks[i];
      if (!c) throw new RangeError(`chunk ${i} of ${chunks.length}`);
      return decodeDataset(await store.get(c.ref));
    },
  };
}

/**
 * Store a dataset that arrives a chunk at a time: each chunk its own v1 artifact, then the
 * manifest (the returned ref). A dataset of one chunk is stored as a v1 artifact, exactly as
 * writeDataset would. `finish` gives what is known only after the last chunk (statistics, classes).
 * Chunks must share one schema (a column is nullable in the manifest when it is in any chunk);
 * each chunk's `splits` index its own rows. When reading the chunks or `finish` throws (bad data
 * in a late chunk, a failed expectation), the chunks stored so far are removed: no partial dataset.
 */
export async function writeChunks(
  store: ArtifactStore,
  chunks: AsyncIterable<Dataset>,
  finish: () => Pick<DatasetInfo, 'stats' | 'classes' | 'label'> | Promise<Pick<DatasetInfo, 'stats' | 'classes' | 'label'>>,
  input: StageActivityInput,
  env: StageEnv,
): Promise<ArtifactRef> {
  const written: { ref: ArtifactRef; rows: number }[] = [];
  try {
    return await writeChunksOnce(store, chunks, finish, input, env, written);
  } catch (e) {
    // a chunk whose bytes another stage or attempt also stored is theirs too: kept (dropChunks)
    await dropChunks(
      store,
      written.map((w) => w.ref),
      input,
      env,
    ).catch(() => undefined);
    throw e;
  }
}

async function writeChunksOnce(
  store: ArtifactStore,
  chunks: AsyncIterable<Dataset>,
  finish: () => Pick<DatasetInfo, 'stats' | 'classes' | 'label'> | Promise<Pick<DatasetInfo, 'stats' | 'classes' | 'label'>>,
  input: StageActivityInput,
  env: StageEnv,
  written: { ref: ArtifactRef; rows: number }[],
): Promise<ArtifactRef> {
  const splitRows: Partial<Record<SplitName, number>> = {};
  let first: Dataset | undefined;
  let hasSplits = false;
  let schema: ColumnSchema[] = [];
  const put = async (c: Dataset, i: number) => {
    const ref = await store.put(encodeDataset({ ...c, stats: undefined }), { kind: 'dataset', lineage: lineage(input, env, `chunk ${i}`) });
    written.push({ ref, rows: c.rows });
  };
  let n = 0;
  for await (const c of chunks) {
    if (c.splits) hasSplits = true;
    for (const s of SPLITS) if (c.splits?.[s]) splitRows[s] = (splitRows[s] ?? 0) + c.splits[s]!.length;
    if (n === 0) {
      first = c;
      schema = c.columns.map(columnSchema);
    } else {
      c.columns.forEach((col, j) => {
        if (col.nullable && schema[j] && !schema[j].nullable) schema[j] = { ...schema[j], nullable: true };
      });
      if (n === 1) await put(first!, 0);
      await put(c, n);
      first = undefined;
    }
    n++;
  }
  const end = await finish();
  if (n <= 1) {
    const only: Dataset = first ?? { rows: 0, columns: [] };
    return writeDataset(store, { ...only, ...end }, input, env);
  }
  const manifest = encodeManifest({
    rows: written.reduce((a, c) => a + c.rows, 0),
    columns: schema,
    ...end,
    splitRows: hasSplits ? splitRows : undefined,
    chunks: written,
  });
  return store.put(manifest, { kind: 'dataset', lineage: lineage(input, env) });
}

/**
 * Forget chunks this attempt wrote, unless a record of another stage or attempt of the run holds
 * the same bytes (artifacts are stored by content, and removal goes by digest).
 */
async function dropChunks(store: ArtifactStore, refs: ArtifactRef[], input: StageActivityInput, env: StageEnv): Promise<void> {
  if (!store.remove || refs.length === 0) return;
  const records = await store.list(input.run.workflowId);
  const mine = (l: Lineage) => l.stage === input.stage && l.attempt === env.attempt;
  for (const ref of refs) {
    if (records.some((r) => r.ref.digest === ref.digest && !mine(r.lineage))) continue;
    await store.remove(ref, input.run.workflowId);
  }
}

/** A whole dataset artifact in memory (a chunked one gathered: only for data that fits). */
export async function readDataset(store: ArtifactStore, ref: ArtifactRef): Promise<Dataset> {
  return gatherChunks(await openDataset(store, ref));
}

export async function writeDataset(store: ArtifactStore, ds: Dataset, input: StageActivityInput, env: StageEnv): Promise<ArtifactRef> {
  return store.put(encodeDataset(ds), { kind: 'dataset', lineage: lineage(input, env) });
}

/**
 * Heartbeat every `everyMs` while `fn` runs, so a stage with a heartbeatTimeout (and a
 * cancellation to deliver) does not look dead during a long download or parse. Beats are
 * cheap: the SDK throttles what reaches the server (the worker's heartbeatThrottle), so the
 * server sees the latest progress as often as the throttle allows.
 */
export async function withHeartbeats<T>(
  env: StageEnv,
  details: HeartbeatDetails<unknown>,
  fn: () => Promise<T>,
  everyMs = 1_000,
): Promise<T> {
  env.heartbeat(details);
  const t = setInterval(() => env.heartbeat(details), everyMs);
  try {
    return await fn();
  } finally {
    clearInterval(t);
  }
}

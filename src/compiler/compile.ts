/**
 * Spec → plan. Pure: the same valid spec, params and base directory give a byte-identical plan.
 */
import type { ActivityOptionsPlan, JsonObject, Plan, PlanNode, SchedulePlan, SpecLocation, StageKind } from '../core/plan.ts';
import { canonical } from '../core/canonical.ts';
import { sha256Hex } from '../hash.ts';
import { levels, type Needs } from '../spec/dag.ts';
import { parseDuration } from '../core/duration.ts';
import { bindInputs, stageNeeds } from '../spec/semantic.ts';
import { COMMON_FIELDS, DEFAULT_HEARTBEAT, defaultStartToClose, isArtifactType, stageOutputs } from '../spec/stage-kinds.ts';
import type { Cache, Pipeline, Stage } from '../spec/types.gen.ts';
import type { ValidSpec } from '../spec/validate.ts';

export const DEFAULT_TASK_QUEUE = 'mlpipe';
export const DEFAULT_GPU_TASK_QUEUE = 'mlpipe-gpu';
/** Error types no retry can fix; every stage gets them on top of its own list. */
export const ALWAYS_NON_RETRYABLE = ['InvalidInput'];

export interface CompileOptions {
  /** Directory of the pipeline file: collect stages read relative paths from here, never above. */
  baseDir: string;
  /**
   * The same directory relative to its git work tree's top ('' or 'a/b'): a worker started with
   * `--repo-root` (its own checkout) resolves collect paths there instead of `baseDir`.
   */
  repoDir?: string;
}

function cacheOf(c: Cache | undefined): { enabled: boolean; ttlMs?: number } | undefined {
  if (c === undefined) return undefined;
  if (typeof c === 'boolean') return { enabled: c };
  return { enabled: c.enabled ?? true, ...(c.ttl ? { ttlMs: parseDuration(c.ttl) } : {}) };
}

/**
 * A collect stage reading a file or URL whose content can change under the same config: the
 * step cache (keyed by config) would serve yesterday's data, so it runs every time unless its
 * content is pinned by `sha256` or the stage sets `cache` itself. Its dataset is
 * content-addressed, so unchanged data still makes every downstream stage a cache hit.
 * (Built-in sources, mnist and seeded synthetic data, are what their config says.)
 */
function readsChangingData(kind: StageKind, s: Stage): boolean {
  if (kind !== 'collect') return false;
  const src = (s as { source?: { type?: string; sha256?: string } }).source;
  return (src?.type === 'csv' || src?.type === 'json' || src?.type === 'ndjson') && !src.sha256;
}

function activityOptions(p: Pipeline, kind: StageKind, s: Stage): ActivityOptionsPlan {
  const d = p.defaults ?? {};
  const retry = { ...d.retry, ...s.retry };
  const scheduleToClose = s.timeouts?.scheduleToClose ?? d.timeouts?.scheduleToClose;
  const heartbeat = s.heartbeatTimeout ?? d.heartbeatTimeout ?? DEFAULT_HEARTBEAT;
  const gpu = (s.resources?.gpu ?? 0) > 0;
  return {
    taskQueue: s.taskQueue ?? (gpu ? d.gpuTaskQueue ?? DEFAULT_GPU_TASK_QUEUE : d.taskQueue ?? DEFAULT_TASK_QUEUE),
    startToCloseTimeoutMs: parseDuration(s.timeouts?.startToClose ?? d.timeouts?.startToClose ?? defaultStartToClose(kind)),
    ...(scheduleToClose ? { scheduleToCloseTimeoutMs: parseDuration(scheduleToClose) } : {}),
    heartbeatTimeoutMs: parseDuration(heartbeat),
    retry: {
      maximumAttempts: retry.maxAttempts ?? 3,
      initialIntervalMs: parseDuration(retry.initialInterval ?? '1s'),
      backoffCoefficient: retry.backoff ?? 2,
      maximumIntervalMs: parseDuration(retry.maxInterval ?? '1m'),
      nonRetryableErrorTypes: [...new Set([...ALWAYS_NON_RETRYABLE, ...(d.retry?.nonRetryable ?? []), ...(s.retry?.nonRetryable ?? [])])].sort(),
    },
  };
}

/** A stage's kind-specific fields: the ones every kind shares (needs, when, retry…) left out. */
function ownFields(s: Stage): JsonObject {
  return Object.fromEntries(Object.entries(s).filter(([k]) => !COMMON_FIELDS.has(k))) as JsonObject;
}

function nodeOf(p: Pipeline, needs: Needs, name: string, opts: CompileOptions): PlanNode {
  const s = p.stages[name]!;
  const kind = s.type as StageKind;
  const config = ownFields(s);
  // where a worker with its own checkout (`mlpipe worker --repo-root`) finds the same files
  const location: SpecLocation | undefined =
    kind === 'collect' ? { baseDir: opts.baseDir, ...(opts.repoDir !== undefined ? { repoDir: opts.repoDir } : {}) } : undefined;
  // Trials train the tuned stage's model with overrides: they need its whole config.
  const tunedConfig = kind === 'optimize' ? ownFields(p.stages[(s as { tunes: string }).tunes]!) : undefined;
  const outputs = stageOutputs(kind, s as unknown as Record<string, unknown>);
  const inputs = Object.fromEntries(
    Object.entries(bindInputs(p, needs, name)).map(([input, b]) => {
      const t = stageOutputs(p.stages[b.stage]!.type as StageKind, p.stages[b.stage] as unknown as Record<string, unknown>)[b.output]!;
      if (!isArtifactType(t)) throw new Error(`internal: input ${input} of ${name} bound to non-artifact ${b.stage}.${b.output}`);
      return [input, { stage: b.stage, output: b.output, kind: t }];
    }),
  );
  const cache = cacheOf(s.cache) ?? (readsChangingData(kind, s) ? { enabled: false } : undefined) ?? cacheOf(p.defaults?.cache) ?? { enabled: true };
  return {
    id: name,
    kind,
    ...(s.description ? { description: s.description } : {}),
    needs: [...(s.needs ?? [])].sort(),
    ...(s.when ? { when: s.when } : {}),
    config,
    ...(location ? { location } : {}),
    ...(tunedConfig ? { tunedConfig } : {}),
    inputs,
    outputs,
    activity: activityOptions(p, kind, s),
    cache,
    onFailure: s.onFailure ?? p.defaults?.onFailure ?? 'fail',
    approval: s.approval ?? false,
    resources: { ...s.resources },
  };
}

function schedulePlan(p: Pipeline): SchedulePlan | undefined {
  const s = p.schedule;
  if (!s) return undefined;
  const every = s.every === undefined ? [] : Array.isArray(s.every) ? s.every : [s.every];
  return {
    cron: s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron],
    intervals: every.map((e) =>
      typeof e === 'string' ? { everyMs: parseDuration(e) } : { everyMs: parseDuration(e.every), ...(e.offset ? { offsetMs: parseDuration(e.offset) } : {}) },
    ),
    ...(s.timezone ? { timezone: s.timezone } : {}),
    ...(s.jitter ? { jitterMs: parseDuration(s.jitter) } : {}),
    overlap: s.overlap ?? 'skip',
    catchupWindowMs: parseDuration(s.catchupWindow ?? '1h'),
    pauseOnFailure: s.pauseOnFailure ?? false,
    paused: s.paused ?? false,
    ...(s.note ? { note: s.note } : {}),
    params: { ...s.params },
  };
}

export function compile(valid: ValidSpec, opts: CompileOptions): Plan {
  const p = valid.pipeline;
  const needs: Needs = stageNeeds(p);
  const lv = levels(needs);
  const order = lv.flat();
  const body: Omit<Plan, 'hash'> = {
    apiVersion: 'mlpipe.dev/plan/v1',
    pipeline: p.metadata.name,
    ...(p.metadata.description ? { description: p.metadata.description } : {}),
    labels: { ...p.metadata.labels },
    params: valid.params,
    paramTypes: valid.paramTypes,
    nodes: order.map((n) => nodeOf(p, needs, n, opts)),
    levels: lv,
    ...(p.schedule ? { schedule: schedulePlan(p) } : {}),
  };
  // Sorted keys and no undefined members: the plan's JSON text, which the hash covers, is the
  // same for equal specs and params.
  const normal = canonical(body);
  return { ...normal, hash: sha256Hex(JSON.stringify(normal)) };
}

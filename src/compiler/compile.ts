/**
 * Spec → plan. Pure: the same valid spec, params and base directory give a byte-identical plan.
 */
import type { ActivityOptionsPlan, Plan, PlanNode, SchedulePlan } from '../core/plan.ts';
import { canonical } from '../core/canonical.ts';
import { sha256Hex } from '../hash.ts';
import { levels, type Needs } from '../spec/dag.ts';
import { parseDuration } from '../core/duration.ts';
import { bindInputs, stageNeeds } from '../spec/semantic.ts';
import { DEFAULT_HEARTBEAT, isArtifactType, ownFields } from '../spec/stage-common.ts';
import { descriptorOf, stageOutputs } from '../spec/stages/index.ts';
import { forEachOf } from '../spec/for-each.ts';
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

function activityOptions(p: Pipeline, s: Stage): ActivityOptionsPlan {
  const d = p.defaults ?? {};
  const retry = { ...d.retry, ...s.retry };
  const scheduleToClose = s.timeouts?.scheduleToClose ?? d.timeouts?.scheduleToClose;
  const heartbeat = s.heartbeatTimeout ?? d.heartbeatTimeout ?? DEFAULT_HEARTBEAT;
  const gpu = (s.resources?.gpu ?? 0) > 0;
  return {
    taskQueue: s.taskQueue ?? (gpu ? (d.gpuTaskQueue ?? DEFAULT_GPU_TASK_QUEUE) : (d.taskQueue ?? DEFAULT_TASK_QUEUE)),
    startToCloseTimeoutMs: parseDuration(s.timeouts?.startToClose ?? d.timeouts?.startToClose ?? descriptorOf(s).defaultStartToClose),
    ...(scheduleToClose ? { scheduleToCloseTimeoutMs: parseDuration(scheduleToClose) } : {}),
    heartbeatTimeoutMs: parseDuration(heartbeat),
    retry: {
      maximumAttempts: retry.maxAttempts ?? 3,
      initialIntervalMs: parseDuration(retry.initialInterval ?? '1s'),
      backoffCoefficient: retry.backoff ?? 2,
      maximumIntervalMs: parseDuration(retry.maxInterval ?? '1m'),
      nonRetryableErrorTypes: [
        ...new Set([...ALWAYS_NON_RETRYABLE, ...(d.retry?.nonRetryable ?? []), ...(s.retry?.nonRetryable ?? [])]),
      ].sort(),
    },
  };
}

function nodeOf(p: Pipeline, needs: Needs, name: string, opts: CompileOptions): PlanNode {
  const s = p.stages[name]!;
  const kind = s.type;
  const desc = descriptorOf(s);
  const config = ownFields(s);
  // facts only the compiler knows, beside the config (collect's location, optimize's tunedConfig)
  const beside = desc.compile?.(s, { pipeline: p, ...opts }) ?? {};
  const outputs = stageOutputs(s);
  const inputs = Object.fromEntries(
    Object.entries(bindInputs(p, needs, name)).map(([input, b]) => {
      const t = stageOutputs(p.stages[b.stage]!)[b.output]!;
      if (!isArtifactType(t)) throw new Error(`internal: input ${input} of ${name} bound to non-artifact ${b.stage}.${b.output}`);
      return [input, { stage: b.stage, output: b.output, kind: t }];
    }),
  );
  // A kind whose purpose is a side effect always runs (validate refuses `cache` on it); the
  // workflow needs no rule of its own: it looks up only nodes whose cache is enabled.
  const forEach = forEachOf(s);
  const cache = !desc.cacheable
    ? { enabled: false }
    : (cacheOf(s.cache) ??
      (desc.cacheOffByDefault?.(s) ? { enabled: false } : undefined) ??
      cacheOf(p.defaults?.cache) ?? { enabled: true });
  return {
    id: name,
    kind,
    ...(s.description ? { description: s.description } : {}),
    needs: [...(s.needs ?? [])].sort(),
    ...(s.when ? { when: s.when } : {}),
    config,
    ...beside,
    inputs,
    outputs,
    activity: activityOptions(p, s),
    cache,
    onFailure: s.onFailure ?? p.defaults?.onFailure ?? 'fail',
    approval: s.approval ?? false,
    resources: { ...s.resources },
    // only forEach stages carry it: plans of other stages stay byte-identical
    ...(forEach ? { forEach } : {}),
  };
}

function schedulePlan(p: Pipeline): SchedulePlan | undefined {
  const s = p.schedule;
  if (!s) return undefined;
  const every = s.every === undefined ? [] : Array.isArray(s.every) ? s.every : [s.every];
  return {
    cron: s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron],
    intervals: every.map((e) =>
      typeof e === 'string'
        ? { everyMs: parseDuration(e) }
        : { everyMs: parseDuration(e.every), ...(e.offset ? { offsetMs: parseDuration(e.offset) } : {}) },
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

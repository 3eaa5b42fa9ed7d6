/**
 * Client-side run helpers shared by the CLI, tests and the bench: start a plan as a workflow
 * with mlpipe's ids, summary and search attributes; read a run's status with live progress.
 */
import { randomBytes } from 'node:crypto';
import { ServiceError, WorkflowNotFoundError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Plan } from '../core/plan.ts';
import {
  DEFAULT_TASK_QUEUE,
  PIPELINE_WORKFLOW_TYPE,
  SA_GIT_SHA,
  SA_PIPELINE,
  SA_PLAN_HASH,
  SA_TRIGGER,
  statusQuery,
  type PipelineInput,
  type RunStatus,
  type Trigger,
} from '../../workflows/api.ts';
import type { pipeline } from '../../workflows/pipeline.ts';
import type { HeartbeatDetails, Progress } from './progress.ts';

export interface SourceInfo {
  file?: string;
  gitSha?: string;
  gitDirty?: boolean;
  gitBranch?: string;
  gitRemote?: string;
}

export interface StartRunOptions {
  plan: Plan;
  source?: SourceInfo;
  runKey?: string;
  trigger?: Trigger;
  noCache?: boolean;
  reuse?: PipelineInput['reuse'];
  reuseItems?: PipelineInput['reuseItems'];
  rerunOf?: string;
  taskQueue?: string;
  continueAsNewAfterEvents?: number;
}

/** A sortable, readable run key: 20260128-145502-3fa9. */
export function newRunKey(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const d = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const t = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${d}-${t}-${randomBytes(2).toString('hex')}`;
}

export function workflowIdFor(pipelineName: string, runKey: string): string {
  return `${pipelineName}/${runKey}`;
}

/**
 * What a run shows in the Temporal UI and what its list can be filtered by: a one-line
 * summary, Markdown details, mlpipe's search attributes and a memo with the spec's git origin.
 * Manual runs (startRun) and scheduled ones (src/schedules) both use it; `extra` adds lines to
 * the details and keys to the memo.
 */
export function runMetadata(
  plan: Plan,
  source: SourceInfo | undefined,
  trigger: Trigger,
  extra: { detailLines?: string[]; memo?: Record<string, unknown> } = {},
) {
  const sha = source?.gitSha;
  const details = [`**pipeline** ${plan.pipeline}`];
  if (plan.description) details.push('', plan.description, '');
  details.push(`**plan hash** \`${plan.hash}\``);
  if (source?.file) details.push(`**spec** ${source.file}`);
  if (sha) {
    details.push(
      `**git** ${sha}${source.gitDirty ? ' (dirty tree)' : ''}` +
        `${source.gitBranch ? ` on ${source.gitBranch}` : ''}` +
        `${source.gitRemote ? ` from ${source.gitRemote}` : ''}`,
    );
  }
  details.push(...(extra.detailLines ?? []));
  const params = Object.entries(plan.params);
  if (params.length) {
    details.push('', '**params**');
    for (const [k, v] of params) details.push(`- ${k} = ${JSON.stringify(v)}`);
  }
  details.push('', `**stages** ${plan.nodes.map((n) => `${n.id} (${n.kind})`).join(', ')}`);
  return {
    staticSummary:
      `${plan.pipeline}: ${plan.nodes.length} ` +
      `stages, ${trigger}${sha ? `, ${sha.slice(0, 10)}${source.gitDirty ? '+dirty' : ''}` : ''}`,
    staticDetails: details.join('\n'),
    typedSearchAttributes: [
      { key: SA_PIPELINE, value: plan.pipeline },
      { key: SA_PLAN_HASH, value: plan.hash },
      { key: SA_TRIGGER, value: trigger },
      ...(sha ? [{ key: SA_GIT_SHA, value: sha + (source.gitDirty ? '-dirty' : '') }] : []),
    ],
    memo: {
      pipeline: plan.pipeline,
      ...(source?.file ? { spec: source.file } : {}),
      ...(sha
        ? {
            git: {
              commit: sha,
              ...(source.gitDirty ? { dirty: true } : {}),
              ...(source.gitBranch ? { branch: source.gitBranch } : {}),
              ...(source.gitRemote ? { remote: source.gitRemote } : {}),
            },
          }
        : {}),
      ...extra.memo,
    },
  };
}

export async function startRun(client: Client, o: StartRunOptions): Promise<WorkflowHandleWithFirstExecutionRunId<typeof pipeline>> {
  const runKey = o.runKey ?? newRunKey();
  const trigger = o.trigger ?? 'manual';
  const input: PipelineInput = {
    plan: o.plan,
    trigger,
    ...(o.noCache ? { noCache: true } : {}),
    ...(o.source?.gitSha ? { gitSha: o.source.gitSha } : {}),
    ...(o.reuse ? { reuse: o.reuse } : {}),
    ...(o.reuseItems ? { reuseItems: o.reuseItems } : {}),
    ...(o.rerunOf ? { rerunOf: o.rerunOf } : {}),
    ...(o.continueAsNewAfterEvents ? { continueAsNewAfterEvents: o.continueAsNewAfterEvents } : {}),
  };
  try {
    return await client.workflow.start<typeof pipeline>(PIPELINE_WORKFLOW_TYPE, {
      workflowId: workflowIdFor(o.plan.pipeline, runKey),
      taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
      args: [input],
      ...runMetadata(o.plan, o.source, trigger),
    });
  } catch (err) {
    throw withServerReason(err);
  }
}

/** The SDK says only "Failed to start Workflow"; the server's reason is in the gRPC cause. */
export function withServerReason(err: unknown): unknown {
  if (!(err instanceof ServiceError)) return err;
  const cause = err.cause as { details?: string; message?: string } | undefined;
  const reason = cause?.details || cause?.message;
  if (!reason || err.message.includes(reason)) return err;
  return new ServiceError(`${err.message}: ${reason}`, { cause: err.cause as Error });
}

export interface LiveStage {
  attempt?: number;
  progress?: Progress;
  lastFailure?: string;
}

export interface RunView {
  workflowId: string;
  runId: string;
  /** Temporal's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: string;
  startTime?: Date;
  closeTime?: Date;
  run?: RunStatus;
  /** From the server's pending activities, keyed by stage: attempts, heartbeat progress. */
  live: Record<string, LiveStage>;
  failure?: string;
}

/** A run's stages (query) merged with the server's view of running activities (describe). */
export async function describeRun(client: Client, workflowId: string): Promise<RunView> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await handle.describe();
  const view: RunView = {
    workflowId,
    runId: desc.runId,
    status: desc.status.name,
    startTime: desc.startTime,
    closeTime: desc.closeTime,
    live: {},
  };
  for (const pa of desc.raw.pendingActivities ?? []) {
    const stage = (pa.activityId ?? '').replace(/#\d+$/, '');
    const live: LiveStage = { attempt: pa.attempt ?? undefined };
    const payloads = pa.heartbeatDetails?.payloads;
    if (payloads?.length) {
      try {
        const d = client.options.loadedDataConverter.payloadConverter.fromPayload<unknown>(payloads[0]!);
        const p = progressFrom(d);
        if (p) live.progress = p;
      } catch {
        // not an mlpipe heartbeat: no progress to show
      }
    }
    if (pa.lastFailure?.message) live.lastFailure = pa.lastFailure.message;
    view.live[stage] = live;
  }
  try {
    view.run = await handle.query(statusQuery);
  } catch {
    // no worker to answer (or the run is too old): the server's view is all there is
  }
  if (view.status === 'FAILED' || view.status === 'TERMINATED' || view.status === 'TIMED_OUT') {
    try {
      await handle.result();
    } catch (err) {
      view.failure = failureMessage(err);
    }
  }
  return view;
}

const PROGRESS_KEYS = ['epoch', 'epochs', 'step', 'steps', 'batch', 'batches', 'loss', 'message'] as const;

/**
 * Progress from heartbeat details: `{ progress }`, the one shape mlpipe's activities send
 * (src/temporal/progress.ts). The flat shape (epoch/epochs/step/steps, and `loss` or
 * `metrics.loss`, at the top) is still read: train sent it before, so an attempt started by an
 * older worker (a run in flight across an upgrade) may still report it, and so may user
 * activities that heartbeat through Temporal's own API.
 */
export function progressFrom(details: unknown): Progress | undefined {
  if (!details || typeof details !== 'object') return undefined;
  const d = details as HeartbeatDetails & Record<string, unknown>;
  if (d.progress && typeof d.progress === 'object') return d.progress;
  const p: Progress = {};
  for (const k of PROGRESS_KEYS) if (typeof d[k] === 'number' || (k === 'message' && typeof d[k] === 'string')) p[k] = d[k] as never;
  const metrics = d.metrics as Record<string, unknown> | undefined;
  if (p.loss === undefined && typeof metrics?.loss === 'number') p.loss = metrics.loss;
  return Object.keys(p).length ? p : undefined;
}

export function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let msg = e?.message ?? String(err);
  // WorkflowFailedError → ApplicationFailure (ours names the stage): take the first informative one.
  while (e?.cause) {
    e = e.cause as typeof e;
    if (e?.message) {
      msg = e.message;
      break;
    }
  }
  return msg;
}

export { WorkflowNotFoundError };

/** The input a run was started with (its latest execution's, after any continue-as-new). */
export async function runInput(client: Client, workflowId: string): Promise<PipelineInput> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`run ${workflowId} has no input in its history`);
  return client.options.loadedDataConverter.payloadConverter.fromPayload<PipelineInput>(payload);
}

/** `from` and every stage downstream of it. */
export function downstreamOf(plan: Plan, from: string): Set<string> {
  const out = new Set([from]);
  for (const n of plan.nodes) if (n.needs.some((d) => out.has(d))) out.add(n.id); // topological order
  return out;
}

/**
 * A new run of the same plan that reuses the outputs of every stage the old run finished,
 * except `from` and its downstream stages, which run again. Those may resume from the old run's
 * checkpoints (train, when its config and inputs match); `noCache` starts them afresh.
 */
export async function rerunFrom(
  client: Client,
  workflowId: string,
  from: string,
  o: { runKey?: string; noCache?: boolean; taskQueue?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof pipeline>> {
  const input = await runInput(client, workflowId);
  const plan = input.plan;
  if (!plan.nodes.some((n) => n.id === from)) {
    throw new Error(`no stage "${from}" in ${plan.pipeline} (stages: ${plan.nodes.map((n) => n.id).join(', ')})`);
  }
  const handle = client.workflow.getHandle<typeof pipeline>(workflowId);
  let stages: RunStatus['stages'];
  try {
    stages = (await handle.query(statusQuery)).stages;
  } catch {
    stages = (await handle.result()).stages;
  }
  const taskQueue = o.taskQueue ?? (await handle.describe()).taskQueue; // where the old run ran
  const again = downstreamOf(plan, from);
  const reuse: NonNullable<PipelineInput['reuse']> = {};
  const reuseItems: NonNullable<PipelineInput['reuseItems']> = {};
  for (const [id, s] of Object.entries(stages)) {
    if (again.has(id) || s.status !== 'succeeded') continue;
    reuse[id] = s.outputs;
    if (s.items) reuseItems[id] = s.items; // a forEach stage: `stages.<id>.items` and item i's inputs downstream
  }
  return startRun(client, {
    plan,
    reuse,
    ...(Object.keys(reuseItems).length ? { reuseItems } : {}),
    taskQueue,
    ...(o.noCache ? {} : { rerunOf: workflowId }),
    ...(input.gitSha ? { source: { gitSha: input.gitSha } } : {}),
    ...(o.runKey ? { runKey: o.runKey } : {}),
    ...(o.noCache ? { noCache: true } : {}),
  });
}

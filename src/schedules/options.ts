/**
 * A pipeline's compiled `schedule:` (SchedulePlan) → the options of a Temporal Schedule whose
 * action starts the pipeline workflow with the compiled plan.
 *
 * Marking: every schedule mlpipe creates has the id `mlpipe:<pipeline>` and the memo
 * `{ managedBy: 'mlpipe', pipeline, scope }`; only schedules carrying that memo are ever updated
 * or deleted by `mlpipe apply`. The memo of a schedule cannot be changed after creation, so it
 * holds only what never changes; the plan itself travels in the action's arguments, and `apply`
 * compares plans by `stableHash` (see below).
 */
import type { ScheduleOptions, ScheduleOptionsStartWorkflowAction, ScheduleOverlapPolicy } from '@temporalio/client';
import { canonicalJson } from '../core/canonical.ts';
import { sha256Hex } from '../hash.ts';
import { portablePlan } from '../compiler/portable.ts';
import type { Plan, SchedulePlan } from '../core/plan.ts';
import { DEFAULT_TASK_QUEUE, PIPELINE_WORKFLOW_TYPE, SA_PIPELINE, type PipelineInput } from '../../workflows/api.ts';
import { runMetadata, type SourceInfo } from '../temporal/runs.ts';

export const SCHEDULE_ID_PREFIX = 'mlpipe:';
export const DEFAULT_SCOPE = 'default';

export function scheduleIdFor(pipeline: string): string {
  return `${SCHEDULE_ID_PREFIX}${pipeline}`;
}

/** `iris-mlp` or `mlpipe:iris-mlp` → `mlpipe:iris-mlp`. */
export function toScheduleId(nameOrId: string): string {
  return nameOrId.startsWith(SCHEDULE_ID_PREFIX) ? nameOrId : scheduleIdFor(nameOrId);
}

/** The schedule memo that marks a schedule as mlpipe's. */
export interface ManagedMemo {
  managedBy: 'mlpipe';
  pipeline: string;
  /** `mlpipe apply --scope`: apply only prunes schedules of its own scope. */
  scope: string;
}

export function managedMemo(memo: Record<string, unknown> | undefined): ManagedMemo | undefined {
  if (memo?.managedBy !== 'mlpipe' || typeof memo.pipeline !== 'string') return undefined;
  return { managedBy: 'mlpipe', pipeline: memo.pipeline, scope: typeof memo.scope === 'string' ? memo.scope : DEFAULT_SCOPE };
}

/** What `apply` compares: the portable plan (no machine paths) and the workflow task queue of the action. */
export function stableHash(plan: Plan, taskQueue: string): string {
  return sha256Hex(canonicalJson({ plan: portablePlan(plan), taskQueue }));
}

const OVERLAP: Record<SchedulePlan['overlap'], ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  bufferOne: 'BUFFER_ONE',
  bufferAll: 'BUFFER_ALL',
  cancelOther: 'CANCEL_OTHER',
  terminateOther: 'TERMINATE_OTHER',
  allowAll: 'ALLOW_ALL',
};

export function overlapPolicy(o: SchedulePlan['overlap']): ScheduleOverlapPolicy {
  return OVERLAP[o];
}

export interface ScheduleSource {
  plan: Plan;
  source?: SourceInfo;
  /** The spec file as given (relative to where apply ran), for people. */
  file?: string;
  /** Workflow task queue of scheduled runs (default `mlpipe`). */
  taskQueue?: string;
  scope?: string;
}

function describeSpec(s: SchedulePlan): string {
  const parts = [
    ...s.cron.map((c) => `cron "${c}"${s.timezone ? ` ${s.timezone}` : ''}`),
    ...s.intervals.map((i) => `every ${ms(i.everyMs)}${i.offsetMs ? ` offset ${ms(i.offsetMs)}` : ''}`),
  ];
  return parts.join(', ');
}

export function ms(n: number): string {
  if (n % 86_400_000 === 0) return `${n / 86_400_000}d`;
  if (n % 3_600_000 === 0) return `${n / 3_600_000}h`;
  if (n % 60_000 === 0) return `${n / 60_000}m`;
  if (n % 1000 === 0) return `${n / 1000}s`;
  return `${n}ms`;
}

/** One line describing when a schedule fires, e.g. `cron "0 3 * * *" Europe/Berlin, every 6h`. */
export function scheduleText(s: SchedulePlan): string {
  return describeSpec(s);
}

/** The Temporal Schedule for a compiled plan that has a `schedule:`. */
export function scheduleOptions(s: ScheduleSource): ScheduleOptions<ScheduleOptionsStartWorkflowAction<never>> {
  const { plan, source } = s;
  const sp = plan.schedule;
  if (!sp) throw new Error(`pipeline ${plan.pipeline} has no schedule`);
  const taskQueue = s.taskQueue ?? DEFAULT_TASK_QUEUE;
  const sha = source?.gitSha;
  const input: PipelineInput = { plan, trigger: 'schedule', ...(sha ? { gitSha: sha } : {}) };
  const metadata = runMetadata(plan, { ...source, file: s.file ?? source?.file ?? '' }, 'schedule', {
    detailLines: ['**trigger** schedule (made by mlpipe apply)', `**schedule** ${describeSpec(sp)}`],
    memo: { schedule: scheduleIdFor(plan.pipeline) },
  });
  const note =
    sp.note ?? `applied by mlpipe from ${s.file ?? plan.pipeline}${sha ? ` @ ${sha.slice(0, 10)}${source?.gitDirty ? '+dirty' : ''}` : ''}`;
  const memo: ManagedMemo = { managedBy: 'mlpipe', pipeline: plan.pipeline, scope: s.scope ?? DEFAULT_SCOPE };
  return {
    scheduleId: scheduleIdFor(plan.pipeline),
    spec: {
      ...(sp.cron.length ? { cronExpressions: sp.cron } : {}),
      ...(sp.intervals.length
        ? { intervals: sp.intervals.map((i) => ({ every: i.everyMs, ...(i.offsetMs ? { offset: i.offsetMs } : {}) })) }
        : {}),
      ...(sp.timezone ? { timezone: sp.timezone } : {}),
      ...(sp.jitterMs ? { jitter: sp.jitterMs } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: PIPELINE_WORKFLOW_TYPE,
      // Temporal appends the scheduled time: `<pipeline>/scheduled-2026-01-28T03:00:00Z`.
      workflowId: `${plan.pipeline}/scheduled`,
      taskQueue,
      args: [input] as never,
      ...metadata,
    },
    policies: {
      overlap: overlapPolicy(sp.overlap),
      // Always explicit: the SDK's and server's defaults are documented inconsistently.
      catchupWindow: sp.catchupWindowMs,
      pauseOnFailure: sp.pauseOnFailure,
    },
    memo: memo as unknown as Record<string, unknown>,
    typedSearchAttributes: [{ key: SA_PIPELINE, value: plan.pipeline }],
    state: { paused: sp.paused, note },
  };
}

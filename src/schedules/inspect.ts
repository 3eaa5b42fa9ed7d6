/** A schedule as `mlpipe schedules list/describe` shows it. */
import type { Client } from '@temporalio/client';
import type { PipelineInput } from '../../workflows/api.ts';
import { managedMemo, ms } from './options.ts';

export interface ScheduleView {
  scheduleId: string;
  managed: boolean;
  pipeline?: string;
  scope?: string;
  paused: boolean;
  note?: string;
  /** When it fires, in words. */
  when: string;
  timezone?: string;
  jitterMs?: number;
  overlap: string;
  catchupWindowMs: number;
  pauseOnFailure: boolean;
  workflowType: string;
  taskQueue: string;
  planHash?: string;
  git?: { commit?: string; branch?: string; remote?: string; dirty?: boolean };
  spec?: string;
  recentRuns: { scheduledAt: string; workflowId: string }[];
  runningRuns: string[];
  nextRuns: string[];
  actionsTaken: number;
}

export async function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleView> {
  const d = await client.schedule.getHandle(scheduleId).describe();
  const memo = managedMemo(d.memo);
  const input = d.action.args?.[0] as PipelineInput | undefined;
  const wfMemo = (d.action.memo ?? {}) as { spec?: string; git?: ScheduleView['git'] };
  const when = [
    ...(d.spec.calendars ?? []).map((c) => c.comment ?? 'calendar'),
    ...(d.spec.intervals ?? []).map((i) => `every ${ms(i.every)}${i.offset ? ` offset ${ms(i.offset)}` : ''}`),
  ];
  // The server turns cron expressions into calendar specs; the plan keeps the cron text.
  const cron = input?.plan?.schedule?.cron ?? [];
  const whenText = cron.length ? [...cron.map((c) => `cron "${c}"`), ...when.filter((w) => w.startsWith('every'))] : when;
  return {
    scheduleId,
    managed: !!memo,
    ...(memo ? { pipeline: memo.pipeline, scope: memo.scope } : {}),
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    when: whenText.join(', ') || '(no times)',
    ...(d.spec.timezone ? { timezone: d.spec.timezone } : {}),
    ...(d.spec.jitter ? { jitterMs: d.spec.jitter } : {}),
    overlap: String(d.policies.overlap ?? 'UNSPECIFIED'),
    catchupWindowMs: d.policies.catchupWindow,
    pauseOnFailure: d.policies.pauseOnFailure,
    workflowType: d.action.workflowType,
    taskQueue: d.action.taskQueue,
    ...(input?.plan?.hash ? { planHash: input.plan.hash } : {}),
    ...(wfMemo.git ? { git: wfMemo.git } : {}),
    ...(wfMemo.spec ? { spec: wfMemo.spec } : {}),
    recentRuns: d.info.recentActions.map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
    runningRuns: d.info.runningActions.map((a) => a.workflow.workflowId),
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    actionsTaken: d.info.numActionsTaken,
  };
}

export function describeText(v: ScheduleView): string {
  const lines = [
    `${v.scheduleId}${v.managed ? ` (mlpipe, pipeline ${v.pipeline}, scope ${v.scope})` : ' (not made by mlpipe)'}`,
    `  state:      ${v.paused ? 'paused' : 'active'}${v.note ? ` — ${v.note}` : ''}`,
    `  when:       ${v.when}${v.timezone ? ` (${v.timezone})` : ''}${v.jitterMs ? `, jitter ${ms(v.jitterMs)}` : ''}`,
    `  policies:   overlap ${v.overlap}, catch-up window ${ms(v.catchupWindowMs)}, pause on failure ${v.pauseOnFailure ? 'yes' : 'no'}`,
    `  runs:       ${v.workflowType} on task queue ${v.taskQueue}${v.planHash ? `, plan ${v.planHash.slice(0, 12)}` : ''}`,
  ];
  if (v.spec) lines.push(`  spec:       ${v.spec}`);
  if (v.git?.commit)
    lines.push(
      `  git:        ${v.git.commit}${v.git.dirty ? ' (dirty)' : ''}` +
        `${v.git.branch ? ` on ${v.git.branch}` : ''}${v.git.remote ? ` from ${v.git.remote}` : ''}`,
    );
  lines.push(`  taken:      ${v.actionsTaken} run(s)`);
  for (const r of v.recentRuns) lines.push(`    ${r.scheduledAt}  ${r.workflowId}`);
  if (v.runningRuns.length) lines.push(`  running:    ${v.runningRuns.join(', ')}`);
  lines.push(`  next:       ${v.nextRuns.slice(0, 3).join(', ') || '-'}`);
  return lines.join('\n') + '\n';
}

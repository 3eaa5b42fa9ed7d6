/** Plan → Temporal Schedule options, the portable hash and the plan diff (no server needed). */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compiler/compile.ts';
import { validateFile } from '../../src/spec/validate.ts';
import type { Plan } from '../../src/core/plan.ts';
import { planDiff } from '../../src/schedules/apply.ts';
import { managedMemo, overlapPolicy, scheduleOptions, stableHash, toScheduleId } from '../../src/schedules/options.ts';
import { SA_PIPELINE, SA_TRIGGER } from '../../workflows/api.ts';
import { ROOT } from '../support/schedules.ts';

async function plan(file: string, baseDir = '/srv/a', params: Record<string, string> = {}): Promise<Plan> {
  const r = await validateFile(join(ROOT, file), params);
  if (!r.valid) throw new Error(JSON.stringify(r.diagnostics));
  return compile(r.valid, { baseDir });
}

describe('schedule options', () => {
  it('maps every field of the lifecycle example onto the Temporal Schedule', async () => {
    const p = await plan('pipelines/lifecycle.yaml');
    const o = scheduleOptions({
      plan: p,
      file: 'pipelines/lifecycle.yaml',
      source: { file: '/x', gitSha: 'a'.repeat(40), gitBranch: 'main', gitRemote: 'https://git.example.com/r.git' },
      scope: 'team',
    });
    expect(o.scheduleId).toBe('mlpipe:churn-lifecycle');
    expect(o.spec).toEqual({ cronExpressions: ['0 3 * * *'], timezone: 'Europe/Berlin', jitter: 600_000 });
    expect(o.policies).toEqual({ overlap: 'SKIP', catchupWindow: 6 * 3_600_000, pauseOnFailure: true });
    expect(o.state).toEqual({ paused: false, note: `applied by mlpipe from pipelines/lifecycle.yaml @ ${'a'.repeat(10)}` });
    expect(o.memo).toEqual({ managedBy: 'mlpipe', pipeline: 'churn-lifecycle', scope: 'team' });
    expect(managedMemo(o.memo)).toEqual({ managedBy: 'mlpipe', pipeline: 'churn-lifecycle', scope: 'team' });
    const a = o.action;
    expect(a).toMatchObject({ workflowType: 'pipeline', workflowId: 'churn-lifecycle/scheduled', taskQueue: 'mlpipe' });
    expect(a.args).toEqual([{ plan: p, trigger: 'schedule', gitSha: 'a'.repeat(40) }]);
    expect(a.memo).toEqual({
      pipeline: 'churn-lifecycle',
      schedule: 'mlpipe:churn-lifecycle',
      spec: 'pipelines/lifecycle.yaml',
      git: { commit: 'a'.repeat(40), branch: 'main', remote: 'https://git.example.com/r.git' },
    });
    const sas = a.typedSearchAttributes as { key: { name: string }; value: unknown }[];
    expect(sas.find((s) => s.key.name === SA_TRIGGER.name)!.value).toBe('schedule');
    expect(sas.find((s) => s.key.name === SA_PIPELINE.name)!.value).toBe('churn-lifecycle');
  });

  it('intervals with offsets; every overlap policy has its Temporal name', () => {
    const base = {
      apiVersion: 'mlpipe.dev/plan/v1',
      pipeline: 'p',
      labels: {},
      params: {},
      paramTypes: {},
      nodes: [],
      levels: [],
      hash: 'h',
    } as Plan;
    const o = scheduleOptions({
      plan: {
        ...base,
        schedule: {
          cron: [],
          intervals: [{ everyMs: 86_400_000, offsetMs: 7_200_000 }, { everyMs: 2000 }],
          overlap: 'allowAll',
          catchupWindowMs: 60_000,
          pauseOnFailure: false,
          paused: true,
          note: 'n',
          params: {},
        },
      },
    });
    expect(o.spec).toEqual({ intervals: [{ every: 86_400_000, offset: 7_200_000 }, { every: 2000 }] });
    expect(o.state).toEqual({ paused: true, note: 'n' });
    expect(['skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther', 'allowAll'].map((x) => overlapPolicy(x as never))).toEqual([
      'SKIP',
      'BUFFER_ONE',
      'BUFFER_ALL',
      'CANCEL_OTHER',
      'TERMINATE_OTHER',
      'ALLOW_ALL',
    ]);
    expect(toScheduleId('p')).toBe('mlpipe:p');
    expect(toScheduleId('mlpipe:p')).toBe('mlpipe:p');
    expect(managedMemo({ pipeline: 'p' })).toBeUndefined();
  });

  it("the portable hash ignores where the spec was checked out; the compiler's hash does not", async () => {
    const here = await plan('pipelines/iris-mlp.yaml', '/home/me/repo/pipelines');
    const ci = await plan('pipelines/iris-mlp.yaml', '/home/runner/work/repo/pipelines');
    expect(here.hash).not.toBe(ci.hash);
    expect(stableHash(here, 'mlpipe')).toBe(stableHash(ci, 'mlpipe'));
    expect(stableHash(here, 'mlpipe')).not.toBe(stableHash(here, 'other-queue'));
    expect(planDiff(here, ci)).toEqual([]);
  });

  it('planDiff names what changed', async () => {
    const a = await plan('pipelines/iris-mlp.yaml');
    const b = await plan('pipelines/iris-mlp.yaml', '/srv/a', { epochs: '3' });
    expect(planDiff(a, b)).toEqual(expect.arrayContaining(['params']));
    const c: Plan = { ...a, nodes: a.nodes.slice(0, -1) };
    expect(planDiff(a, c)).toContain(`-stage ${a.nodes.at(-1)!.id}`);
    expect(planDiff(c, a)).toContain(`+stage ${a.nodes.at(-1)!.id}`);
  });
});

describe('--workers-root', () => {
  it('scheduled runs resolve collect paths where the workers see the specs, not where apply ran', async () => {
    const { loadDesired, baseDirFor } = await import('../../src/schedules/apply.ts');
    const file = join(ROOT, 'pipelines/lifecycle.yaml');
    expect(baseDirFor(file, {})).toBe(join(ROOT, 'pipelines'));
    expect(baseDirFor(file, { workersRoot: '/srv/mlpipe/pipelines', root: join(ROOT, 'pipelines') })).toBe('/srv/mlpipe/pipelines');
    expect(baseDirFor(file, { workersRoot: '/srv/repo', root: ROOT })).toBe('/srv/repo/pipelines');
    expect(() => baseDirFor(file, { workersRoot: '/srv', root: join(ROOT, 'test') })).toThrow(/not inside/);
    const here = await loadDesired([file]);
    const there = await loadDesired([file], { workersRoot: '/srv/mlpipe/pipelines', root: join(ROOT, 'pipelines') });
    const collect = (p: Plan) => p.nodes.find((n) => n.kind === 'collect')!.location?.baseDir;
    expect(collect(here.desired[0]!.plan)).toBe(join(ROOT, 'pipelines'));
    expect(collect(there.desired[0]!.plan)).toBe('/srv/mlpipe/pipelines');
    // Same pipeline, same portable hash: moving where apply runs never causes an update.
    expect(stableHash(here.desired[0]!.plan, 'mlpipe')).toBe(stableHash(there.desired[0]!.plan, 'mlpipe'));
    // Schedule params reach the plan (lifecycle's schedule sets trigger: schedule).
    expect(there.desired[0]!.plan.params.trigger).toBe('schedule');
  });
});

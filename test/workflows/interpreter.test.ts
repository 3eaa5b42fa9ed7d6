import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, retryUpdate, statusQuery, type RunStatus } from '../../workflows/api.ts';
import { taskQueueFor } from '../../workflows/routing.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { workflowBundle } from '../../src/temporal/bundle.ts';
import { Worker } from '@temporalio/worker';
import { makePlan, node } from '../support/plans.ts';
import { failureOf, pollUntil, testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('interp', { gpus: 1 });
});
afterAll(async () => {
  await env?.close();
});

describe('pipeline interpreter', () => {
  it('runs parallel branches at the same time and joins them', async () => {
    const plan = makePlan('par', {
      a: { fn: 'sleepFor', input: { ms: 1200, name: 'a' } },
      b: { fn: 'sleepFor', input: { ms: 1200, name: 'b' } },
      join: { fn: 'noop', needs: ['a', 'b'] },
    });
    const res = await (await env.start(plan)).result();
    const a = res.stages.a!.outputs as { startedAt: number; endedAt: number };
    const b = res.stages.b!.outputs as { startedAt: number; endedAt: number };
    // The branches overlap: each starts before the other ends.
    expect(a.startedAt).toBeLessThan(b.endedAt);
    expect(b.startedAt).toBeLessThan(a.endedAt);
    expect(res.stages.join!.status).toBe('succeeded');
  });

  it('retries a flaky stage per its policy, then succeeds', async () => {
    const plan = makePlan('flaky', { f: { fn: 'flaky', input: { failTimes: 2 }, maximumAttempts: 3 } });
    const res = await (await env.start(plan)).result();
    expect(res.stages.f!.outputs.attempt).toBe(3);
    expect(res.stages.f!.attempts).toBe(3);
  });

  it('fails fast on a non-retryable error, names the stage, cancels running siblings', async () => {
    const plan = makePlan('boom', {
      slow: { fn: 'sleepFor', input: { ms: 20_000, beatMs: 100 }, heartbeatTimeoutMs: 2_000 },
      bad: { fn: 'fail', input: { message: 'bad data in column x', nonRetryable: true }, maximumAttempts: 5 },
      after: { fn: 'noop', needs: ['bad'] },
    });
    const t0 = Date.now();
    const h = await env.start(plan);
    const msg = await failureOf(h.result());
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(msg).toContain('stage "bad"');
    expect(msg).toContain('bad data in column x');
    const st = await h.query(statusQuery);
    expect(st.stages.bad!.status).toBe('failed');
    expect(st.stages.slow!.status).toBe('cancelled');
    expect(st.stages.after!.status).toBe('cancelled');
  });

  it('skips a stage whose `when` is false, and its dependents', async () => {
    const plan = makePlan(
      'when',
      {
        gate: { fn: 'noop', input: { value: 0.5 } },
        deploy: { fn: 'noop', needs: ['gate'], when: 'stages.gate.outputs.value > params.threshold' },
        notify: { fn: 'noop', needs: ['deploy'] },
        report: { fn: 'noop', needs: ['gate'], when: 'stages.gate.outputs.value <= params.threshold' },
      },
      { threshold: 0.9 },
    );
    const handle = await env.start(plan);
    const res = await handle.result();
    expect(res.stages.deploy!.status).toBe('skipped');
    expect(res.stages.notify!.status).toBe('skipped');
    expect(res.stages.notify!.reason).toContain('deploy');
    expect(res.stages.report!.status).toBe('succeeded');
    // The UI's "Current Details" shows the same table.
    const meta = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toContain('| deploy | activity | skipped | when: stages.gate.outputs.value > params.threshold is false |');
    expect(meta.currentDetails).toContain('| report | activity | succeeded |');
  });

  it('resolves upstream outputs into ${…} config and artifact inputs', async () => {
    const plan = makePlan('tmpl', {
      src: { fn: 'produce', input: { value: 'v1', size: 7 } },
      dst: {
        fn: 'noop',
        needs: ['src'],
        input: { value: '${stages.src.outputs.size}' },
        inputs: { data: { stage: 'src', output: 'dataset', kind: 'dataset' } },
      },
    });
    const res = await (await env.start(plan)).result();
    expect(res.stages.dst!.outputs.value).toBe(7);
  });

  it('cancels a run: running stages are cancelled', async () => {
    const plan = makePlan('cancel', {
      long: { fn: 'sleepFor', input: { ms: 30_000, beatMs: 100 }, heartbeatTimeoutMs: 2_000 },
      next: { fn: 'noop', needs: ['long'] },
    });
    const h = await env.start(plan);
    await pollUntil(
      () => h.query(statusQuery),
      (s: RunStatus) => s.stages.long!.status === 'running',
    );
    await h.cancel();
    await expect(h.result()).rejects.toThrow();
    const view = await describeRun(env.client, h.workflowId);
    expect(view.status).toBe('CANCELLED');
    expect(view.run!.stages.long!.status).toBe('cancelled');
    expect(view.run!.stages.next!.status).toBe('cancelled');
  });

  it('reuses cached outputs on a second run (hit) and runs again when config changes (miss)', async () => {
    const log = join(env.home, 'cache-log.txt');
    const stages = (value: string) => ({
      make: { fn: 'produce', input: { value, log }, cache: true },
      use: {
        fn: 'consume',
        input: { value, log },
        needs: ['make'],
        cache: true,
        inputs: { data: { stage: 'make', output: 'dataset', kind: 'dataset' as const } },
      },
    });
    const r1 = await (await env.start(makePlan('cache', stages('one')))).result();
    expect(r1.stages.make!.cached).toBeFalsy();
    const r2 = await (await env.start(makePlan('cache', stages('one')))).result();
    expect(r2.stages.make!.cached).toBe(true);
    expect(r2.stages.use!.cached).toBe(true);
    expect(r2.stages.use!.cacheKey).toBe(r1.stages.use!.cacheKey);
    const r3 = await (await env.start(makePlan('cache', stages('two')))).result();
    expect(r3.stages.make!.cached).toBeFalsy();
    expect(r3.stages.use!.cached).toBeFalsy();
    const r4 = await (await env.start(makePlan('cache', stages('one')), { noCache: true })).result();
    expect(r4.stages.make!.cached).toBeFalsy();
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toEqual(['produce "one"', 'consume "one"', 'produce "two"', 'consume "two"', 'produce "one"', 'consume "one"']);
    // An entry older than the stage's TTL is a miss.
    const ttl = { make: { fn: 'produce', input: { value: 'ttl' }, cache: true, cacheTtlMs: 1 } };
    await (await env.start(makePlan('cache-ttl', ttl))).result();
    await new Promise((r) => setTimeout(r, 20));
    expect((await (await env.start(makePlan('cache-ttl', ttl))).result()).stages.make!.cached).toBeFalsy();
  });

  it('fix and continue: a failed stage waits, is retried with fixed config, the run completes', async () => {
    const plan = makePlan('fix', {
      first: { fn: 'noop' },
      fragile: { fn: 'needsFix', needs: ['first'], onFailure: 'wait', maximumAttempts: 1 },
      last: { fn: 'noop', needs: ['fragile'] },
    });
    const h = await env.start(plan);
    const st = await pollUntil(
      () => h.query(statusQuery),
      (s: RunStatus) => s.stages.fragile!.status === 'awaiting-operator',
    );
    expect(st.stages.fragile!.error).toContain('input.ok is not true');
    expect(st.stages.first!.status).toBe('succeeded');
    // An update on a stage that is not waiting is rejected with a reason.
    const rejected = await h.executeUpdate(retryUpdate, { args: [{ stage: 'first' }] }).catch((e: Error) => e);
    expect(String(((rejected as Error).cause as Error | undefined)?.message ?? rejected)).toMatch(/"first" is succeeded/);
    // Fix and continue, via a signal: same run id, finished work kept.
    await h.signal('retry', { stage: 'fragile', config: { input: { ok: true } } });
    const res = await h.result();
    expect(res.stages.fragile!.status).toBe('succeeded');
    expect(res.stages.fragile!.rounds).toBe(2);
    expect(res.stages.last!.status).toBe('succeeded');
  });

  it('an unknown user activity fails its stage at once, naming stage and activity', async () => {
    const plan = makePlan('unknown', { x: { fn: 'doesNotExist', maximumAttempts: 5 } });
    const msg = await failureOf((await env.start(plan)).result());
    expect(msg).toMatch(/stage "x" \(activity\) failed: no user activity "doesNotExist"/);
  });

  it('waits at an approval gate until approved', async () => {
    const plan = makePlan('gate', { a: { fn: 'noop' }, ship: { fn: 'noop', needs: ['a'], approval: true } });
    const h = await env.start(plan);
    await pollUntil(
      () => h.query(statusQuery),
      (s: RunStatus) => s.stages.ship!.status === 'awaiting-approval',
    );
    await h.executeUpdate(approveUpdate, { args: ['ship'] });
    expect((await h.result()).stages.ship!.status).toBe('succeeded');
  });

  it('surfaces heartbeat progress of a running stage (describe → pending activities)', async () => {
    const plan = makePlan('progress', { p: { fn: 'sleepFor', input: { ms: 4000, beatMs: 100 }, heartbeatTimeoutMs: 1000 } });
    const h = await env.start(plan);
    const view = await pollUntil(
      () => describeRun(env.client, h.workflowId),
      (v) => (v.live.p?.progress?.step ?? 0) > 0,
    );
    expect(view.live.p!.progress!.steps).toBe(4000);
    expect(view.run!.stages.p!.status).toBe('running');
    await h.result();
  });

  it('keeps history bounded with continue-as-new and finishes the plan', async () => {
    const stages: Record<string, { fn: string; needs?: string[] }> = {};
    for (let i = 0; i < 12; i++)
      stages[`n${String(i).padStart(2, '0')}`] = { fn: 'noop', ...(i ? { needs: [`n${String(i - 1).padStart(2, '0')}`] } : {}) };
    const h = await env.start(makePlan('can', stages), { continueAsNewAfterEvents: 30 });
    const res = await h.result();
    expect(Object.values(res.stages).every((s) => s.status === 'succeeded')).toBe(true);
    const desc = await h.describe();
    expect(desc.runId).not.toBe(h.firstExecutionRunId);
  });
});

describe('determinism', () => {
  it('replays the histories of finished runs against the current workflow code', async () => {
    const plan = makePlan('replay', {
      a: { fn: 'produce', input: { value: 'r' }, cache: true },
      b: { fn: 'noop', needs: ['a'], when: 'stages.a.outputs.size > 10' },
      c: { fn: 'flaky', needs: ['a'], input: { failTimes: 1 }, maximumAttempts: 2 },
      d: { fn: 'needsFix', needs: ['c'], onFailure: 'wait', maximumAttempts: 1 },
    });
    const h = await env.start(plan);
    await pollUntil(
      () => h.query(statusQuery),
      (s: RunStatus) => s.stages.d!.status === 'awaiting-operator',
    );
    await h.executeUpdate(retryUpdate, { args: [{ stage: 'd', config: { input: { ok: true } } }] });
    await h.result();
    const history = await h.fetchHistory();
    // Throws DeterminismViolationError if the code no longer makes the same commands.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, h.workflowId);
  });
});

type Span = { startedAt: number; endedAt: number };
const overlap = (a: Span, b: Span) => a.startedAt < b.endedAt && b.startedAt < a.endedAt;

describe('task queue routing', () => {
  it('runs GPU stages one at a time on a one-GPU worker, CPU stages beside them', async () => {
    const plan = makePlan('gpu', {
      g1: { fn: 'sleepFor', input: { ms: 800 }, gpu: 1 },
      g2: { fn: 'sleepFor', input: { ms: 800 }, gpu: 1 },
      cpu: { fn: 'sleepFor', input: { ms: 800 } },
    });
    const res = await (await env.start(plan)).result();
    const [g1, g2, cpu] = ['g1', 'g2', 'cpu'].map((s) => res.stages[s]!.outputs as Span) as [Span, Span, Span];
    expect(overlap(g1, g2)).toBe(false);
    expect(overlap(cpu, g1) || overlap(cpu, g2)).toBe(true);
  });

  it('sends GPU stages to mlpipe-gpu unless the spec names a queue', () => {
    expect(taskQueueFor(node('t', { fn: 'x', gpu: 1 }))).toBe('mlpipe-gpu');
    expect(taskQueueFor(node('t', { fn: 'x', gpu: 1, taskQueue: 'a100' }))).toBe('a100');
    expect(taskQueueFor(node('t', { fn: 'x' }))).toBe('mlpipe');
  });
});

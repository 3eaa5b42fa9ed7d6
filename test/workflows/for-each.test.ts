/**
 * forEach fan-out on the real dev server: each item runs as its own unit (activity id
 * `<stage>[<i>]`) with the item in its config and `when`, outputs are collected in item order,
 * the step cache answers per item, and the failure policies, fix-and-continue and
 * continue-as-new hold per item.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef, ForEachPlan, JsonValue } from '../../src/core/plan.ts';
import { workflowBundle } from '../../src/temporal/bundle.ts';
import { stageLines } from '../../src/temporal/follow.ts';
import { describeRun, rerunFrom } from '../../src/temporal/runs.ts';
import { retryUpdate, statusQuery, type RunStatus } from '../../workflows/api.ts';
import { makePlan } from '../support/plans.ts';
import { failureOf, pollUntil, testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('foreach');
});
afterAll(async () => {
  await env?.close();
});

const each = (items: JsonValue[] | string, o: Partial<ForEachPlan> = {}): ForEachPlan => ({
  items,
  as: 'item',
  parallelism: 100,
  onItemFailure: 'failFast',
  ...o,
});

describe('forEach', () => {
  it('runs each item as its own activity with the item in its config and `when`, and collects outputs in item order', async () => {
    const plan = makePlan('fe-basic', {
      fan: {
        fn: 'noop',
        input: { value: '${item.v * 10.0}' },
        when: 'item.v != 3',
        forEach: each([{ v: 1 }, { v: 2 }, { v: 3 }, { v: 4 }]),
      },
      after: { fn: 'noop', needs: ['fan'], input: { value: '${stages.fan.outputs.value}' } },
      second: { fn: 'noop', needs: ['fan'], input: { value: '${stages.fan.items[2].status}' } },
    });
    const h = await env.start(plan);
    const res = await h.result();
    const fan = res.stages.fan!;
    expect(fan.status).toBe('succeeded');
    expect(fan.outputs.value).toEqual([10, 20, 40]); // item 3 skipped by its `when`
    expect(fan.items!.map((i) => i.status)).toEqual(['succeeded', 'succeeded', 'skipped', 'succeeded']);
    expect(fan.items!.map((i) => i.item)).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }, { v: 4 }]);
    expect(res.stages.after!.outputs.value).toEqual([10, 20, 40]);
    expect(res.stages.second!.outputs.value).toBe('skipped');

    // Each item is its own activity, named by its index.
    const history = await h.fetchHistory();
    const ids = (history.events ?? []).flatMap((e) =>
      e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityId] : [],
    );
    expect(ids.filter((id) => id?.startsWith('fan'))).toEqual(['fan[0]', 'fan[1]', 'fan[3]']);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, h.workflowId);

    // `mlpipe status` shows each item under its stage.
    const lines = stageLines(await describeRun(env.client, h.workflowId), false);
    expect(lines.find((l) => l.startsWith('  fan[2]'))).toMatch(/skipped\s+when: item\.v != 3 is false/);
    expect(lines.find((l) => l.startsWith('  fan[3]'))).toMatch(/succeeded/);
    // The Temporal UI's Current Details: a row per item under its stage.
    const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toContain('| fan[2] | activity | skipped | when: item.v != 3 is false |');
    expect(meta.currentDetails).toContain('| fan[3] | activity | succeeded |');
  });

  it('keeps at most `parallelism` items in flight', async () => {
    const items = [1, 2, 3, 4, 5];
    const plan = makePlan('fe-par', { fan: { fn: 'sleepFor', input: { ms: 300, beatMs: 100 }, forEach: each(items, { parallelism: 2 }) } });
    const res = await (await env.start(plan)).result();
    const spans = res.stages.fan!.outputs as unknown as { startedAt: number[]; endedAt: number[] };
    // at any item's start, fewer than two others have started and not yet ended
    for (let i = 0; i < items.length; i++) {
      const t = spans.startedAt[i]!;
      const others = items.map((_, j) => j).filter((j) => j !== i && spans.startedAt[j]! <= t && spans.endedAt[j]! > t);
      expect(others.length).toBeLessThan(2);
    }
  });

  it("keeps the UI's Current Details short for many items: a count instead of a row each", async () => {
    const items = Array.from({ length: 25 }, (_, i) => i);
    const h = await env.start(makePlan('fe-many', { fan: { fn: 'noop', input: { value: '${item}' }, forEach: each(items) } }));
    expect((await h.result()).stages.fan!.outputs.value).toEqual(items);
    const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toContain('| fan[…] | activity | 25 items | 25 succeeded |');
    expect(meta.currentDetails).not.toContain('| fan[0] |');
    // `mlpipe status` on a terminal: a count; piped: every item
    const view = await describeRun(env.client, h.workflowId);
    expect(stageLines(view, true).some((l) => /^ {2}fan\[…\]\s+25 items: 25 succeeded$/.test(l))).toBe(true);
    expect(stageLines(view, true).some((l) => l.includes('fan[0]'))).toBe(false);
    expect(stageLines(view, false).filter((l) => l.startsWith('  fan['))).toHaveLength(25);
  });

  it('hits the step cache per item on a rerun; a changed item runs alone', async () => {
    const log = join(env.home, 'fe-cache.txt');
    const plan = (items: string[]) =>
      makePlan('fe-cache', { fan: { fn: 'produce', input: { value: '${item}', log }, cache: true, forEach: each(items) } });
    const r1 = await (await env.start(plan(['a', 'b']))).result();
    expect(r1.stages.fan!.items!.map((i) => i.cached ?? false)).toEqual([false, false]);
    const r2 = await (await env.start(plan(['a', 'b']))).result();
    expect(r2.stages.fan!.items!.map((i) => i.cached)).toEqual([true, true]);
    expect(r2.stages.fan!.cached).toBe(true);
    expect(r2.stages.fan!.items!.map((i) => i.cacheKey)).toEqual(r1.stages.fan!.items!.map((i) => i.cacheKey));
    const r3 = await (await env.start(plan(['a', 'c']))).result();
    expect(r3.stages.fan!.items!.map((i) => i.cached ?? false)).toEqual([true, false]);
    // (a and b ran side by side, in either order)
    expect(readFileSync(log, 'utf8').trim().split('\n').sort()).toEqual(['produce "a"', 'produce "b"', 'produce "c"']);
  });

  it('onItemFailure: continue: the others run on, the stage succeeds with them and lists the failed item', async () => {
    const items = [
      { fn: 'noop', v: 1 },
      { fn: 'fail', v: 2 },
      { fn: 'noop', v: 3 },
    ];
    const plan = makePlan('fe-continue', {
      fan: {
        fn: '${item.fn}',
        input: { value: '${item.v}', message: 'bad item', nonRetryable: true },
        forEach: each(items, { onItemFailure: 'continue' }),
      },
      after: { fn: 'noop', needs: ['fan'], input: { value: '${stages.fan.outputs.value}' } },
    });
    const res = await (await env.start(plan)).result();
    const fan = res.stages.fan!;
    expect(fan.status).toBe('succeeded');
    expect(fan.outputs.value).toEqual([1, 3]);
    expect(fan.items![1]!.status).toBe('failed');
    expect(fan.items![1]!.error).toContain('bad item');
    expect(fan.reason).toBe('1 of 3 items failed: fan[1]');
    expect(res.stages.after!.outputs.value).toEqual([1, 3]);

    const allBad = makePlan('fe-all-bad', {
      fan: { fn: 'fail', input: { message: 'bad item', nonRetryable: true }, forEach: each([1, 2], { onItemFailure: 'continue' }) },
    });
    expect(await failureOf((await env.start(allBad)).result())).toMatch(
      /stage "fan" \(activity\) failed: every item failed \(fan\[0\], fan\[1\]\)/,
    );
  });

  it('onItemFailure: failFast: the first failed item cancels the others and fails the run, naming the item', async () => {
    const plan = makePlan('fe-fast', {
      fan: {
        fn: '${item.fn}',
        input: { ms: 20_000, beatMs: 100, message: 'bad item', nonRetryable: true },
        heartbeatTimeoutMs: 2_000,
        forEach: each([{ fn: 'sleepFor' }, { fn: 'fail' }]),
      },
    });
    const h = await env.start(plan);
    const msg = await failureOf(h.result());
    expect(msg).toMatch(/stage "fan" \(activity\) failed: item fan\[1\] \(\{"fn":"fail"\}\) failed: .*bad item/);
    const st = await h.query(statusQuery);
    expect(st.stages.fan!.items!.map((i) => i.status)).toEqual(['cancelled', 'failed']);
  });

  it('fix and continue per item: the failed item waits, is retried by its id, the stage completes', async () => {
    const plan = makePlan('fe-fix', {
      fan: { fn: 'needsFix', input: { ok: '${item}' }, onFailure: 'wait', maximumAttempts: 1, forEach: each([true, false]) },
      after: { fn: 'noop', needs: ['fan'] },
    });
    const h = await env.start(plan);
    const st = await pollUntil(
      () => h.query(statusQuery),
      (s: RunStatus) => s.stages.fan!.items?.[1]?.status === 'awaiting-operator',
    );
    expect(st.stages.fan!.items![0]!.status).toBe('succeeded');
    expect(st.stages.fan!.items![1]!.error).toContain('input.ok is not true');
    await h.executeUpdate(retryUpdate, { args: [{ stage: 'fan[1]', config: { input: { ok: true } } }] });
    const res = await h.result();
    expect(res.stages.fan!.items![1]!.rounds).toBe(2);
    expect(res.stages.fan!.outputs.fixed).toEqual([true, true]);
    expect(res.stages.after!.status).toBe('succeeded');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await h.fetchHistory(), h.workflowId);
  });

  it('gives item i of a forEach stage the artifact of item i upstream, also in a rerun that reuses the upstream stage', async () => {
    const plan = makePlan('fe-zip', {
      prod: { fn: 'produce', input: { value: '${item}' }, forEach: each(['p', 'q']) },
      cons: {
        fn: 'inputDigests',
        needs: ['prod'],
        inputs: { data: { stage: 'prod', output: 'dataset', kind: 'dataset' } },
        forEach: each(['p', 'q']),
      },
      after: { fn: 'noop', needs: ['cons'], input: { value: '${stages.prod.items.map(i, i.status)}' } },
    });
    const h = await env.start(plan);
    const res = await h.result();
    const produced = (res.stages.prod!.outputs.dataset as unknown as ArtifactRef[]).map((a) => a.digest);
    expect(new Set(produced).size).toBe(2);
    expect(res.stages.cons!.outputs.digests).toEqual(produced.map((d) => ({ data: d })));

    const again = await (await rerunFrom(env.client, h.workflowId, 'cons')).result();
    expect(again.stages.prod!.reason).toBe('reused from the earlier run');
    expect(again.stages.prod!.items!.map((i) => i.item)).toEqual(['p', 'q']);
    expect(again.stages.cons!.outputs.digests).toEqual(produced.map((d) => ({ data: d })));
    expect(again.stages.after!.outputs.value).toEqual(['succeeded', 'succeeded']);
  });

  it('takes its items from an expression, and fails the stage clearly when that is no list', async () => {
    const good = makePlan('fe-expr', {
      src: { fn: 'noop', input: { value: [5, 6] } },
      fan: { fn: 'noop', needs: ['src'], input: { value: '${item + 1.0}' }, forEach: each('${stages.src.outputs.value}') },
    });
    expect((await (await env.start(good)).result()).stages.fan!.outputs.value).toEqual([6, 7]);
    const bad = makePlan('fe-expr-bad', {
      src: { fn: 'noop', input: { value: 'abc' } },
      fan: { fn: 'noop', needs: ['src'], forEach: each('${stages.src.outputs.value}') },
    });
    expect(await failureOf((await env.start(bad)).result())).toContain(
      'forEach of stage "fan": `${stages.src.outputs.value}` gave "abc", not a list',
    );
    const empty = makePlan('fe-expr-empty', {
      src: { fn: 'noop', input: { value: [] } },
      fan: { fn: 'noop', needs: ['src'], forEach: each('${stages.src.outputs.value}') },
    });
    expect(await failureOf((await env.start(empty)).result())).toContain(
      '`${stages.src.outputs.value}` gave an empty list: there is nothing to run',
    );
  });

  it('survives continue-as-new: finished items are carried, the rest run in the next execution, each once', async () => {
    const log = join(env.home, 'fe-can.txt');
    const items = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7'];
    const stages: Record<string, Parameters<typeof makePlan>[1][string]> = {
      first: { fn: 'noop' },
      fan: { fn: 'consume', needs: ['first'], input: { value: '${item}', log }, forEach: each(items, { parallelism: 1 }) },
      after: { fn: 'noop', needs: ['fan'], input: { value: '${stages.fan.items.map(i, i.item)}' } },
    };
    const h = await env.start(makePlan('fe-can', stages), { continueAsNewAfterEvents: 30 });
    const res = await h.result();
    expect((await h.describe()).runId).not.toBe(h.firstExecutionRunId);
    // the first execution stopped part-way through the items
    const first = await env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
    const startedThere = (first.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityId?.startsWith('fan[')).length;
    expect(startedThere).toBeGreaterThan(0);
    expect(startedThere).toBeLessThan(items.length);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(items.map((i) => `consume "${i}"`));
    expect(res.stages.fan!.items!.map((i) => i.status)).toEqual(items.map(() => 'succeeded'));
    expect(res.stages.fan!.outputs.ok).toEqual(items.map(() => true));
    expect(res.stages.after!.outputs.value).toEqual(items);
  });
});

/**
 * The run-time expression bound on the real dev server: a `when` or `${…}` over the cost limit
 * fails its stage with an ExpressionError; the workflow task is never timed out, and the same
 * worker goes on to run other pipelines. (Before the bound, the 7-deep `.all()` below ran inside
 * the workflow task until the task timed out, and crashed the workers that picked it up.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../../workflows/api.ts';
import { makePlan } from '../support/plans.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('exprbound');
});
afterAll(async () => {
  await env?.close();
});

const TEN = '[0,1,2,3,4,5,6,7,8,9]';
function nestedAll(depth: number): string {
  const vars = 'abcdefg'.slice(0, depth).split('');
  let e = `${vars.join(' + ')} >= 0`;
  for (const v of [...vars].reverse()) e = `${TEN}.all(${v}, ${e})`;
  return e;
}

/** The run's failure message, and whether any workflow task failed or timed out. */
async function outcome(h: WorkflowHandle) {
  const err = await h.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const events = (await h.fetchHistory()).events ?? [];
  const taskTrouble = events.some((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes);
  const status = await h.query(statusQuery);
  return { message: String((err as WorkflowFailedError).cause?.message), taskTrouble, status };
}

describe('expressions over the cost limit on a real worker', () => {
  it('the 7-deep .all() in `when` fails its stage; an unrelated run on the same worker completes', async () => {
    // validate refuses this expression; a hand-made plan (the workflow's input) still carries it
    const plan = makePlan('deep-when', {
      a: { fn: 'noop' },
      gate: { fn: 'noop', needs: ['a'], when: nestedAll(7) },
    });
    const { message, taskTrouble, status } = await outcome(await env.start(plan));
    expect(message).toMatch(
      /^stage "gate" \(activity\) failed: `\[0,1,2.*` would cost about [\d,]+ to evaluate with this run's values, over the limit of 300,000/,
    );
    expect(status.stages.gate!.status).toBe('failed');
    expect(status.stages.a!.status).toBe('succeeded');
    expect(taskTrouble).toBe(false);

    const unrelated = await (
      await env.start(makePlan('after-deep', { x: { fn: 'noop', input: { value: 1 } }, y: { fn: 'noop', needs: ['x'] } }))
    ).result();
    expect(unrelated.stages.y!.status).toBe('succeeded');
  });

  it('an upstream list that is only large at run time fails the `when` and the template that walk it', async () => {
    const big = Array.from({ length: 2000 }, (_, i) => i);
    const pairs = 'stages.up.outputs.value.all(a, stages.up.outputs.value.all(b, a + b >= 0))';
    const plan = makePlan('big-list', {
      up: { fn: 'noop', input: { value: big } },
      gate: { fn: 'noop', needs: ['up'], when: pairs },
    });
    const r = await outcome(await env.start(plan));
    expect(r.message).toContain('stage "gate" (activity) failed: `stages.up.outputs.value.all(a,');
    expect(r.message).toContain('would cost about');
    expect(r.taskTrouble).toBe(false);

    const templ = makePlan('big-list-template', {
      up: { fn: 'noop', input: { value: big } },
      use: { fn: 'noop', needs: ['up'], input: { value: `n=\${${pairs}}` } },
    });
    const t = await outcome(await env.start(templ));
    expect(t.message).toMatch(/^stage "use" \(activity\) failed: .*would cost about/);
    expect(t.status.stages.use!.attempts).toBe(0); // it never reached an activity
    expect(t.taskTrouble).toBe(false);

    // the same expression over a small list runs
    const small = makePlan('small-list', {
      up: { fn: 'noop', input: { value: [1, 2, 3] } },
      gate: { fn: 'noop', needs: ['up'], when: pairs },
    });
    expect((await (await env.start(small)).result()).stages.gate!.status).toBe('succeeded');
  });
});

/**
 * Issue 17: the Temporal UI's Current Details (what it shows of a run without a click) carries the
 * running stage's progress: heartbeats are relayed to the workflow as signals named by the
 * progress line (activities/lib/live-progress.ts; the UI's timeline labels them by name),
 * throttled, and the stage table shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgressLine } from '../../../activities/lib/live-progress.ts';
import { makePlan } from '../../support/plans.ts';
import { testEnv, type TestEnv } from '../../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  process.env.MLPIPE_PROGRESS_RELAY_MS = '300';
  env = await testEnv('live-progress');
});
afterAll(async () => {
  delete process.env.MLPIPE_PROGRESS_RELAY_MS;
  await env?.close();
});

describe('live progress in Current Details', () => {
  it('formats epoch, ETA from this attempt’s pace, loss and message', () => {
    const l = new ProgressLine();
    expect(l.text({ epoch: 2, epochs: 10, loss: 0.123456 }, 1_000)).toBe('epoch 2/10 · loss 0.1235');
    expect(l.text({ epoch: 4, epochs: 10, loss: 0.1 }, 3_000)).toBe('epoch 4/10 · ETA 6s · loss 0.1000');
    expect(new ProgressLine().text({ message: 'parsing big.csv' })).toBe('parsing big.csv');
  });

  it('the running stage shows its step count in the workflow’s current details; few signals reach the history', async () => {
    const plan = makePlan('live-progress', { work: { fn: 'checkpointed', input: { steps: 25, stepMs: 200 } } });
    const handle = await env.start(plan);
    const seen: string[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata').catch(() => undefined);
      const details = meta?.currentDetails ?? '';
      if (/\| work \| activity \| running \| step \d+\/25/.test(details)) seen.push(details);
      if (seen.length >= 2 && seen.at(-1) !== seen[0]) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(seen.length, 'no progress showed in Current Details').toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).not.toBe(seen[0]); // it moves
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const names = events.flatMap((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    expect(
      names.every((n) => /^work · step \d+\/25( · ETA \S+)?$/.test(n)),
      names.join('\n'),
    ).toBe(true);
    const signals = names.length;
    expect(signals).toBeGreaterThan(0);
    // 25 heartbeats in 5 s, relayed at most every 300 ms
    expect(signals).toBeLessThanOrEqual(20);
  }, 120_000);
});

/**
 * Secrets holding `"`, `\`, spaces, `/`, `+` and non-ASCII stay out of the decoded workflow
 * history and out of a real `mlpipe worker` process's output, whichever encoding a stage hands
 * them back in: results (values and keys), failure message, details and cause, console.log and
 * console.error, the activity logger, util.inspect of objects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { makePlan } from '../support/plans.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { leakedForms } from '../support/secret-forms.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const SECRET = 's3 "cr\\et/+ é€ ünï';

let env: TestEnv;
let worker: WorkerProcess;

function historyText(v: unknown, out: string[] = []): string {
  if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
  else if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) historyText(x, out);
  else if (v && typeof v === 'object') for (const k of Object.getOwnPropertyNames(v)) historyText((v as Record<string, unknown>)[k], out);
  return out.join('\n');
}

beforeAll(async () => {
  env = await testEnv('redact', { worker: false });
  process.env.MLPIPE_SECRET_LEAKY = SECRET; // the worker process's environment
  worker = spawnWorker(env.address, env.queue, env.home, 'test/support/secret-activities.ts');
  await waitFor(() => worker.output().includes('mlpipe worker on'), 90_000, 'the worker to start');
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  if (worker) await new Promise((r) => worker.once('exit', r));
  await env?.close();
});

describe('redaction in every encoding, on a real worker', () => {
  it('keeps the secret out of results, failures, the history and the worker log', async () => {
    const plan = makePlan('leaky', {
      leak: { fn: 'leak', input: { secret: '${secrets.LEAKY}' }, maximumAttempts: 1 },
      fail: { fn: 'leakFail', needs: ['leak'], input: { secret: '${secrets.LEAKY}' }, maximumAttempts: 1 },
    });
    const h = await env.start(plan);
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const history = historyText((await h.fetchHistory()).events);
    expect(history).toContain('upstream refused'); // the failure's decoded payloads are searched
    expect(history).toContain('as a key');
    expect(leakedForms(history, SECRET)).toEqual([]);
    expect(leakedForms(historyText(err), SECRET)).toEqual([]);
    expect(history).toContain('[redacted]');

    await waitFor(() => worker.output().includes('activity logger'), 30_000, 'the activity log line');
    const log = worker.output();
    expect(log).toContain('console.log: [redacted]');
    expect(log).toContain('console.error: https://example.test/cb?token=[redacted]');
    expect(leakedForms(log, SECRET)).toEqual([]);
  });
});

/**
 * Durability: the run survives its server restarting (same SQLite file) and its worker being
 * SIGKILLed mid-stage (a second worker resumes the stage from its heartbeat checkpoint).
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { makePlan } from '../support/plans.ts';
import { freePort } from '../support/ports.ts';
import { spawnWorker, waitFor } from '../support/processes.ts';
import { testAddress, testEnv, type TestEnv } from '../support/temporal.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('durability', () => {
  it('a worker SIGKILLed mid-stage: a second worker resumes the stage from its checkpoint', async () => {
    const env: TestEnv = await testEnv('kill', { worker: false });
    cleanups.push(() => env.close());
    const log = join(env.home, 'attempts.log');
    const plan = makePlan('kill', {
      work: {
        fn: 'checkpointed',
        input: { steps: 16, stepMs: 300, log },
        heartbeatTimeoutMs: 2_000,
        maximumAttempts: 5,
        initialIntervalMs: 200,
      },
      after: { fn: 'noop', needs: ['work'] },
    });
    const first = spawnWorker(testAddress(), env.queue, env.home, 'test/support/activities.ts');
    cleanups.push(async () => first.kill('SIGKILL'));
    const handle = await env.start(plan);
    // Let it get a few checkpoints in, then kill the worker without warning.
    await waitFor(
      async () => {
        const v = await describeRun(env.client, handle.workflowId).catch(() => undefined);
        return (v?.live.work?.progress?.step ?? 0) >= 3;
      },
      90_000,
      'checkpoints from the first worker',
    );
    first.kill('SIGKILL');
    const second = spawnWorker(testAddress(), env.queue, env.home, 'test/support/activities.ts');
    cleanups.push(async () => {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    });
    const res = await handle.result();
    const out = res.stages.work!.outputs as { resumedFrom: number; attempt: number; pid: number };
    expect(out.attempt).toBeGreaterThanOrEqual(2);
    expect(out.resumedFrom).toBeGreaterThanOrEqual(3);
    expect(out.pid).toBe(second.pid);
    expect(res.stages.after!.status).toBe('succeeded');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines[0]).toContain(`pid ${first.pid}`);
  }, 180_000);

  it('the server restarts mid-run with its SQLite file kept: the run completes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-restart-'));
    const dbFile = join(dir, 'temporal.db');
    const port = await freePort();
    let server: DevServer = await startDevServer({ dbFile, port, uiPort: null });
    cleanups.push(() => server.stop());
    const env = await testEnv('restart', { address: server.address });
    cleanups.push(() => env.close());
    const log = join(env.home, 'attempts.log');
    const plan = makePlan('restart', {
      a: { fn: 'noop' },
      work: {
        fn: 'checkpointed',
        needs: ['a'],
        input: { steps: 12, stepMs: 250, log },
        heartbeatTimeoutMs: 5_000,
        maximumAttempts: 10,
        initialIntervalMs: 200,
      },
      b: { fn: 'noop', needs: ['work'] },
    });
    const handle = await env.start(plan);
    const workflowId = handle.workflowId;
    await waitFor(() => existsSync(log), 30_000, 'the stage to start');
    await server.stop();
    expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
    server = await startDevServer({ dbFile, port, uiPort: null });
    const res = await env.client.workflow.getHandle(workflowId).result();
    expect(res.stages.a!.status).toBe('succeeded');
    expect(res.stages.work!.status).toBe('succeeded');
    expect(res.stages.b!.status).toBe('succeeded');
  }, 180_000);
});

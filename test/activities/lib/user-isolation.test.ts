/**
 * Issue 10 item 4, on the real dev server with real `mlpipe worker` processes: a user activity
 * that never yields (`while (true) {}`) or never settles, and ignores cancellation, cannot keep
 * a worker's slot past its timeout or a cancellation, cannot stop the worker from shutting down,
 * and a user activity whose process dies fails only its own stage. The workers have ONE activity
 * slot, so an unrelated run completing proves the slot was freed.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePlan } from '../../support/plans.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../../support/processes.ts';
import { failureOf, TEST_ACTIVITIES, testAddress, testEnv, type TestEnv } from '../../support/temporal.ts';

let env: TestEnv;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  env = await testEnv('isolation', { worker: false });
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await env?.close();
});

/** An `mlpipe worker` with a single activity slot. */
function oneSlotWorker(): WorkerProcess {
  const w = spawnWorker(testAddress(), env.queue, env.home, TEST_ACTIVITIES, ['--max-concurrent-activities', '1']);
  workers.push(w);
  return w;
}

async function stop(w: WorkerProcess): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  const exited = new Promise((r) => w.once('exit', r));
  w.kill('SIGTERM');
  await exited;
}

/** Running (a zombie waiting to be reaped by whoever adopted it is not). Linux's /proc. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pid the stuck activity logged once it started (it runs in a child of the worker). */
async function startedPid(log: string): Promise<number> {
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('pid '), 60_000, 'the user activity to start');
  return Number(/pid (\d+)/.exec(readFileSync(log, 'utf8'))![1]);
}

/** A run that needs the worker's only slot. */
async function unrelatedRunCompletes(tag: string): Promise<void> {
  const res = await (await env.start(makePlan(`unrelated-${tag}`, { ok: { fn: 'noop', input: { value: tag } } }))).result();
  expect(res.stages.ok!.status).toBe('succeeded');
}

let n = 0;
const logFile = () => join(env.home, `stuck-${++n}.log`);

describe('user activities run where they can be stopped', () => {
  for (const fn of ['spin', 'hang']) {
    it(`${fn}: the stage fails at its timeout, the process is killed and the slot freed`, async () => {
      const w = oneSlotWorker();
      const log = logFile();
      const plan = makePlan(`${fn}-timeout`, { stuck: { fn, input: { log }, startToCloseTimeoutMs: 3_000, maximumAttempts: 1 } });
      const h = await env.start(plan);
      const pid = await startedPid(log);
      const msg = await failureOf(h.result());
      expect(msg).toContain('stage "stuck"');
      expect(msg).toContain('timed out (start-to-close)');
      await waitFor(() => !alive(pid), 30_000, 'the hung process to be killed');
      await unrelatedRunCompletes(`${fn}-timeout`);
      await stop(w);
    }, 120_000);

    it(`${fn}: cancelling the run kills the activity and frees the slot`, async () => {
      const w = oneSlotWorker();
      const log = logFile();
      const plan = makePlan(`${fn}-cancel`, { stuck: { fn, input: { log }, startToCloseTimeoutMs: 600_000, maximumAttempts: 1 } });
      const h = await env.start(plan);
      const pid = await startedPid(log);
      await h.cancel();
      await expect(h.result()).rejects.toThrow();
      await waitFor(() => !alive(pid), 60_000, 'the cancelled process to be killed');
      await unrelatedRunCompletes(`${fn}-cancel`);
      await stop(w);
    }, 120_000);
  }

  it('spin: with a heartbeat timeout, the blocked process is stopped after it, long before start-to-close', async () => {
    const w = oneSlotWorker();
    const log = logFile();
    const plan = makePlan('spin-heartbeat', {
      stuck: { fn: 'spin', input: { log }, startToCloseTimeoutMs: 600_000, heartbeatTimeoutMs: 3_000, maximumAttempts: 1 },
    });
    const h = await env.start(plan);
    const pid = await startedPid(log);
    const msg = await failureOf(h.result());
    expect(msg).toContain(
      'user activity "spin" (stage "stuck"): its process did not answer for longer than the heartbeat timeout (3000 ms)',
    );
    await waitFor(() => !alive(pid), 30_000, 'the blocked process to be killed');
    await unrelatedRunCompletes('spin-heartbeat');
    await stop(w);
  }, 120_000);

  it('SIGTERM: a worker running a hung activity exits after its shutdown grace', async () => {
    const w = oneSlotWorker();
    const log = logFile();
    const plan = makePlan('hang-sigterm', { stuck: { fn: 'hang', input: { log }, startToCloseTimeoutMs: 600_000, maximumAttempts: 1 } });
    const h = await env.start(plan);
    const pid = await startedPid(log);
    const exited = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    w.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(w.output()).toContain('worker stopped');
    await waitFor(() => !alive(pid), 30_000, 'the hung process to go with its worker');
    await h.terminate('test over');
  }, 120_000);

  for (const how of ['kill', 'exit']) {
    it(`a user activity whose process dies (${how}) fails only its stage; the worker runs on`, async () => {
      const w = oneSlotWorker();
      const plan = makePlan(`crash-${how}`, { boom: { fn: 'crash', input: { how }, maximumAttempts: 1 } });
      const msg = await failureOf((await env.start(plan)).result());
      expect(msg).toContain('stage "boom"');
      expect(msg).toContain(
        `user activity "crash" (stage "boom"): its process ${how === 'kill' ? 'was killed by SIGKILL' : 'exited with code 3'}`,
      );
      await unrelatedRunCompletes(`crash-${how}`);
      expect(w.exitCode).toBeNull();
      await stop(w);
    }, 120_000);
  }

  it("a user activity's failure comes back with its type, and a full disk's error code", async () => {
    const w = oneSlotWorker();
    const fixable = await failureOf((await env.start(makePlan('needs-fix', { f: { fn: 'needsFix', maximumAttempts: 5 } }))).result());
    expect(fixable).toBe('stage "f" (activity) failed: input.ok is not true: fix the config and retry');
    const full = await failureOf((await env.start(makePlan('full-disk', { f: { fn: 'fullDisk', maximumAttempts: 1 } }))).result());
    // ENOSPC crossed the process boundary: the stage failed as NoSpace, with its longer backoff
    expect(full).toBe('stage "f" (activity) failed: ENOSPC: no space left on device, write (attempt 1; the next one in 30 s)');
    await stop(w);
  }, 120_000);

  it('a SIGKILLed worker does not leave its hung user activity running', async () => {
    const w = oneSlotWorker();
    const log = logFile();
    const h = await env.start(
      makePlan('spin-orphan', { stuck: { fn: 'spin', input: { log }, startToCloseTimeoutMs: 600_000, maximumAttempts: 1 } }),
    );
    const pid = await startedPid(log);
    expect(pid).not.toBe(w.pid); // it runs in a process of its own
    w.kill('SIGKILL');
    await waitFor(() => !alive(pid), 30_000, 'the orphaned process to exit');
    await h.terminate('test over');
  }, 120_000);
});

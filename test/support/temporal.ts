/**
 * Test helpers over the suite's dev server: a client, and an in-process worker set on a task
 * queue of the test file's own (files run in parallel; queues keep their tasks apart).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, inject } from 'vitest';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { Plan } from '../../src/core/plan.ts';
import { createWorkers } from '../../src/temporal/worker.ts';
import { startRun, type StartRunOptions } from '../../src/temporal/runs.ts';
import { buildActivities, type ActivityOptions } from '../../activities/index.ts';
import { onQueue } from './temporal-queue.ts';

export { onQueue };

/** The test user activities' module (run in child processes of the worker, as users' are). */
export const TEST_ACTIVITIES = fileURLToPath(new URL('./activities.ts', import.meta.url));

/** The suite's Temporal address (global setup), also readable from MLPIPE_TEST_TEMPORAL_ADDRESS. */
export function testAddress(): string {
  let a: string | undefined;
  try {
    a = inject('temporalAddress');
  } catch {
    a = undefined;
  }
  a ??= process.env.MLPIPE_TEST_TEMPORAL_ADDRESS;
  if (!a) throw new Error('no test Temporal server: run through vitest (test/global-setup.ts)');
  return a;
}

export interface TestEnv {
  address: string;
  client: Client;
  queue: string;
  home: string;
  workers: Worker[];
  /** Starts a plan on this file's queue (every node routed to it). */
  start(plan: Plan, o?: Omit<StartRunOptions, 'plan' | 'taskQueue'>): ReturnType<typeof startRun>;
  close(): Promise<void>;
}

let runtimeInstalled = false;
/** Worker logs at WARN: INFO state changes drown test output. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier worker in this process
  }
}

/**
 * `gpus`: also serve `<queue>-gpu` with that many slots (as `mlpipe worker --gpus` serves
 * mlpipe-gpu); route a node there with `taskQueue: env.queue + '-gpu'` (onQueue keeps it).
 */
export async function testEnv(
  name: string,
  o: { address?: string; worker?: boolean; gpus?: number; kinds?: ActivityOptions['kinds'] } = {},
): Promise<TestEnv> {
  const address = o.address ?? testAddress();
  const queue = `test-${name}-${process.pid}`;
  const home = mkdtempSync(join(tmpdir(), `mlpipe-test-${name}-`));
  const client = new Client({ connection: await Connection.connect({ address }), namespace: 'default' });
  const workers: Worker[] = [];
  const runs: Promise<void>[] = [];
  let nativeConn: NativeConnection | undefined;
  if (o.worker !== false) {
    quietRuntime();
    nativeConn = await NativeConnection.connect({ address });
    const activities = await buildActivities({ home, userModule: TEST_ACTIVITIES, ...(o.kinds ? { kinds: o.kinds } : {}) });
    workers.push(
      ...(await createWorkers({
        connection: nativeConn,
        namespace: 'default',
        activities,
        taskQueue: queue,
        gpuQueue: o.gpus !== undefined,
        gpus: o.gpus,
        gpuTaskQueue: `${queue}-gpu`,
        maxConcurrentActivities: 50,
        shutdownGraceTime: '1s',
      })),
    );
    for (const w of workers) runs.push(w.run());
  }
  return {
    address,
    client,
    queue,
    home,
    workers,
    start: (plan, so) => startRun(client, { ...so, plan: onQueue(plan, queue, `${queue}-gpu`), taskQueue: queue }),
    async close() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(runs);
      await nativeConn?.close();
      await client.connection.close();
    },
  };
}

/** The message of the failure a run ended with; the run must have failed (WorkflowFailedError). */
export async function failureOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return String((err as WorkflowFailedError).cause?.message);
}

/** Polls `f` every 150 ms until `ok` holds for its value (a throw counts as not yet). */
export async function pollUntil<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined as T);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 150));
  }
}

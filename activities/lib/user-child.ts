/**
 * Entry of a child process that runs users' activities for a worker (user-pool.ts starts it with
 * the module's path as its argument). It imports the module once, says which functions it has,
 * then runs one execution at a time as the worker asks, inside a real activity Context of its
 * own: `Context.current()`, src/temporal/progress.ts and `@temporalio/activity`'s helpers work
 * as in the worker, their heartbeats, logs and result or failure travelling back over IPC.
 */
import { Worker } from 'node:worker_threads';
import { asyncLocalStorage, Context } from '@temporalio/activity';
import {
  ActivityCancellationDetails,
  ApplicationFailure,
  CancelledFailure,
  defaultFailureConverter,
  defaultPayloadConverter,
  noopMetricMeter,
  type LogLevel,
  type Logger,
} from '@temporalio/common';
import { loadUserActivities, type UserActivities } from '../user.ts';
import { ALIVE_EVERY_MS, type FromChild, type ToChild } from './user-protocol.ts';

const send = (m: FromChild): void => void process.send!(m);

/**
 * A child whose worker died (SIGKILL, OOM killer) must not live on, even with its main thread
 * stuck in a user's loop: a thread of its own watches the parent and kills the process.
 */
function exitWithParent(): void {
  const watcher = `
    const { workerData } = require('node:worker_threads');
    setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 500);
  `;
  new Worker(watcher, { eval: true, workerData: process.ppid }).unref();
}

function toFailure(err: unknown) {
  return defaultFailureConverter.errorToFailure(err, defaultPayloadConverter);
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function logger(id: number): Logger {
  const log = (level: LogLevel, message: string, meta?: Record<string, unknown>) => {
    try {
      send({ type: 'log', id, level, message: String(message), ...(meta ? { meta } : {}) });
    } catch {
      send({ type: 'log', id, level, message: String(message) }); // meta that cannot be cloned
    }
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

let current: { id: number; cancel: (reason: string, details: Record<string, boolean>) => void } | undefined;

async function run(fns: UserActivities, m: Extract<ToChild, { type: 'run' }>): Promise<void> {
  const abort = new AbortController();
  let reject!: (e: Error) => void;
  const cancelled = new Promise<never>((_, r) => (reject = r));
  cancelled.catch(() => undefined);
  const holder: { details?: ActivityCancellationDetails } = {};
  current = {
    id: m.id,
    cancel: (reason, details) => {
      holder.details = new ActivityCancellationDetails(details);
      const err = new CancelledFailure(reason);
      abort.abort(err);
      reject(err);
    },
  };
  const heartbeat = (details?: unknown) => send({ type: 'heartbeat', id: m.id, details });
  const ctx = new Context(m.info, cancelled, abort.signal, heartbeat, undefined, logger(m.id), noopMetricMeter, holder);
  const alive = setInterval(() => send({ type: 'alive', id: m.id }), ALIVE_EVERY_MS);
  try {
    const value = await asyncLocalStorage.run(ctx, () => fns[m.name]!(m.input, m.stage));
    try {
      send({ type: 'done', id: m.id, ok: true, value });
    } catch (e) {
      const why =
        `user activity "${m.name}" returned a value that cannot be sent back to the worker ` +
        `(${(e as Error).message}); return JSON data`;
      send({ type: 'done', id: m.id, ok: false, failure: toFailure(ApplicationFailure.nonRetryable(why, 'InvalidOutput')) });
    }
  } catch (e) {
    const code = errorCode(e);
    send({ type: 'done', id: m.id, ok: false, failure: toFailure(e), ...(code ? { code } : {}) });
  } finally {
    clearInterval(alive);
    current = undefined;
  }
}

async function main(): Promise<void> {
  exitWithParent();
  process.on('disconnect', () => process.exit(0));
  let fns: UserActivities;
  try {
    fns = await loadUserActivities(process.argv[2]!);
  } catch (e) {
    const m: FromChild = { type: 'load-error', message: (e as Error).message };
    process.send!(m, () => process.exit(1));
    return;
  }
  process.on('message', (m: ToChild) => {
    if (m.type === 'run') void run(fns, m);
    else if (m.type === 'cancel' && current?.id === m.id) current.cancel(m.reason, m.details);
  });
  send({ type: 'ready', names: Object.keys(fns).sort() });
}

await main();

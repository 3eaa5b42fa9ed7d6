/**
 * One execution of a user's activity in a pooled child process (user-pool.ts), bridged to this
 * activity's Temporal Context:
 *   - the child's heartbeats (progress, checkpoints) and log lines are passed on as they come;
 *   - the worker heartbeats on the child's behalf (repeating its last details), so that
 *     cancellation reaches this side even while the child's event loop is blocked;
 *   - the child is killed, and the stage's slot freed, when the attempt's timeout passes, when its
 *     event loop has not answered for the stage's heartbeat timeout, and CANCEL_GRACE_MS after a
 *     cancellation (run cancelled, heartbeat timed out, worker shutting down) it did not obey;
 *   - its result, or its failure (ApplicationFailure's type and nonRetryable included), comes
 *     back as if it had run here; a crash fails only this attempt.
 */
import { Context } from '@temporalio/activity';
import {
  ApplicationFailure,
  CancelledFailure,
  defaultFailureConverter,
  defaultPayloadConverter,
  TemporalFailure,
  type ProtoFailure,
} from '@temporalio/common';
import type { JsonValue, StageActivityInput } from '../../src/core/plan.ts';
import { describeExit, type UserActivityPool, type UserChild } from './user-pool.ts';
import { ALIVE_EVERY_MS, type FromChild, type ToChild } from './user-protocol.ts';

/** Time a cancelled user activity gets to checkpoint (heartbeat) and return before it is killed. */
export const CANCEL_GRACE_MS = 5_000;

let lastId = 0;

/** Milliseconds this attempt may still run: its start-to-close, or what is left of its schedule-to-close. */
function attemptBudgetMs(info: Context['info']): number | undefined {
  const budgets = [info.startToCloseTimeoutMs];
  if (info.scheduleToCloseTimeoutMs > 0) budgets.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - Date.now());
  const positive = budgets.filter((b) => b > 0);
  return positive.length ? Math.min(...positive) : undefined;
}

function cancellationFlags(ctx: Context): Record<string, boolean> {
  const d = ctx.cancellationDetails;
  return d ? { ...d } : {};
}

/** A child from the pool; the stage heartbeats (keeping its last checkpoint) and can be cancelled meanwhile. */
async function childFor(pool: UserActivityPool, ctx: Context, what: string): Promise<UserChild> {
  const beat = setInterval(() => ctx.heartbeat(ctx.info.heartbeatDetails), ALIVE_EVERY_MS);
  try {
    return await pool.acquire(ctx.cancellationSignal);
  } catch (e) {
    if (ctx.cancellationSignal.aborted)
      throw new CancelledFailure(String((ctx.cancellationSignal.reason as Error | undefined)?.message ?? 'cancelled'));
    throw ApplicationFailure.retryable(`${what}: ${(e as Error).message}`, 'UserActivityUnavailable');
  } finally {
    clearInterval(beat);
  }
}

/** The child's failure as the error it threw (its Node error `code` too: a full disk is still NoSpace). */
function errorFrom(failure: ProtoFailure, code: string | undefined): Error {
  const err = defaultFailureConverter.failureToError(failure, defaultPayloadConverter);
  // The SDK would send the attached proto as it came; dropped, the failure is encoded again from
  // the error, after the worker has redacted secrets from it.
  for (let e: unknown = err; e instanceof TemporalFailure; e = e.cause) e.failure = undefined;
  return code ? Object.assign(err, { code }) : err;
}

export async function runInChild(pool: UserActivityPool, name: string, input: JsonValue, stage: StageActivityInput): Promise<unknown> {
  const ctx = Context.current();
  const what = `user activity "${name}" (stage "${stage.stage}")`;
  const budget = attemptBudgetMs(ctx.info);
  const deadline = budget === undefined ? undefined : Date.now() + budget;
  const child = await childFor(pool, ctx, what);
  const id = ++lastId;
  let lastDetails: unknown = ctx.info.heartbeatDetails;
  let lastSign = Date.now();

  return new Promise<unknown>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const settle = (keepChild: boolean, finish: () => void) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      child.proc.off('message', onMessage);
      child.proc.off('exit', onExit);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
      if (keepChild) pool.release(child);
      else child.kill();
      finish();
    };
    const fail = (e: Error) => settle(false, () => reject(e));

    const onMessage = (m: FromChild) => {
      if (!('id' in m) || m.id !== id) return;
      lastSign = Date.now();
      if (m.type === 'heartbeat') {
        lastDetails = m.details;
        ctx.heartbeat(m.details);
      } else if (m.type === 'log') {
        ctx.log.log(m.level, m.message, m.meta);
      } else if (m.type === 'done') {
        settle(true, () => {
          if (m.ok) return resolve(m.value);
          reject(errorFrom(m.failure, m.code));
        });
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      const why = child.outOfMemory ? 'ran out of memory (JavaScript heap)' : `${describeExit(code, signal)}`;
      fail(ApplicationFailure.retryable(`${what}: its process ${why} before the activity returned`, 'UserActivityCrashed'));
    };
    const onCancel = () => {
      const reason = String((ctx.cancellationSignal.reason as Error | undefined)?.message ?? 'cancelled');
      post({ type: 'cancel', id, reason, details: cancellationFlags(ctx) });
      timers.push(setTimeout(() => fail(new CancelledFailure(reason)), CANCEL_GRACE_MS));
    };
    const post = (m: ToChild) => {
      const unreachable = (e: Error) =>
        fail(ApplicationFailure.retryable(`${what}: cannot reach its process: ${e.message}`, 'UserActivityCrashed'));
      try {
        child.proc.send(m, (e) => e && unreachable(e));
      } catch (e) {
        unreachable(e as Error); // a value that cannot be serialised
      }
    };

    const hbTimeout = ctx.info.heartbeatTimeoutMs;
    timers.push(
      setInterval(() => {
        ctx.heartbeat(lastDetails);
        if (hbTimeout && Date.now() - lastSign > hbTimeout) {
          fail(
            ApplicationFailure.retryable(
              `${what}: its process did not answer for longer than the heartbeat timeout (${hbTimeout} ms), ` +
                "so it was stopped; a long computation must yield (await) now and then, or raise the stage's heartbeatTimeout",
              'UserActivityUnresponsive',
            ),
          );
        }
      }, ALIVE_EVERY_MS),
    );
    if (deadline !== undefined) {
      timers.push(
        setTimeout(
          () => fail(ApplicationFailure.retryable(`${what} ran past its timeout (${budget} ms) and was stopped`, 'UserActivityTimedOut')),
          deadline - Date.now(),
        ),
      );
    }
    child.proc.on('message', onMessage);
    child.proc.once('exit', onExit);
    post({ type: 'run', id, name, input, stage, info: ctx.info });
    if (ctx.cancellationSignal.aborted) onCancel();
    else ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  });
}

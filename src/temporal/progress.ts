/**
 * The one activity-context API of mlpipe: the context itself, progress and checkpoints carried by
 * Temporal heartbeats, and the activity logger. Built-in activities (activities/) and user
 * activities use it alike.
 *
 *   reportProgress({ epoch, epochs, loss }, { epoch, weightsUri })  // heartbeats
 *   const resume = lastCheckpoint<{ epoch: number }>()                // on a retried attempt
 *   activityLog.warn('…')                                            // Temporal's activity logger
 *
 * Every heartbeat mlpipe sends has one shape, HeartbeatDetails: `{ progress, checkpoint? }`.
 * Heartbeats are also how cancellation (run cancelled, sibling failed, worker shutting down)
 * reaches an activity: call reportProgress (or heartbeat) often and check `cancelled()`.
 * Outside an activity (plain unit tests of ML code) these are no-ops, and the log is the console.
 */
import { Context, log } from '@temporalio/activity';
import type { JsonValue } from '../core/plan.ts';

export interface Progress {
  epoch?: number;
  epochs?: number;
  step?: number;
  steps?: number;
  loss?: number;
  message?: string;
  [metric: string]: JsonValue | undefined;
}

/** What every mlpipe heartbeat carries; `mlpipe status`/`--follow` read `progress`. */
export interface HeartbeatDetails<C = JsonValue> {
  progress?: Progress;
  checkpoint?: C;
}

/** The activity context, or undefined when called directly (tests, scripts). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const context = activityContext;

/**
 * In a worker, Temporal's activity logger (the worker's logger, with the workflow, activity and
 * attempt attached); called directly (tests, scripts), the console as before.
 */
export const activityLog = {
  info(message: string): void {
    if (activityContext()) log.info(message);
    else console.log(message);
  },
  warn(message: string): void {
    if (activityContext()) log.warn(message);
    else console.warn(message);
  },
};

let lastCheckpointSent: unknown;

/** Heartbeats with progress (and optionally a checkpoint to resume from on a retry). */
export function reportProgress(progress: Progress, checkpoint?: JsonValue): void {
  const ctx = context();
  if (!ctx) return;
  if (checkpoint !== undefined) lastCheckpointSent = checkpoint;
  const details: HeartbeatDetails = { progress: stripUndefined(progress) };
  const cp = checkpoint ?? lastCheckpointSent;
  if (cp !== undefined) details.checkpoint = cp as JsonValue;
  ctx.heartbeat(details);
}

/** The heartbeat details the previous attempt left (undefined on a first attempt). */
export function lastHeartbeat<C = JsonValue>(): HeartbeatDetails<C> | undefined {
  const d = context()?.info.heartbeatDetails as HeartbeatDetails<C> | undefined;
  return d && typeof d === 'object' ? d : undefined;
}

/** The checkpoint the previous attempt reported, to resume from. */
export function lastCheckpoint<C = JsonValue>(): C | undefined {
  return lastHeartbeat<C>()?.checkpoint;
}

/** Rejects/aborts when the activity is cancelled; undefined outside an activity. */
export function cancellationSignal(): AbortSignal | undefined {
  return context()?.cancellationSignal;
}

/** Attempt number of the running activity (1 outside an activity). */
export function attempt(): number {
  return context()?.info.attempt ?? 1;
}

function stripUndefined(p: Progress): Progress {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Progress;
}

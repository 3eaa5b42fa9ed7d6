/**
 * Progress and checkpoints for long activities, carried by Temporal heartbeats.
 *
 *   reportProgress({ epoch, epochs, loss }, { epoch, weightsUri })  // heartbeats
 *   const resume = lastCheckpoint<{ epoch: number }>()                // on a retried attempt
 *
 * Heartbeats are also how cancellation (run cancelled, sibling failed, worker shutting down)
 * reaches an activity: call reportProgress (or heartbeat) often and check `cancelled()`.
 * Outside an activity (plain unit tests of ML code) these are no-ops.
 */
import { Context } from '@temporalio/activity';
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

function context(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

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

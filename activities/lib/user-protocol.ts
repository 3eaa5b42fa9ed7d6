/**
 * Messages between a worker and the child processes that run users' activities
 * (user-pool.ts / user-run.ts on the worker's side, user-child.ts in the child), over Node's IPC
 * channel with structured-clone serialization. Every message about an execution carries its id,
 * so anything a finished execution left running in a reused child is ignored.
 */
import type { Info } from '@temporalio/activity';
import type { LogLevel, ProtoFailure } from '@temporalio/common';
import type { JsonValue, StageActivityInput } from '../../src/core/plan.ts';

export type ToChild =
  | { type: 'run'; id: number; name: string; input: JsonValue; stage: StageActivityInput; info: Info }
  | { type: 'cancel'; id: number; reason: string; details: Record<string, boolean> };

export type FromChild =
  | { type: 'ready'; names: string[] }
  | { type: 'load-error'; message: string }
  /** Sent every ALIVE_EVERY_MS while an execution runs: the child's event loop is not blocked. */
  | { type: 'alive'; id: number }
  | { type: 'heartbeat'; id: number; details: unknown }
  | { type: 'log'; id: number; level: LogLevel; message: string; meta?: Record<string, unknown> }
  | { type: 'done'; id: number; ok: true; value: unknown }
  /** `code`: a Node error code (ENOSPC…) of the error or its causes, which a Failure does not carry. */
  | { type: 'done'; id: number; ok: false; failure: ProtoFailure; code?: string };

export const ALIVE_EVERY_MS = 1_000;

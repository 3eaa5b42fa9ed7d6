/**
 * Users' own activities (the `activity` stage kind): functions exported by a module the worker
 * loads from `--activities <file>` or `MLPIPE_ACTIVITIES`. A stage names one and gives it JSON:
 *
 *   stages:
 *     notify: { type: activity, activity: postToSlack, input: { channel: '#ml' } }
 *
 * A user activity is `async (input, stage) => outputs`: `input` is the stage's `input` (with
 * `${…}` resolved), `stage` the full StageActivityInput (run, params, upstream artifacts). It
 * returns an object of outputs (or `{ outputs }`, or nothing). Throw to fail; throw
 * ApplicationFailure.nonRetryable(...) (from @temporalio/activity's re-export of common) to fail
 * without retries. Progress: src/temporal/progress.ts.
 *
 * The module is loaded, and each execution runs, in a child process of the worker
 * (lib/user-pool.ts, lib/user-child.ts), which is killed at the stage's timeout or on
 * cancellation; input, outputs, heartbeats and errors cross over as data (lib/user-run.ts).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JsonValue, StageActivityInput } from '../src/core/plan.ts';

export type UserActivity = (input: JsonValue, stage: StageActivityInput) => unknown;
export type UserActivities = Record<string, UserActivity>;

/** Imports a user activities module and keeps its exported functions. */
export async function loadUserActivities(file: string): Promise<UserActivities> {
  const path = resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load user activities from ${path}: ${(err as Error).message}`);
  }
  const fns: UserActivities = {};
  const collect = (src: Record<string, unknown>) => {
    for (const [name, v] of Object.entries(src)) if (typeof v === 'function') fns[name] = v as UserActivity;
  };
  collect(mod);
  if (mod.default && typeof mod.default === 'object') collect(mod.default as Record<string, unknown>);
  delete fns.default;
  if (Object.keys(fns).length === 0) {
    throw new Error(`user activities module ${path} exports no functions`);
  }
  return fns;
}

/** A user activity's return value as stage outputs. */
export function toOutputs(v: unknown): Record<string, JsonValue> {
  if (v === undefined || v === null) return {};
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (o.outputs && typeof o.outputs === 'object' && !Array.isArray(o.outputs) && Object.keys(o).length === 1) {
      return o.outputs as Record<string, JsonValue>;
    }
    return o as Record<string, JsonValue>;
  }
  return { result: v as JsonValue };
}

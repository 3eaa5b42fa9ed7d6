/**
 * The activity registry: what a worker registers. Stage kind `k` runs activity `stage.k`, which
 * lazily imports `activities/k.ts` (so a worker starts fast and heavy modules such as TensorFlow
 * load only when a stage needs them). A kind whose module is missing or broken fails that stage
 * with a non-retryable error naming the stage and kind; the worker keeps running.
 *
 * A kind module exports its activity as `default`, as the kind's name (`export async function
 * train`), or as `run`: `(input: StageActivityInput) => Promise<StageResult>`.
 */
import { resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import { relayProgress } from './lib/live-progress.ts';
import { ApplicationFailure } from '@temporalio/common';
import { STAGE_KINDS, type JsonObject, type StageActivityInput, type StageKind, type StageResult } from '../src/core/plan.ts';
import { liftLegacyFields } from '../src/core/legacy-plan.ts';
import { createStepCacheActivities } from '../src/temporal/step-cache.ts';
import { activityName, CACHE_LOOKUP, CACHE_STORE, type StageActivityResult } from '../src/core/activities.ts';
import { redactError, redactOutputs, resolveSecrets } from './lib/secrets.ts';
import { noSpaceFailure } from './lib/stage.ts';
import { redactStandardStreams, rememberSecrets, secretsInUse } from '../src/redaction.ts';
import { UserActivityPool } from './lib/user-pool.ts';
import { runInChild } from './lib/user-run.ts';
import { toOutputs } from './user.ts';

export type StageActivity = (input: StageActivityInput) => Promise<StageResult>;

export interface ActivityOptions {
  /** Data dir: the step cache's database is SQLite there unless `db` or MLPIPE_DB names one. */
  home: string;
  /** Metadata database URL for the step cache (tests, embedding); default MLPIPE_DB, else SQLite in `home`. */
  db?: string;
  /** File of users' own activities (`--activities` / MLPIPE_ACTIVITIES): they run in child processes. */
  userModule?: string;
  /** Replace the module-backed activity of some kinds (embedding, tests). */
  kinds?: Partial<Record<StageKind, StageActivity>>;
}

const loaded = new Map<string, Promise<StageActivity | Error>>();

function loadKind(kind: string, dir: URL = new URL('./', import.meta.url)): Promise<StageActivity | Error> {
  const cacheKey = `${dir.href}${kind}`;
  let p = loaded.get(cacheKey);
  if (!p) {
    p = import(new URL(`./${kind}.ts`, dir).href).then(
      (mod: Record<string, unknown>) => {
        const fn = mod.default ?? mod[kind] ?? mod.run;
        return typeof fn === 'function'
          ? (fn as StageActivity)
          : new Error(`activities/${kind}.ts exports no activity (default, ${kind} or run)`);
      },
      (err: Error & { code?: string }) =>
        err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`${kind}.ts`)
          ? new Error(`stage kind "${kind}" has no activity module (activities/${kind}.ts) in this worker`)
          : new Error(`activities/${kind}.ts failed to load: ${err.message}`),
    );
    loaded.set(cacheKey, p);
  }
  return p;
}

/**
 * The activity of a module-backed kind: imports `<dir>/<kind>.ts` on first use. A missing or
 * broken module fails the stage (non-retryable, naming stage and kind), never the worker.
 */
export function moduleBackedActivity(kind: string, dir?: URL): StageActivity {
  return async (input) => {
    const fn = await loadKind(kind, dir);
    if (fn instanceof Error) unavailable(input, fn.message);
    return fn(input);
  };
}

function unavailable(input: StageActivityInput, why: string): never {
  throw ApplicationFailure.nonRetryable(`stage "${input.stage}" (${input.kind}): ${why}`, 'StageKindUnavailable');
}

/**
 * Around every stage activity: resolves `${secrets.*}` from the worker's environment (and keeps
 * every secret this worker has used out of errors and outputs, in all their encodings), checks
 * the result's shape and adds the attempt number (the workflow reports it).
 */
function wrap(fn: StageActivity): (i: StageActivityInput) => Promise<StageActivityResult> {
  return async (given) => {
    const input = liftLegacyFields(given); // a run started by an older mlpipe
    const { value, secrets } = resolveSecrets({ config: input.config, tunedConfig: input.tunedConfig ?? null }, process.env, input.stage);
    rememberSecrets(secrets);
    const { config, tunedConfig } = value as { config: JsonObject; tunedConfig: JsonObject | null };
    let res: StageResult;
    const stopRelay = relayProgress(Context.current(), input.stage);
    try {
      res = await fn({ ...input, config, ...(tunedConfig ? { tunedConfig } : {}) });
    } catch (err) {
      throw redactError(noSpaceFailure(err, Context.current().info.attempt), secretsInUse());
    } finally {
      stopRelay();
    }
    const outputs = res && typeof res === 'object' && res.outputs && typeof res.outputs === 'object' ? res.outputs : {};
    const result = { outputs: redactOutputs(outputs, secretsInUse()), attempt: Context.current().info.attempt };
    checkResultSize(input, result);
    return result;
  };
}

/** Temporal's default payload limit: a larger result fails the activity with a bare size error. */
export const MAX_RESULT_BYTES = 2 * 1024 * 1024;

/** A stage's outputs land in the run's history: refuse a result Temporal would refuse, and say what to do. */
function checkResultSize(input: StageActivityInput, result: StageActivityResult): void {
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes <= MAX_RESULT_BYTES) return;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  throw ApplicationFailure.nonRetryable(
    `stage "${input.stage}" (${input.kind}): its outputs are ${mb(bytes)}, over ` +
      `the ${mb(MAX_RESULT_BYTES)} Temporal keeps for a stage result in the run's history; ` +
      'store large data as an artifact (defaultStore().put in src/artifacts) and return its reference',
    'OutputsTooLarge',
  );
}

/** Users' own activities: each execution runs in a child process (lib/user-run.ts). */
function userDispatcher(user: { pool: UserActivityPool; names: string[] } | undefined): StageActivity {
  return async (input) => {
    const name = input.config.activity ?? input.config.name;
    if (typeof name !== 'string') unavailable(input, 'an activity stage needs `activity: <exported function name>`');
    if (!user) {
      unavailable(input, `no user activities are loaded; start the worker with --activities <file> or MLPIPE_ACTIVITIES`);
    }
    if (!user.names.includes(name)) {
      unavailable(input, `no user activity "${name}" in ${user.pool.module} (it has: ${user.names.join(', ')})`);
    }
    return { outputs: toOutputs(await runInChild(user.pool, name, input.config.input ?? {}, input)) };
  };
}

/** Builds the activities object for Worker.create. */
export async function buildActivities(opts: ActivityOptions): Promise<Record<string, (...args: never[]) => Promise<unknown>>> {
  // A process that runs stages keeps their secrets out of its logs and console output.
  redactStandardStreams();
  let user: { pool: UserActivityPool; names: string[] } | undefined;
  if (opts.userModule) {
    // Children see the worker's data dir even when it was given here rather than in the environment.
    const pool = new UserActivityPool(resolve(opts.userModule), { MLPIPE_HOME: opts.home });
    user = { pool, names: await pool.start() };
  }

  const acts: Record<string, (i: never) => Promise<unknown>> = {};
  for (const kind of STAGE_KINDS) {
    const given = opts.kinds?.[kind];
    let fn: StageActivity;
    if (given) fn = given;
    else if (kind === 'activity') fn = userDispatcher(user);
    else fn = moduleBackedActivity(kind);
    acts[activityName(kind)] = wrap(fn);
  }
  const cache = createStepCacheActivities(opts.home, opts.db);
  acts[CACHE_LOOKUP] = cache.lookup;
  acts[CACHE_STORE] = cache.store;
  return acts;
}

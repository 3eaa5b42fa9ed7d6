/**
 * optimizeStudy: an optimize stage's search as a child workflow of the run. It drives a seeded
 * Study (src/core/search) and runs every trial as its own train activity (activity type
 * `stage.train`, id `<stage>.trial-<n>`) on the tuned stage's task queue with the tuned stage's
 * timeouts and retries: a trial heartbeats and checkpoints like a train stage, so a worker killed
 * mid-trial costs at most a checkpoint interval and a finished trial never runs again. With ASHA a
 * trial trains one rung at a time (`<stage>.trial-<n>.rung-<k>` after the first); the workflow
 * decides whether it goes on, from its checkpoint, or stops as pruned. Last, the `optimize`
 * activity (id `<stage>`) writes the trials artifact and the outputs.
 *
 * Each leg goes through the step cache like a train stage (runs since `optimize-trial-cache`):
 * its key is kind `train`, the trial's config with its epochs, the dataset's digest and, for a
 * leg that continues an ASHA trial, the digest of the model it continues. A hit is that leg's
 * outputs with no activity; so a second run (or `rerun --from tune`) of a stopped or failed
 * search runs only the trials the earlier one did not finish, to the same result.
 *
 * A child keeps the run's own history short (a search's trials are in this one) and shows the
 * search as one workflow with one activity per trial in the UI.
 */
import {
  ApplicationFailure,
  continueAsNew,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  activityName,
  CACHE_LOOKUP,
  CACHE_STORE,
  STAGE_PROGRESS_SIGNAL,
  type CacheLookupInput,
  type CacheLookupResult,
  type CacheStoreInput,
  type StageActivityResult,
  type StageProgress,
} from '../src/core/activities.ts';
import {
  isArtifactRef,
  type JsonObject,
  type JsonValue,
  type PlanNode,
  type StageActivityInput,
  type StudyTrial,
} from '../src/core/plan.ts';
import { driveStudy, legBudgets, studyTrial, type Leg, type LegResult } from '../src/core/search/drive.ts';
import { setPath, Study, type AshaOptions, type Direction, type SearchMethod, type Space } from '../src/core/search/index.ts';
import { activityOptions } from './activity-options.ts';
import { describeFailure } from './failures.ts';
import { taskQueueFor } from './routing.ts';

export interface OptimizeStudyInput {
  /** The optimize node and the train node it tunes (whose queue, timeouts and retries trials get). */
  node: PlanNode;
  tuned: PlanNode;
  /** The optimize activity's input, config and tunedConfig resolved. */
  input: StageActivityInput;
  /** Continue as new once the history has this many events (the run's `continueAsNewAfterEvents`; tests). */
  continueAsNewAfterEvents?: number;
  /** The finished trials of the execution this one continues. */
  carried?: StudyTrial[];
  /** The run's `--no-cache`: trials neither look up nor store in the step cache. */
  noCache?: boolean;
}

/** The optimize config fields the study reads (the schema's OptimizeStage; src/spec is not workflow code). */
interface OptimizeConfig {
  space: Space;
  method?: SearchMethod | 'successiveHalving';
  trials?: number;
  parallelism?: number;
  seed?: number;
  objective: { metric: string; direction: Direction };
  asha?: { minResource?: number; reductionFactor?: number };
}

type StageFn = (input: StageActivityInput) => Promise<StageActivityResult>;

const nonRetryable = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidSearch');

/** ASHA's options from the config: `asha` (or `successiveHalving`, eta 2) or explicit `asha` options. */
export function ashaOptions(cfg: OptimizeConfig): AshaOptions | undefined {
  const method = cfg.method ?? 'random';
  if (method === 'successiveHalving') return { minResource: cfg.asha?.minResource ?? 1, reductionFactor: cfg.asha?.reductionFactor ?? 2 };
  if (method !== 'asha' && !cfg.asha) return undefined;
  return { minResource: cfg.asha?.minResource ?? 1, reductionFactor: cfg.asha?.reductionFactor ?? 4 };
}

/** A short summary of a trial's params for the UI's timeline. */
function paramsText(params: Record<string, unknown>): string {
  const text = Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : String(v)}`)
    .join(', ');
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

export async function optimizeStudy(args: OptimizeStudyInput): Promise<StageActivityResult> {
  const { node, tuned, input, carried = [] } = args;
  // Trials relay their heartbeats here (activities/lib/live-progress.ts): the latest line per
  // trial shows in this workflow's Current Details; the run's stage table gets a line per trial end.
  const progress = new Map<string, string>();
  let latest: StudyTrial[] = [];
  const show = () => setCurrentDetails(studyDetails(node.id, latest, progress));
  setHandler(defineSignal<[StageProgress]>(STAGE_PROGRESS_SIGNAL), (p) => {
    progress.set(p.stage, p.text);
    show();
  });
  const parent = workflowInfo().parent;
  let ended = carried.length;

  const cfg = input.config as unknown as OptimizeConfig;
  const at = `stage "${node.id}" (optimize)`;
  const tunedConfig = input.tunedConfig;
  if (!tunedConfig) throw nonRetryable(`${at}: the plan does not carry the tuned stage's config (tunedConfig); recompile the pipeline`);
  const dataset = input.inputs.dataset;
  if (!dataset) throw nonRetryable(`${at}: no dataset input`);
  const fullEpochs = Number(tunedConfig.epochs ?? 1);
  const asha = ashaOptions(cfg);
  const method: SearchMethod = cfg.method === 'successiveHalving' ? 'asha' : (cfg.method ?? 'random');
  const { metric, direction } = cfg.objective;
  let study: Study;
  try {
    study = new Study({
      space: cfg.space,
      method,
      direction,
      seed: cfg.seed ?? 0,
      ...(asha ? { asha } : {}),
      trials: carried.map(studyTrial),
    });
    // Every path must exist in the tuned config before anything trains.
    for (const path of Object.keys(cfg.space)) setPath(structuredCopy(tunedConfig), path, 0);
  } catch (e) {
    throw nonRetryable(`${at}: ${(e as Error).message}`);
  }
  const budgets = legBudgets(fullEpochs, asha);
  // Histories recorded before the trial cache schedule no look-ups: they replay as they ran.
  // `--no-cache` skips the trial cache whole (stages still store theirs): its searches schedule
  // only their trials.
  const useCache = patched('optimize-trial-cache') && tuned.cache.enabled && !args.noCache;
  // Ordinary activities on the optimize stage's queue, not local ones as for stages: trials look
  // up while others run and signal the run, and local activities' results replay in other
  // batches than they arrived in live, which reorders those commands (a nondeterminism error).
  const stepCache = (activityId: string) =>
    proxyActivities<{
      [CACHE_LOOKUP]: (i: CacheLookupInput) => Promise<CacheLookupResult>;
      [CACHE_STORE]: (i: CacheStoreInput) => Promise<void>;
    }>({
      taskQueue: taskQueueFor(node),
      startToCloseTimeout: '30s',
      retry: { maximumAttempts: 3 },
      activityId,
      summary: `${activityId}: step cache`,
    });

  const trainLeg = (activityId: string, summary: string): StageFn =>
    proxyActivities<Record<string, StageFn>>({
      ...activityOptions(tuned),
      activityId,
      summary,
    })[activityName('train')] as StageFn;

  // A leg's outputs as the driver wants them; cached ones are checked like fresh ones.
  function legResult(out: Record<string, JsonValue>, attempt: number, cached: boolean): LegResult {
    if (!(metric in out)) {
      throw nonRetryable(
        `${at}: objective metric ${JSON.stringify(metric)} is not an output of the tuned stage (it has: ${Object.keys(out).join(', ')})`,
      );
    }
    return {
      value: typeof out[metric] === 'number' ? out[metric] : null,
      ...(isArtifactRef(out.model) ? { model: out.model } : {}),
      ...(typeof out.epochs === 'number' ? { epochs: out.epochs } : {}),
      ...(typeof out.resumedFromEpoch === 'number' ? { resumedFromEpoch: out.resumedFromEpoch } : {}),
      attempt,
      ...(cached ? { cached } : {}),
    };
  }

  // The step cache's entry for a leg; an unavailable cache is a miss (the leg runs), as for stages.
  async function lookup(id: string, config: JsonObject, leg: Leg): Promise<CacheLookupResult | undefined> {
    const resumes = leg.index > 0 ? leg.previous?.model : undefined;
    try {
      return await stepCache(`${id}.cache`)[CACHE_LOOKUP]({
        kind: 'train',
        config,
        inputDigests: { dataset: dataset!.digest, ...(resumes ? { resumes: resumes.digest } : {}) },
        ...(tuned.cache.ttlMs !== undefined ? { ttlMs: tuned.cache.ttlMs } : {}),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn(`${id}: step cache unavailable, running the trial: ${describeFailure(err)}`);
      return undefined;
    }
  }

  // One leg: the tuned config with the trial's values, trained to the leg's epochs as `<stage>.trial-<n>`.
  async function runLeg(leg: Leg): Promise<LegResult> {
    const config = structuredCopy(tunedConfig!);
    for (const [path, v] of Object.entries(leg.params)) setPath(config, path, v);
    const stage = `${node.id}.trial-${leg.trial}`;
    const legConfig = { ...config, epochs: leg.epochs };
    const id = leg.index === 0 ? stage : `${stage}.rung-${leg.index}`;
    const found = useCache ? await lookup(id, legConfig, leg) : undefined;
    if (found?.outputs) return legResult(found.outputs, 1, true);
    // A leg after a cached one has no checkpoint of this run to continue: it trains from the start.
    const continues = leg.index > 0 && !leg.previous?.cached;
    const res = await trainLeg(
      id,
      `trial ${leg.trial} (train${leg.legs > 1 ? `, ${leg.epochs} epochs` : ''}): ${paramsText(leg.params)}`,
    )({
      run: input.run,
      stage,
      kind: 'train',
      config: legConfig,
      inputs: { dataset: dataset! },
      params: input.params,
      trial: { of: node.id, id: leg.trial, continues },
    });
    const out = res.outputs ?? {};
    const result = legResult(out, res.attempt ?? 1, false);
    if (found?.key) {
      try {
        await stepCache(`${id}.cache-store`)[CACHE_STORE]({ key: found.key, stage, outputs: out });
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.warn(`${stage}: could not store the trial in the step cache: ${describeFailure(err)}`);
      }
    }
    return result;
  }

  // A long search continues as new between trials (its finished rows carried), so its history stays bounded.
  const limit = args.continueAsNewAfterEvents;
  const { table: trials, paused } = await driveStudy({
    study,
    done: carried,
    pause: () => workflowInfo().continueAsNewSuggested || (limit !== undefined && workflowInfo().historyLength >= limit),
    trials: cfg.trials ?? 10,
    parallelism: cfg.parallelism ?? 1,
    budgets,
    runLeg,
    // cancellation and a search that cannot work (no such metric) stop it; anything else loses one trial
    fatal: (err) => isCancellation(err) || (err instanceof ApplicationFailure && err.type === 'InvalidSearch'),
    describe: describeFailure,
    onChange: (table) => {
      latest = table;
      show();
      const done = table.filter((t) => t.state !== 'running').length;
      if (!parent || done === ended) return;
      ended = done;
      // One signal per finished trial: the run's Current Details say how far the search is.
      const text = `${done}/${cfg.trials ?? 10} trials${bestLine(table, metric, direction)}`;
      void getExternalWorkflowHandle(parent.workflowId, parent.runId)
        .signal(STAGE_PROGRESS_SIGNAL, { stage: node.id, text } satisfies StageProgress)
        .catch(() => undefined);
    },
    prunedReason: (epochs, value) =>
      `pruned at epoch ${epochs}: ${metric} ${value} is not in the top 1/${asha!.reductionFactor} of the trials at this rung`,
  });
  if (paused) return await continueAsNew<typeof optimizeStudy>({ ...args, carried: trials });
  const write = proxyActivities<Record<string, StageFn>>({
    taskQueue: taskQueueFor(node),
    startToCloseTimeout: node.activity.startToCloseTimeoutMs,
    retry: {
      maximumAttempts: node.activity.retry.maximumAttempts,
      initialInterval: node.activity.retry.initialIntervalMs,
      backoffCoefficient: node.activity.retry.backoffCoefficient,
      maximumInterval: node.activity.retry.maximumIntervalMs,
      nonRetryableErrorTypes: node.activity.retry.nonRetryableErrorTypes,
    },
    activityId: node.id,
    summary: `${node.id} (optimize): the trials table and the best trial`,
  })[activityName('optimize')] as StageFn;
  return await write({ ...input, study: { trials } });
}

/** `, best val_loss 0.1234 (trial 3)` once a trial is complete. */
function bestLine(table: StudyTrial[], metric: string, direction: Direction): string {
  let best: StudyTrial | undefined;
  for (const t of table) {
    if (t.state !== 'complete' || typeof t.value !== 'number') continue;
    if (!best || (direction === 'maximize' ? t.value > best.value! : t.value < best.value!)) best = t;
  }
  return best ? `, best ${metric} ${Number(best.value!.toPrecision(4))} (trial ${best.id})` : '';
}

/** The search's Current Details in the UI: a row per trial, live progress for running ones. */
function studyDetails(stage: string, table: StudyTrial[], progress: Map<string, string>): string {
  const rows = table.map((t) => {
    const note =
      t.state === 'running'
        ? (progress.get(`${stage}.trial-${t.id}`) ?? '')
        : (t.reason ?? t.error ?? (t.cached ? 'from the step cache' : ''));
    const value = typeof t.value === 'number' ? String(Number(t.value.toPrecision(5))) : '';
    return (
      `| ${t.id} | ${t.state} | ${value} | ${paramsText(t.params).replace(/\|/g, '\\|')} ` +
      `| ${note.replace(/\|/g, '\\|').slice(0, 120)} |`
    );
  });
  return [`**search ${stage}**`, '', '| trial | state | value | params | note |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** A deep copy of plain JSON (structuredClone is not in the workflow sandbox). */
function structuredCopy(o: JsonObject): JsonObject {
  return JSON.parse(JSON.stringify(o)) as JsonObject;
}

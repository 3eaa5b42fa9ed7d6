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
 * A child keeps the run's own history short (a search's trials are in this one) and shows the
 * search as one workflow with one activity per trial in the UI.
 */
import { ApplicationFailure, defineSignal, isCancellation, proxyActivities, setHandler } from '@temporalio/workflow';
import { activityName, STAGE_PROGRESS_SIGNAL, type StageActivityResult, type StageProgress } from '../src/core/activities.ts';
import { isArtifactRef, type JsonObject, type PlanNode, type StageActivityInput, type StudyTrial } from '../src/core/plan.ts';
import { rungStep, setPath, Study, type AshaOptions, type Direction, type SearchMethod, type Space } from '../src/core/search/index.ts';
import { describeFailure } from './failures.ts';
import { taskQueueFor } from './routing.ts';

export interface OptimizeStudyInput {
  /** The optimize node and the train node it tunes (whose queue, timeouts and retries trials get). */
  node: PlanNode;
  tuned: PlanNode;
  /** The optimize activity's input, config and tunedConfig resolved. */
  input: StageActivityInput;
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

/** The epoch budgets of a trial's legs: each rung below the full epochs, then the full epochs. */
export function legBudgets(fullEpochs: number, asha: AshaOptions | undefined): number[] {
  if (!asha) return [fullEpochs];
  const out: number[] = [];
  for (let k = 0; rungStep(k, asha) < fullEpochs; k++) out.push(rungStep(k, asha));
  return [...out, fullEpochs];
}

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

export async function optimizeStudy({ node, tuned, input }: OptimizeStudyInput): Promise<StageActivityResult> {
  // Trials relay their heartbeats here (activities/lib/live-progress.ts): keep the latest line per trial.
  const progress = new Map<string, string>();
  setHandler(defineSignal<[StageProgress]>(STAGE_PROGRESS_SIGNAL), (p) => void progress.set(p.stage, p.text));

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
    study = new Study({ space: cfg.space, method, direction, seed: cfg.seed ?? 0, ...(asha ? { asha } : {}) });
    // Every path must exist in the tuned config before anything trains.
    for (const path of Object.keys(cfg.space)) setPath(structuredCopy(tunedConfig), path, 0);
  } catch (e) {
    throw nonRetryable(`${at}: ${(e as Error).message}`);
  }
  const budgets = legBudgets(fullEpochs, asha);
  const rows = new Map<number, StudyTrial>();

  const a = tuned.activity;
  const trainLeg = (activityId: string, summary: string): StageFn =>
    proxyActivities<Record<string, StageFn>>({
      taskQueue: taskQueueFor(tuned),
      startToCloseTimeout: a.startToCloseTimeoutMs,
      scheduleToCloseTimeout: a.scheduleToCloseTimeoutMs,
      heartbeatTimeout: a.heartbeatTimeoutMs,
      retry: {
        maximumAttempts: a.retry.maximumAttempts,
        initialInterval: a.retry.initialIntervalMs,
        backoffCoefficient: a.retry.backoffCoefficient,
        maximumInterval: a.retry.maximumIntervalMs,
        nonRetryableErrorTypes: a.retry.nonRetryableErrorTypes,
      },
      activityId,
      summary,
    })[activityName('train')] as StageFn;

  async function runTrial(id: number, params: Record<string, string | number | boolean>): Promise<void> {
    const row: StudyTrial = { id, params, state: 'running', resumedFromEpoch: [], attempts: [] };
    rows.set(id, row);
    const config = structuredCopy(tunedConfig!);
    for (const [path, v] of Object.entries(params)) setPath(config, path, v);
    const stage = `${node.id}.trial-${id}`;
    let value: number | null = null;
    try {
      for (let k = 0; k < budgets.length; k++) {
        const epochs = budgets[k]!;
        const activityId = k === 0 ? stage : `${stage}.rung-${k}`;
        const summary = `trial ${id} (train${budgets.length > 1 ? `, ${epochs} epochs` : ''}): ${paramsText(params)}`;
        const res = await trainLeg(activityId, summary)({
          run: input.run,
          stage,
          kind: 'train',
          config: { ...config, epochs },
          inputs: { dataset: dataset! },
          params: input.params,
          trial: { of: node.id, id, continues: k > 0 },
        });
        const out = res.outputs;
        if (!(metric in out)) {
          throw nonRetryable(`${at}: objective metric ${JSON.stringify(metric)} is not an output of the tuned stage (it has: ${Object.keys(out).join(', ')})`);
        }
        value = typeof out[metric] === 'number' ? (out[metric] as number) : null;
        if (isArtifactRef(out.model)) row.model = out.model;
        if (typeof out.epochs === 'number') row.epochs = out.epochs;
        row.resumedFromEpoch!.push(typeof out.resumedFromEpoch === 'number' ? out.resumedFromEpoch : 0);
        row.attempts!.push(res.attempt ?? 1);
        if (k === budgets.length - 1 || value === null) break;
        if (study.report(id, epochs, value)) {
          Object.assign(row, study.trials[id], { reason: `pruned at epoch ${epochs}: ${metric} ${value} is not in the top 1/${asha!.reductionFactor} of the trials at this rung` });
          return;
        }
      }
    } catch (err) {
      if (isCancellation(err) || (err instanceof ApplicationFailure && err.type === 'InvalidSearch')) throw err;
      Object.assign(row, study.tell(id, null, describeFailure(err)));
      return;
    }
    Object.assign(row, study.tell(id, value));
  }

  // Keep `parallelism` trials in flight; a new one is asked for as soon as one ends.
  const want = cfg.trials ?? 10;
  const parallelism = Math.max(1, cfg.parallelism ?? 1);
  const inFlight = new Map<number, Promise<void>>();
  let asked = 0;
  let exhausted = false;
  for (;;) {
    while (!exhausted && inFlight.size < parallelism && asked < want) {
      const t = study.ask();
      if (!t) {
        exhausted = true; // a grid with fewer points than `trials`
        break;
      }
      asked++;
      inFlight.set(t.id, runTrial(t.id, t.params).finally(() => inFlight.delete(t.id)));
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight.values());
  }

  const trials = [...rows.values()].sort((x, y) => x.id - y.id);
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

/** A deep copy of plain JSON (structuredClone is not in the workflow sandbox). */
function structuredCopy(o: JsonObject): JsonObject {
  return JSON.parse(JSON.stringify(o)) as JsonObject;
}

// optimize: hyper-parameter search over the tuned train stage's config.
// - Runs started by this version: the optimizeStudy workflow (workflows/optimize-study.ts) runs
//   each trial as its own train activity and then calls this activity with the finished table
//   (`input.study`): it only writes the trials artifact and the outputs (writeStudy).
// - Runs of older workflows (histories recorded before `optimize-trials-as-activities`): every
//   trial runs the train stage's core in-process on the same dataset with the trial's values set
//   at their config paths; successive halving sets `epochs` to the rung's budget. Heartbeats
//   carry every finished trial, so a retried attempt only runs the trials that were not finished.
// The plan carries the tuned stage's resolved config beside this one (`tunedConfig`).
import { CancelledFailure } from '@temporalio/common';
import type { ArtifactRef, JsonObject, JsonValue, StageActivityInput, StageResult } from '../src/core/plan.ts';
import type { StudyTrial } from '../src/core/plan.ts';
import { search, setPath, StopSearch, type TrialRecord } from '../src/ml/search/index.ts';
import { invalid, lineage, requireInput, stageConfig, stageEnv, where, type StageEnv } from './lib/stage.ts';
import { trainCore } from './train.ts';
import { activityLog, type HeartbeatDetails } from '../src/temporal/progress.ts';
import { updateRunReport } from '../src/ml/report/report.ts';
import type { SearchSection } from '../src/ml/report/search.ts';

/** Optimize's heartbeat: the search's progress, and as its checkpoint every finished trial. */
type OptimizeHeartbeat = HeartbeatDetails<{ trials: TrialRecord<ArtifactRef>[] }> & {
  progress: { message: string; step: number; steps: number; best?: number };
};

/**
 * The trials a previous attempt finished, from its last heartbeat: `{ checkpoint: { trials } }`,
 * or `{ trials }` beside `progress` as earlier versions sent it (a worker upgraded mid-search
 * still skips the trials the old one finished).
 */
export function priorTrials(details: unknown): TrialRecord<ArtifactRef>[] {
  if (!details || typeof details !== 'object') return [];
  const d = details as { checkpoint?: { trials?: unknown }; trials?: unknown };
  const trials = d.checkpoint?.trials ?? d.trials;
  return Array.isArray(trials) ? (trials as TrialRecord<ArtifactRef>[]) : [];
}

export async function optimizeCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const at = where(input);
  const cfg = stageConfig(input, 'optimize');
  const tuned = input.tunedConfig;
  if (!tuned || typeof tuned !== 'object') {
    invalid(
      `${at}: the plan does not carry the config of the tuned stage ${JSON.stringify(cfg.tunes)} ` +
        '(tunedConfig); recompile the pipeline with this mlpipe version',
    );
  }
  if (input.study) return writeStudy(input, env, input.study.trials);
  const dataset = requireInput(input, 'dataset', 'dataset');
  const method = cfg.method ?? 'random';
  if (method === 'tpe' || method === 'asha')
    invalid(
      `${at}: method ${method} runs only as a durable search (trials as activities); this run's workflow predates it: start a new run`,
    );
  const trials = cfg.trials ?? 10;
  const fullEpochs = Number(tuned.epochs ?? 1);
  // Check every path against the tuned config before training anything.
  for (const path of Object.keys(cfg.space)) {
    try {
      setPath(structuredClone(tuned) as Record<string, unknown>, path, 0);
    } catch (e) {
      invalid(`${at}: space: ${(e as Error).message}`);
    }
  }
  const prior = priorTrials(env.heartbeatDetails);
  const steps =
    method === 'grid'
      ? Math.min(
          trials,
          Object.values(cfg.space).reduce((a, d) => a * (d.type === 'choice' ? d.values.length : 3), 1),
        )
      : trials;
  let bestSoFar: number | undefined;
  let finished: TrialRecord<ArtifactRef>[] = prior;
  function beat(message: string): void {
    env.heartbeat({
      progress: { message, step: finished.length, steps, ...(bestSoFar !== undefined ? { best: bestSoFar } : {}) },
      checkpoint: { trials: finished },
    } satisfies OptimizeHeartbeat);
  }

  const res = await search<ArtifactRef>({
    space: cfg.space,
    method,
    trials,
    parallelism: cfg.parallelism ?? 1,
    seed: cfg.seed ?? 0,
    direction: cfg.objective.direction,
    maxBudget: fullEpochs,
    done: prior,
    run: async (params, id, budget) => {
      if (env.signal?.aborted) throw new StopSearch(`${at}: cancelled`, { cause: new CancelledFailure(`${at}: cancelled`) });
      const config = structuredClone(tuned) as Record<string, unknown>;
      for (const [path, v] of Object.entries(params)) setPath(config, path, v);
      if (budget !== undefined) config.epochs = budget;
      // One checkpoint at the end of a trial (retries resume whole trials, not epochs).
      config.checkpoint = { everyEpochs: Number(config.epochs), keepLast: 1 };
      const trialInput: StageActivityInput = {
        ...input,
        kind: 'train',
        stage: `${input.stage}.trial-${id}${budget !== undefined ? `-e${budget}` : ''}`,
        config: config as JsonObject,
        inputs: { dataset },
      };
      let out: StageResult;
      try {
        out = await trainCore(trialInput, {
          ...env,
          attempt: 1,
          heartbeatDetails: undefined,
          report: false,
          heartbeat: () => beat(`trial ${id}: training`),
        });
      } catch (e) {
        if (e instanceof CancelledFailure) throw new StopSearch(e.message, { cause: e });
        throw e;
      }
      const v = out.outputs[cfg.objective.metric];
      if (v === undefined) {
        throw new StopSearch(
          `${at}: objective metric ${JSON.stringify(cfg.objective.metric)} is not an output of the tuned stage ` +
            `(it has: ${Object.keys(out.outputs).join(', ')})`,
        );
      }
      return { value: typeof v === 'number' ? v : null, artifact: out.outputs.model as unknown as ArtifactRef };
    },
    onTrial: (t, all) => {
      if (
        t.value !== null &&
        (bestSoFar === undefined || (cfg.objective.direction === 'maximize' ? t.value > bestSoFar : t.value < bestSoFar))
      )
        bestSoFar = t.value;
      finished = all.slice();
      beat(`trial ${t.id} done: ${cfg.objective.metric}=${t.value ?? 'failed'}`);
    },
  }).catch((e: unknown) => {
    if (!(e instanceof StopSearch)) throw e;
    if (e.cause instanceof CancelledFailure) throw e.cause; // cancelled: Temporal must see a cancellation
    return invalid(e.message);
  });

  const best = res.best;
  if (!best || best.value === null || !best.artifact) {
    const why = res.trials.find((t) => t.error)?.error;
    return invalid(`${at}: no trial produced a value of ${cfg.objective.metric}${why ? ` (first error: ${why})` : ''}`);
  }
  const doc = {
    stage: input.stage,
    tunes: cfg.tunes,
    method,
    objective: cfg.objective,
    best: { id: best.id, params: best.params, value: best.value, model: best.artifact },
    trials: res.trials,
  };
  const trialsRef = await env.store.put(Buffer.from(JSON.stringify(doc, null, 1)), { kind: 'metrics', lineage: lineage(input, env) });
  const outputs: Record<string, JsonValue> = {
    model: { ...best.artifact },
    best: best.params,
    bestValue: best.value,
    trials: { ...trialsRef },
  };
  return { outputs };
}

/** The outputs of a search whose trials ran as their own activities: the best trial's model and params. */
async function writeStudy(input: StageActivityInput, env: StageEnv, trials: StudyTrial[]): Promise<StageResult> {
  const at = where(input);
  const cfg = stageConfig(input, 'optimize');
  const dir = cfg.objective.direction;
  let best: StudyTrial | undefined;
  for (const t of trials) {
    if (t.state !== 'complete' || typeof t.value !== 'number' || !Number.isFinite(t.value) || !t.model) continue;
    if (!best || (dir === 'maximize' ? t.value > best.value! : t.value < best.value!)) best = t;
  }
  if (!best) {
    const why = trials.find((t) => t.error)?.error;
    return invalid(`${at}: no trial produced a value of ${cfg.objective.metric}${why ? ` (first error: ${why})` : ''}`);
  }
  // Best so far after each trial, in id order: the report's curve and the table's last column.
  let running: number | undefined;
  const rows = trials.map((t) => {
    if (
      t.state === 'complete' &&
      typeof t.value === 'number' &&
      (running === undefined || (dir === 'maximize' ? t.value > running : t.value < running))
    )
      running = t.value;
    return { ...t, bestSoFar: running ?? null };
  });
  const doc = {
    stage: input.stage,
    tunes: cfg.tunes,
    method: cfg.method ?? 'random',
    objective: cfg.objective,
    best: { id: best.id, params: best.params, value: best.value, model: best.model },
    trials: rows,
  };
  const trialsRef = await env.store.put(Buffer.from(JSON.stringify(doc, null, 1)), { kind: 'metrics', lineage: lineage(input, env) });
  const search: SearchSection = {
    stage: input.stage,
    tunes: cfg.tunes,
    method: cfg.method ?? 'random',
    metric: cfg.objective.metric,
    direction: dir,
    best: best.id,
    trials: rows.map((t) => ({
      id: t.id,
      state: t.state,
      value: t.state === 'complete' ? (t.value ?? null) : null,
      bestSoFar: t.bestSoFar,
      params: t.params,
      ...(t.epochs !== undefined ? { epochs: t.epochs } : {}),
      ...(t.reason || t.error ? { note: t.reason ?? t.error } : {}),
    })),
  };
  await updateRunReport(input.run, env.store, { search }).catch((e: unknown) =>
    activityLog.warn(`${at}: could not write the run report: ${(e as Error).message}`),
  );
  return { outputs: { model: { ...best.model! }, best: best.params, bestValue: best.value!, trials: { ...trialsRef } } };
}

export async function optimize(input: StageActivityInput): Promise<StageResult> {
  return optimizeCore(input, stageEnv());
}

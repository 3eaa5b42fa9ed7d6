import { CancelledFailure } from '@temporalio/common';
import type { ArtifactRef, JsonValue, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { backendInfo, getTf, selectBackend, type BackendInfo } from '../src/ml/runtime/backend.ts';
import { encodeModel, loadModel } from '../src/ml/train/checkpoint.ts';
import { fit, fitParts, restoreModel, snapshotModel, type FitOptions, type FitResult } from '../src/ml/train/fit.ts';
import { buildModel, ModelSpecError, type BuiltModel } from '../src/ml/train/model.ts';
import { augmentBatch, augmentUnfit, augments } from '../src/ml/train/augment.ts';
import type { MetricName, TrainModelSpec } from '../src/ml/train/model-spec.ts';
import { updateRunReport } from '../src/ml/report/report.ts';
import { setPath } from '../src/core/search/config-path.ts';
import { Registry } from '../src/serving/registry.ts';
import { activityLog, type HeartbeatDetails } from '../src/temporal/progress.ts';
import { invalid, lineage, openDataset, requireInput, stageConfig, stageEnv, where, withHeartbeats, type StageEnv } from './lib/stage.ts';
import { balancedWeights, chunkedTrainingData, trainingData, type TrainingShape } from './lib/train-data.ts';
import { TrainCheckpointer, type EpochHistory } from './lib/train-checkpoints.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';
import type { TrainMetric } from '../src/spec/types.gen.ts';

export { heartbeatCheckpoint, type TrainCheckpoint, type TrainHeartbeat, type TrainProgress } from './lib/train-checkpoints.ts';

/**
 * The schema requires these on TrainStage; the type generated from its `allOf` leaves them
 * optional, so they are required again here.
 */
export type TrainConfig = StageConfig<'train'> & Required<Pick<StageConfig<'train'>, 'model' | 'optimizer' | 'loss' | 'epochs'>>;

const FIT_METRIC: Record<TrainMetric, MetricName> = {
  accuracy: 'accuracy',
  mse: 'meanSquaredError',
  mae: 'meanAbsoluteError',
  precision: 'precision',
  recall: 'recall',
};

export async function trainCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const at = where(input);
  const cfg = withParams(stageConfig(input, 'train') as TrainConfig, at);
  selectBackend(cfg.backend && cfg.backend !== 'auto' ? cfg.backend : undefined);
  const backend = backendInfo();
  const opened = await openDataset(env.store, requireInput(input, 'dataset', 'dataset'));
  // One chunk: the whole dataset in memory, as always. Several: read a chunk at a time (fitParts).
  // (counting a chunked dataset's rows may read every chunk: heartbeats go on meanwhile, the
  // previous attempt's details re-sent unchanged so a retry still finds its checkpoint)
  const data =
    opened.chunkRows.length <= 1
      ? trainingData(await opened.chunk(0), cfg, at)
      : await withHeartbeats(env, readingDetails(input, env), () => chunkedTrainingData(opened, cfg, at));
  const spec = modelSpec(cfg);
  const unfit = augments(cfg.augment) ? augmentUnfit(data.featureShape) : null;
  if (unfit) invalid(`${at}: ${unfit}`);
  const { model, outputKind } = buildTrainModel(spec, cfg, data, at);
  await warmStart(input, env, cfg, model, at);
  const checkpoints = await TrainCheckpointer.open(input, env, {
    epochs: cfg.epochs,
    seed: cfg.seed ?? 0,
    batches: Math.ceil(data.rows / (cfg.batchSize ?? 32)),
    checkpoint: cfg.checkpoint,
  });
  const classWeight = classWeightsFor(cfg, data, at);
  const opts = fitOptions(cfg, data, classWeight, checkpoints, env.signal);
  const res = 'parts' in data ? await fitParts(model, spec, data.parts, opts) : await fit(model, spec, data.x, data.y, opts);
  if (res.stopReason === 'cancelled') {
    model.dispose();
    throw new CancelledFailure(
      `${at}: training cancelled after epoch ${checkpoints.history.length}; the last checkpoint ` +
        `(epoch ${checkpoints.last?.epoch ?? 'none'}) is kept`,
    );
  }
  const modelRef = await env.store.put(
    await encodeModel(model, {
      outputKind,
      loss: cfg.loss,
      classes: data.classes,
      numClasses: data.classification ? data.k : undefined,
      featureShape: data.featureShape,
      backend,
      spec,
    }),
    { kind: 'model', lineage: lineage(input, env) },
  );
  model.dispose();
  const run: FinishedFit = { res, backend, history: checkpoints.history, startEpoch: checkpoints.startEpoch };
  const outputs = await trainOutputs(input, env, cfg, modelRef, run);
  await reportTraining(input, env, cfg, run);
  return { outputs };
}

function modelSpec(cfg: TrainConfig): TrainModelSpec {
  return {
    model: cfg.model,
    optimizer: cfg.optimizer,
    learningRateSchedule: cfg.learningRateSchedule,
    loss: cfg.loss,
    metrics: fitMetrics(cfg),
  };
}

/** The model for `spec`, whose last layer must fit the loss and the dataset's classes. */
function buildTrainModel(spec: TrainModelSpec, cfg: TrainConfig, data: TrainingShape, at: string): BuiltModel {
  let built: BuiltModel;
  try {
    built = buildModel(spec, { inputShape: data.featureShape, seed: cfg.seed ?? 0 });
  } catch (e) {
    if (e instanceof ModelSpecError) return invalid(`${at}: ${e.message}`);
    throw e;
  }
  const { classification, k } = data;
  const outUnits = built.model.outputs[0]!.shape.at(-1);
  const wantUnits = cfg.loss === 'binaryCrossentropy' || !classification ? 1 : k;
  if (outUnits !== wantUnits) {
    return invalid(
      `${at}: the model's last layer has ${outUnits} units but loss ${cfg.loss} on this dataset needs ${wantUnits}` +
        (classification ? ` (${k} classes)` : '') +
        "; fix the last layer's units",
    );
  }
  return built;
}

/**
 * Warm start from an upstream model artifact, or from a registered model (`warmStart.model`),
 * with the same architecture; the first `freezeLayers` layers then stay as they are.
 */
async function warmStart(
  input: StageActivityInput,
  env: StageEnv,
  cfg: TrainConfig,
  model: BuiltModel['model'],
  at: string,
): Promise<void> {
  let warm = input.inputs.model;
  if (!warm && cfg.warmStart) {
    const found = await registeredModel(cfg.warmStart.model, cfg.warmStart.version);
    if (typeof found === 'string') return invalid(`${at}: warmStart: ${found}`);
    warm = found;
  }
  if (!warm) return;
  const { model: prev } = await loadModel(await env.store.get(warm));
  try {
    restoreModel(getTf(), model, await snapshotModel(prev));
  } catch (e) {
    return invalid(`${at}: warm start from ${warm.digest}: ${(e as Error).message}`);
  } finally {
    prev.dispose();
  }
  const freeze = cfg.warmStart?.freezeLayers ?? 0;
  model.layers.slice(0, freeze).forEach((l) => (l.trainable = false));
}

/** Per-class loss weights (classification only): 'balanced', or a weight per class name or id. */
function classWeightsFor(cfg: TrainConfig, data: TrainingShape, at: string): Record<number, number> | undefined {
  if (!data.classification || !cfg.classWeights) return undefined;
  if (cfg.classWeights === 'balanced') return balancedWeights(data.classCounts);
  return Object.fromEntries(
    Object.entries(cfg.classWeights).map(([c, w]) => {
      const id = data.classes ? data.classes.indexOf(c) : Number(c);
      if (!(id >= 0) || !Number.isInteger(id))
        invalid(
          `${at}: classWeights: ${JSON.stringify(c)} is not a class (classes: ${(data.classes ?? [...Array(data.k).keys()]).join(', ')})`,
        );
      return [id, w];
    }),
  );
}

function fitOptions(
  cfg: TrainConfig,
  data: TrainingShape & { validation?: FitOptions['validation'] },
  classWeight: Record<number, number> | undefined,
  checkpoints: TrainCheckpointer,
  signal: AbortSignal | undefined,
): FitOptions {
  return {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize ?? 32,
    validation: data.validation,
    shuffle: cfg.shuffle ?? true,
    // Shuffles and dropout masks are seeded per epoch and step, so a resumed run continues with
    // exactly the order and masks the uninterrupted run would have used.
    seed: cfg.seed ?? 0,
    earlyStopping: cfg.earlyStopping ? { ...cfg.earlyStopping, restoreBestWeights: cfg.earlyStopping.restoreBest } : undefined,
    classWeight,
    augment: augmentFn(cfg),
    resumeFrom: checkpoints.resumeFrom,
    signal,
    // fit offers a state every epoch; the checkpointer writes only those its policy says are due.
    checkpointEvery: 1,
    onBatch: (epoch, batch) => {
      if (batch % 10 === 0) checkpoints.beat(epoch, batch);
    },
    onEpochEnd: (epoch, logs) => checkpoints.epochEnd(epoch, logs),
    onCheckpoint: (state) => checkpoints.offer(state),
  };
}

/** What a train stage reports while it reads its dataset: the last attempt's heartbeat, or "epoch 0 of n". */
function readingDetails(input: StageActivityInput, env: StageEnv): HeartbeatDetails<unknown> {
  const prev = env.heartbeatDetails as HeartbeatDetails<unknown> | undefined;
  if (prev && typeof prev === 'object' && prev.checkpoint) return prev;
  const cfg = stageConfig(input, 'train');
  return { progress: { stage: input.stage, epoch: 0, epochs: cfg.epochs ?? 0, message: 'reading the dataset' } };
}

/** The stage's `augment` as fit's per-batch hook (seeded by the augment seed, else the stage's). */
function augmentFn(cfg: TrainConfig): FitOptions['augment'] {
  const o = cfg.augment;
  if (!augments(o)) return undefined;
  const seed = o.seed ?? cfg.seed ?? 0;
  return (x, epoch, batch) => augmentBatch(x, o, seed, epoch, batch);
}

/** A completed fit: what the outputs, the history artifact and the report describe. */
interface FinishedFit {
  res: FitResult;
  backend: BackendInfo;
  history: EpochHistory;
  startEpoch: number;
}

function fitMetrics(cfg: TrainConfig): MetricName[] {
  return (cfg.metrics ?? []).map((m) => FIT_METRIC[m]);
}

/** The stage's outputs: the model, the history artifact, and the last epoch's losses and metrics. */
async function trainOutputs(
  input: StageActivityInput,
  env: StageEnv,
  cfg: TrainConfig,
  modelRef: ArtifactRef,
  { res, backend, history, startEpoch }: FinishedFit,
): Promise<Record<string, JsonValue>> {
  const summary = {
    stage: input.stage,
    // the run that trained it: a later run answered from the step cache links it in its report
    workflowId: input.run.workflowId,
    metrics: fitMetrics(cfg),
    backend,
    engine: res.engine,
    stopReason: res.stopReason,
    epochs: history.length,
    plannedEpochs: cfg.epochs,
    resumedFromEpoch: startEpoch,
    bestEpoch: res.bestEpoch,
    samplesPerSecond: res.samplesPerSecond,
    history,
  };
  const historyRef = await env.store.put(Buffer.from(JSON.stringify(summary, null, 1)), { kind: 'metrics', lineage: lineage(input, env) });
  const outputs: Record<string, JsonValue> = {
    model: { ...modelRef },
    history: { ...historyRef },
    epochs: history.length,
    backend: backend.backend,
    engine: res.engine.engine,
  };
  const last = history.at(-1)?.logs ?? {};
  outputs.loss = last.loss ?? null;
  outputs.val_loss = last.val_loss ?? null;
  for (const m of cfg.metrics ?? []) {
    outputs[m] = last[FIT_METRIC[m]] ?? null;
    outputs[`val_${m}`] = last[`val_${FIT_METRIC[m]}`] ?? null;
  }
  // A search's trial reports where its leg started (the study's table keeps it, the durability
  // test reads it) and leaves the run report to the optimize stage.
  if (input.trial) outputs.resumedFromEpoch = startEpoch;
  return outputs;
}

/** The run report's training section; a report that cannot be written is a warning, not a failure. */
async function reportTraining(
  input: StageActivityInput,
  env: StageEnv,
  cfg: TrainConfig,
  { res, backend, history }: FinishedFit,
): Promise<void> {
  if (env.report === false || input.trial) return;
  await updateRunReport(input.run, env.store, {
    training: { stage: input.stage, history, backend, engine: res.engine, stopReason: res.stopReason, metrics: fitMetrics(cfg) },
  }).catch((e: unknown) => activityLog.warn(`${where(input)}: could not write the run report: ${(e as Error).message}`));
}

/**
 * The config with `params` (config path → value, a search's winner) applied and dropped. The
 * overridden config must still be a train config: a bad path or value is the spec's error.
 */
function withParams(cfg: TrainConfig, at: string): TrainConfig {
  const params = cfg.params as unknown;
  if (params === undefined) return cfg;
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    return invalid(
      `${at}: params must be an object of config path → value (as an optimize stage's \`best\` output), not ${JSON.stringify(params)}`,
    );
  }
  const out = structuredClone(cfg) as Record<string, unknown>;
  delete out.params;
  for (const [path, v] of Object.entries(params)) {
    try {
      setPath(out, path, v);
    } catch (e) {
      invalid(`${at}: params: ${(e as Error).message}`);
    }
  }
  return out as TrainConfig;
}

/** The model artifact of a registered version (default: the one serving), or why there is none. */
async function registeredModel(name: string, version?: string): Promise<ArtifactRef | string> {
  const registry = new Registry();
  const entry = await registry.get(name);
  if (!entry || entry.versions.length === 0) {
    return `no model named "${name}" is registered in ${(await registry.database()).where}; deploy one first, or check MLPIPE_DB (or --db)`;
  }
  const want = version ?? entry.traffic.primary ?? entry.versions.at(-1)!.version;
  const v = entry.versions.find((x) => x.version === want);
  if (!v) return `model "${name}" has no version "${want}"; it has ${entry.versions.map((x) => x.version).join(', ')}`;
  return v.model;
}

export async function train(input: StageActivityInput): Promise<StageResult> {
  return trainCore(input, stageEnv());
}

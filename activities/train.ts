import { CancelledFailure } from '@temporalio/common';
import type { ArtifactRef, JsonValue, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { backendInfo, getTf, selectBackend, type BackendInfo } from '../src/ml/runtime/backend.ts';
import { encodeModel, loadModel } from '../src/ml/train/checkpoint.ts';
import { featureTensor, labelVector, splitIndices, type Dataset } from '../src/ml/data/dataset.ts';
import { nonFiniteMessage } from '../src/ml/data/finite-check.ts';
import { fit, restoreModel, snapshotModel, type ArrayData, type FitOptions, type FitResult } from '../src/ml/train/fit.ts';
import { buildModel, ModelSpecError, type BuiltModel } from '../src/ml/train/model.ts';
import type { LossName, MetricName, TrainModelSpec } from '../src/ml/train/model-spec.ts';
import { updateRunReport } from '../src/ml/report/report.ts';
import { setPath } from '../src/core/search/config-path.ts';
import { Registry } from '../src/serving/registry.ts';
import { activityLog } from '../src/temporal/progress.ts';
import { invalid, lineage, readDataset, requireInput, stageConfig, stageEnv, where, type StageEnv } from './lib/stage.ts';
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

const CLASSIFICATION = new Set<LossName>(['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy']);

function numClasses(ds: Dataset, y: Float32Array): number {
  let max = 0;
  for (const v of y) if (v > max) max = v;
  return Math.max(ds.classes?.length ?? 0, max + 1);
}

/** Labels shaped for the loss: one-hot, class ids, or a column of values. */
function labelsFor(loss: LossName, y: Float32Array, k: number): ArrayData {
  const n = y.length;
  if (loss === 'categoricalCrossentropy') {
    const data = new Float32Array(n * k);
    y.forEach((c, i) => (data[i * k + c] = 1));
    return { data, shape: [n, k] };
  }
  if (loss === 'sparseCategoricalCrossentropy') return { data: y, shape: [n] };
  return { data: y, shape: [n, 1] };
}

function balancedWeights(y: Float32Array, k: number): Record<number, number> {
  // scikit-learn's 'balanced': n_samples / (n_classes * count(c)).
  const counts = new Array<number>(k).fill(0);
  for (const v of y) counts[v]!++;
  const present = counts.filter((c) => c > 0).length;
  const w: Record<number, number> = {};
  counts.forEach((c, i) => (w[i] = c > 0 ? y.length / (present * c) : 1));
  return w;
}

export async function trainCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const at = where(input);
  const cfg = withParams(stageConfig(input, 'train') as TrainConfig, at);
  selectBackend(cfg.backend && cfg.backend !== 'auto' ? cfg.backend : undefined);
  const backend = backendInfo();
  const ds = await readDataset(env.store, requireInput(input, 'dataset', 'dataset'));
  const data = trainingData(ds, cfg, at);
  const spec = modelSpec(cfg);
  const { model, outputKind } = buildTrainModel(spec, cfg, data, at);
  await warmStart(input, env, cfg, model, at);
  const checkpoints = await TrainCheckpointer.open(input, env, {
    epochs: cfg.epochs,
    seed: cfg.seed ?? 0,
    batches: Math.ceil(data.x.shape[0]! / (cfg.batchSize ?? 32)),
    checkpoint: cfg.checkpoint,
  });
  const classWeight = classWeightsFor(cfg, ds, data, at);
  const res = await fit(model, spec, data.x, data.y, fitOptions(cfg, data, classWeight, checkpoints, env.signal));
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
      classes: ds.classes,
      numClasses: data.classification ? data.k : undefined,
      featureShape: data.x.shape.slice(1),
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

/** The training rows (and validation rows, if any) as features and labels shaped for the loss. */
interface TrainingData {
  x: ArrayData;
  /** The training labels as class ids or values, before shaping for the loss. */
  yRaw: Float32Array;
  y: ArrayData;
  validation?: { x: ArrayData; y: ArrayData };
  classification: boolean;
  /** Classes (1 for regression). */
  k: number;
}

/** The rows to train and validate on: the dataset's splits, or the last `validationSplit` of train. */
function trainValidationRows(ds: Dataset, cfg: TrainConfig, at: string): { trainIdx: Uint32Array; valIdx?: Uint32Array } {
  let trainIdx: Uint32Array;
  let valIdx: Uint32Array | undefined = ds.splits?.validation;
  try {
    trainIdx = ds.splits?.train ?? splitIndices(ds, 'all');
    // Reading one row surfaces a dataset without features or labels before anything is built.
    featureTensor(ds, trainIdx.subarray(0, 1));
    labelVector(ds, trainIdx.subarray(0, 1));
  } catch (e) {
    return invalid(`${at}: ${(e as Error).message}`);
  }
  if (!valIdx && cfg.validationSplit) {
    const nVal = Math.round(trainIdx.length * cfg.validationSplit);
    valIdx = trainIdx.subarray(trainIdx.length - nVal);
    trainIdx = trainIdx.subarray(0, trainIdx.length - nVal);
  }
  return { trainIdx, valIdx };
}

function trainingData(ds: Dataset, cfg: TrainConfig, at: string): TrainingData {
  const { trainIdx, valIdx } = trainValidationRows(ds, cfg, at);
  const x = featureTensor(ds, trainIdx);
  const yRaw = labelVector(ds, trainIdx);
  const bad = nonFiniteMessage(ds, x, trainIdx, 'training', yRaw);
  if (bad) invalid(`${at}: ${bad}`);
  const classification = CLASSIFICATION.has(cfg.loss);
  // Classes are counted over the whole dataset: a split may miss one.
  const k = classification ? numClasses(ds, labelVector(ds)) : 1;
  const y = labelsFor(cfg.loss, yRaw, k);
  let validation: TrainingData['validation'];
  if (valIdx?.length) {
    const vx = featureTensor(ds, valIdx);
    const vy = labelVector(ds, valIdx);
    const badVal = nonFiniteMessage(ds, vx, valIdx, 'validation', vy);
    if (badVal) invalid(`${at}: ${badVal}`);
    validation = { x: vx, y: labelsFor(cfg.loss, vy, k) };
  }
  return { x, yRaw, y, validation, classification, k };
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
function buildTrainModel(spec: TrainModelSpec, cfg: TrainConfig, data: TrainingData, at: string): BuiltModel {
  let built: BuiltModel;
  try {
    built = buildModel(spec, { inputShape: data.x.shape.slice(1), seed: cfg.seed ?? 0 });
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
function classWeightsFor(cfg: TrainConfig, ds: Dataset, data: TrainingData, at: string): Record<number, number> | undefined {
  if (!data.classification || !cfg.classWeights) return undefined;
  if (cfg.classWeights === 'balanced') return balancedWeights(data.yRaw, data.k);
  return Object.fromEntries(
    Object.entries(cfg.classWeights).map(([c, w]) => {
      const id = ds.classes ? ds.classes.indexOf(c) : Number(c);
      if (!(id >= 0) || !Number.isInteger(id))
        invalid(
          `${at}: classWeights: ${JSON.stringify(c)} is not a class (classes: ${(ds.classes ?? [...Array(data.k).keys()]).join(', ')})`,
        );
      return [id, w];
    }),
  );
}

function fitOptions(
  cfg: TrainConfig,
  data: TrainingData,
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

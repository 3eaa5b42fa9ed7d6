// train: dataset artifact → tfjs model built from the spec (src/ml/train/model.ts), trained by
// src/ml/train/fit.ts with checkpoints in the artifact store. A retried attempt resumes from the
// checkpoint named in the last heartbeat (or, failing that, this run's latest checkpoint of the
// stage), not from epoch 0; so does `mlpipe rerun --from` from the earlier run's latest checkpoint
// when the stage's config and inputs are the same. Cancellation stops at the next batch and keeps
// the last checkpoint.
import { CancelledFailure } from '@temporalio/common';
import { canonicalJson } from '../src/core/canonical.ts';
import { sha256Hex } from '../src/hash.ts';
import { type ArtifactRef, isArtifactRef, type JsonValue, type StageActivityInput, type StageResult } from '../src/core/plan.ts';
import { backendInfo, selectBackend, type BackendPreference } from '../src/ml/runtime/backend.ts';
import { decodeCheckpoint, encodeCheckpoint, encodeModel, loadModel, type Checkpoint } from '../src/ml/train/checkpoint.ts';
import { featureTensor, labelVector, splitIndices, type Dataset } from '../src/ml/data/dataset.ts';
import { nonFiniteMessage } from '../src/ml/data/finite-check.ts';
import { fit, restoreModel, snapshotModel, type ArrayData, type EpochLogs, type FitOptions } from '../src/ml/train/fit.ts';
import { buildModel, ModelSpecError } from '../src/ml/train/model.ts';
import type { LossName, MetricName, TrainModelSpec } from '../src/ml/train/model-spec.ts';
import { updateRunReport } from '../src/ml/report/report.ts';
import { setPath } from '../src/core/search/config-path.ts';
import { Registry } from '../src/serving/registry.ts';
import { activityLog, type HeartbeatDetails, type Progress } from '../src/temporal/progress.ts';
import { invalid, lineage, readDataset, requireInput, stageConfig, stageEnv, where, type StageEnv } from './lib/stage.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';
import type { TrainMetric } from '../src/spec/types.gen.ts';

/**
 * The schema requires these on TrainStage; the type generated from its `allOf` leaves them
 * optional, so they are required again here.
 */
export type TrainConfig = StageConfig<'train'> & Required<Pick<StageConfig<'train'>, 'model' | 'optimizer' | 'loss' | 'epochs'>>;

/** Train's progress: epochs completed (and the batch within the next), and the latest epoch's metrics. */
export interface TrainProgress extends Progress {
  stage: string;
  /** Epochs completed. */
  epoch: number;
  epochs: number;
  batch?: number;
  batches?: number;
}

/** The checkpoint a retry resumes from: the artifact and the epochs it holds. */
export interface TrainCheckpoint {
  ref: ArtifactRef;
  epoch: number;
}

/** Train's heartbeat, in the shape every mlpipe heartbeat has (src/temporal/progress.ts). */
export type TrainHeartbeat = HeartbeatDetails<TrainCheckpoint> & { progress: TrainProgress };

/**
 * The checkpoint named in the previous attempt's heartbeat. Besides `{ progress, checkpoint: {
 * ref, epoch } }`, it reads the flat shape earlier versions sent (`{ stage, epoch, epochs,
 * checkpoint: ArtifactRef | null, checkpointEpoch, metrics }`): a worker upgraded while a run
 * trains resumes from the checkpoint the old worker reported.
 */
export function heartbeatCheckpoint(details: unknown): ArtifactRef | undefined {
  if (!details || typeof details !== 'object') return undefined;
  const cp = (details as { checkpoint?: unknown }).checkpoint;
  if (isArtifactRef(cp)) return cp; // the flat shape
  if (cp && typeof cp === 'object' && isArtifactRef((cp as Partial<TrainCheckpoint>).ref)) return (cp as TrainCheckpoint).ref;
  return undefined;
}

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

/** What a checkpoint of another run must match to be resumed from: this stage's config and inputs. */
function fingerprint(input: StageActivityInput): string {
  const inputs = Object.fromEntries(Object.entries(input.inputs).map(([k, v]) => [k, v.digest]));
  return sha256Hex(canonicalJson({ kind: input.kind, config: input.config, inputs }));
}

/** A run's checkpoints of this stage from the same plan, newest first. */
async function checkpointsOf(input: StageActivityInput, env: StageEnv, workflowId: string): Promise<ArtifactRef[]> {
  const recs = (await env.store.list(workflowId)).filter(
    (r) => r.lineage.stage === input.stage && r.lineage.planHash === input.run.planHash && r.lineage.name?.startsWith('checkpoint-'),
  );
  return recs.reverse().map((r) => r.ref);
}

/**
 * Checkpoints a retry may resume from, best first: the one named in the last heartbeat, then
 * (the last heartbeat may not have reached the server before the worker died) this run's
 * checkpoints of the stage from the same plan, newest first; with none, on a rerun, the earlier
 * run's.
 */
async function resumeCandidates(input: StageActivityInput, env: StageEnv): Promise<ArtifactRef[]> {
  const out: ArtifactRef[] = [];
  const fromHeartbeat = heartbeatCheckpoint(env.heartbeatDetails);
  if (fromHeartbeat) out.push(fromHeartbeat);
  // A promoted trial continues from its checkpoint of the earlier rung from its first attempt.
  if (env.attempt > 1 || out.length > 0 || input.trial?.continues) {
    for (const r of await checkpointsOf(input, env, input.run.workflowId)) if (!out.some((o) => o.digest === r.digest)) out.push(r);
  }
  if (out.length === 0 && input.run.rerunOf) out.push(...(await checkpointsOf(input, env, input.run.rerunOf)));
  return out;
}

/** The first usable checkpoint; a corrupt or vanished one is skipped (with a warning), not fatal. */
async function loadResume(input: StageActivityInput, env: StageEnv, epochs: number): Promise<{ ref: ArtifactRef; cp: Checkpoint } | null> {
  for (const ref of await resumeCandidates(input, env)) {
    try {
      const cp = decodeCheckpoint(await env.store.get(ref));
      // A trial promoted to a later rung may resume a checkpoint planned for fewer epochs.
      const sameRun = cp.header.workflowId === input.run.workflowId;
      const own = sameRun && (cp.header.epochs === epochs || (!!input.trial?.continues && cp.header.epoch <= epochs));
      const earlier = !!input.run.rerunOf && cp.header.workflowId === input.run.rerunOf && cp.header.fingerprint === fingerprint(input);
      if (cp.header.stage !== input.stage || !(own || earlier)) {
        activityLog.warn(`${where(input)}: checkpoint ${ref.digest} is for another run or configuration; not resuming from it`);
        continue;
      }
      if (earlier) activityLog.info(`${where(input)}: resuming at epoch ${cp.header.epoch} from the checkpoint of the earlier run ${input.run.rerunOf}`);
      return { ref, cp };
    } catch (e) {
      activityLog.warn(`${where(input)}: checkpoint ${ref.digest} is unusable (${(e as Error).message}); trying an older one`);
    }
  }
  return null;
}

export async function trainCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const at = where(input);
  const cfg = withParams(stageConfig(input, 'train') as TrainConfig, at);
  const pref: BackendPreference | undefined = cfg.backend && cfg.backend !== 'auto' ? cfg.backend : undefined;
  selectBackend(pref);
  const backend = backendInfo();

  const ds = await readDataset(env.store, requireInput(input, 'dataset', 'dataset'));
  let trainIdx: Uint32Array;
  let valIdx: Uint32Array | undefined = ds.splits?.validation;
  try {
    trainIdx = ds.splits?.train ?? splitIndices(ds, 'all');
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
  const x = featureTensor(ds, trainIdx);
  const yRaw = labelVector(ds, trainIdx);
  const bad = nonFiniteMessage(ds, x, trainIdx, 'training', yRaw);
  if (bad) invalid(`${at}: ${bad}`);
  const classification = CLASSIFICATION.has(cfg.loss);
  const k = classification ? numClasses(ds, labelVector(ds)) : 1;
  const y = labelsFor(cfg.loss, yRaw, k);
  let validation: { x: ArrayData; y: ArrayData } | undefined;
  if (valIdx?.length) {
    const vx = featureTensor(ds, valIdx);
    const vy = labelVector(ds, valIdx);
    const badVal = nonFiniteMessage(ds, vx, valIdx, 'validation', vy);
    if (badVal) invalid(`${at}: ${badVal}`);
    validation = { x: vx, y: labelsFor(cfg.loss, vy, k) };
  }

  const metrics = cfg.metrics ?? [];
  const spec: TrainModelSpec = {
    model: cfg.model,
    optimizer: cfg.optimizer,
    learningRateSchedule: cfg.learningRateSchedule,
    loss: cfg.loss,
    metrics: metrics.map((m) => FIT_METRIC[m]),
  };
  const seed = cfg.seed ?? 0;
  let built;
  try {
    built = buildModel(spec, { inputShape: x.shape.slice(1), seed });
  } catch (e) {
    if (e instanceof ModelSpecError) return invalid(`${at}: ${e.message}`);
    throw e;
  }
  const { model, outputKind } = built;
  const outUnits = model.outputs[0]!.shape.at(-1);
  const wantUnits = cfg.loss === 'binaryCrossentropy' || !classification ? 1 : k;
  if (outUnits !== wantUnits) {
    return invalid(
      `${at}: the model's last layer has ${outUnits} units but loss ${cfg.loss} on this dataset needs ${wantUnits}` +
        (classification ? ` (${k} classes)` : '') + '; fix the last layer\'s units',
    );
  }

  // Warm start from an upstream model artifact, or from a registered model (`warmStart.model`),
  // with the same architecture.
  let warm = input.inputs.model;
  if (!warm && cfg.warmStart) {
    const found = await registeredModel(cfg.warmStart.model, cfg.warmStart.version);
    if (typeof found === 'string') return invalid(`${at}: warmStart: ${found}`);
    warm = found;
  }
  if (warm) {
    const { model: prev } = await loadModel(await env.store.get(warm));
    try {
      restoreModel((await import('../src/ml/runtime/backend.ts')).getTf(), model, await snapshotModel(prev));
    } catch (e) {
      return invalid(`${at}: warm start from ${warm.digest}: ${(e as Error).message}`);
    } finally {
      prev.dispose();
    }
    const freeze = cfg.warmStart?.freezeLayers ?? 0;
    model.layers.slice(0, freeze).forEach((l) => (l.trainable = false));
  }

  // Resume.
  let history: Array<{ epoch: number; logs: EpochLogs }> = [];
  let resumeFrom: FitOptions['resumeFrom'];
  let lastCheckpoint: ArtifactRef | null = null;
  let lastCheckpointEpoch: number | null = null;
  const resume = await loadResume(input, env, cfg.epochs);
  if (resume) {
    resumeFrom = resume.cp.state;
    history = resume.cp.header.history;
    lastCheckpoint = resume.ref;
    lastCheckpointEpoch = resume.cp.header.epoch;
  }
  const startEpoch = resumeFrom?.nextEpoch ?? 0;

  const everyEpochs = cfg.checkpoint?.everyEpochs ?? (cfg.checkpoint?.everyMinutes ? undefined : 1);
  const everyMs = cfg.checkpoint?.everyMinutes ? cfg.checkpoint.everyMinutes * 60_000 : undefined;
  const keepLast = cfg.checkpoint?.keepLast ?? 3;
  let lastSaveAt = Date.now();
  // Retention spans attempts: start from this run's checkpoints of the stage, oldest first.
  const saved: ArtifactRef[] = (await env.store.list(input.run.workflowId))
    .filter((r) => r.lineage.stage === input.stage && r.lineage.name?.startsWith('checkpoint-'))
    .map((r) => r.ref);
  let latest: EpochLogs = history.at(-1)?.logs ?? {};
  const batches = Math.ceil(x.shape[0]! / (cfg.batchSize ?? 32));
  const beat = (epoch: number, batch?: number) =>
    env.heartbeat({
      progress: { ...latest, stage: input.stage, epoch, epochs: cfg.epochs, ...(batch !== undefined ? { batch, batches } : {}) },
      ...(lastCheckpoint && lastCheckpointEpoch !== null ? { checkpoint: { ref: lastCheckpoint, epoch: lastCheckpointEpoch } } : {}),
    } satisfies TrainHeartbeat);
  beat(startEpoch);

  const classWeight =
    classification && cfg.classWeights
      ? cfg.classWeights === 'balanced'
        ? balancedWeights(yRaw, k)
        : Object.fromEntries(Object.entries(cfg.classWeights).map(([c, w]) => {
            const id = ds.classes ? ds.classes.indexOf(c) : Number(c);
            if (!(id >= 0) || !Number.isInteger(id)) invalid(`${at}: classWeights: ${JSON.stringify(c)} is not a class (classes: ${(ds.classes ?? [...Array(k).keys()]).join(', ')})`);
            return [id, w];
          }))
      : undefined;

  const res = await fit(model, spec, x, y, {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize ?? 32,
    validation,
    shuffle: cfg.shuffle ?? true,
    // Shuffles and dropout masks are seeded per epoch and step, so a resumed run continues with
    // exactly the order and masks the uninterrupted run would have used.
    seed,
    earlyStopping: cfg.earlyStopping
      ? { ...cfg.earlyStopping, restoreBestWeights: cfg.earlyStopping.restoreBest }
      : undefined,
    classWeight,
    resumeFrom,
    signal: env.signal,
    checkpointEvery: 1,
    onBatch: (epoch, batch) => {
      if (batch % 10 === 0) beat(epoch, batch);
    },
    onEpochEnd: (epoch, logs) => {
      history.push({ epoch, logs });
      latest = logs;
      beat(epoch + 1);
    },
    onCheckpoint: async (state) => {
      const due =
        (everyEpochs !== undefined && state.nextEpoch % everyEpochs === 0) ||
        (everyMs !== undefined && Date.now() - lastSaveAt >= everyMs) ||
        state.nextEpoch === cfg.epochs;
      if (!due) return;
      const buf = encodeCheckpoint(state, { workflowId: input.run.workflowId, stage: input.stage, epochs: cfg.epochs, seed, history, fingerprint: fingerprint(input) });
      const ref = await env.store.put(buf, { kind: 'model', lineage: lineage(input, env, `checkpoint-epoch-${state.nextEpoch}`) });
      lastCheckpoint = ref;
      lastCheckpointEpoch = state.nextEpoch;
      lastSaveAt = Date.now();
      saved.push(ref);
      while (saved.length > keepLast) await env.store.remove?.(saved.shift()!, input.run.workflowId);
      beat(state.nextEpoch);
    },
  });

  if (res.stopReason === 'cancelled') {
    model.dispose();
    throw new CancelledFailure(
      `${at}: training cancelled after epoch ${history.length}; the last checkpoint (epoch ${lastCheckpointEpoch ?? 'none'}) is kept`,
    );
  }

  const modelRef = await env.store.put(
    await encodeModel(model, {
      outputKind,
      loss: cfg.loss,
      classes: ds.classes,
      numClasses: classification ? k : undefined,
      featureShape: x.shape.slice(1),
      backend,
      spec,
    }),
    { kind: 'model', lineage: lineage(input, env) },
  );
  model.dispose();
  const summary = {
    stage: input.stage,
    // the run that trained it: a later run answered from the step cache links it in its report
    workflowId: input.run.workflowId,
    metrics: metrics.map((m) => FIT_METRIC[m]),
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
  for (const m of metrics) {
    outputs[m] = last[FIT_METRIC[m]] ?? null;
    outputs[`val_${m}`] = last[`val_${FIT_METRIC[m]}`] ?? null;
  }
  // A search's trial reports where its leg started (the study's table keeps it, the durability
  // test reads it) and leaves the run report to the optimize stage.
  if (input.trial) outputs.resumedFromEpoch = startEpoch;
  if (env.report !== false && !input.trial) {
    await updateRunReport(input.run, env.store, {
      training: { stage: input.stage, history, backend, engine: res.engine, stopReason: res.stopReason, metrics: metrics.map((m) => FIT_METRIC[m]) },
    }).catch((e: unknown) => activityLog.warn(`${at}: could not write the run report: ${(e as Error).message}`));
  }
  return { outputs };
}

/**
 * The config with `params` (config path → value, a search's winner) applied and dropped. The
 * overridden config must still be a train config: a bad path or value is the spec's error.
 */
function withParams(cfg: TrainConfig, at: string): TrainConfig {
  const params = cfg.params as unknown;
  if (params === undefined) return cfg;
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    return invalid(`${at}: params must be an object of config path → value (as an optimize stage's \`best\` output), not ${JSON.stringify(params)}`);
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

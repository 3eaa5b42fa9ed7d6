// evaluate: model + preprocessed dataset → metrics on a split (default test) with
// scikit-learn's definitions, gate checks (`passed`), and the run report's evaluation section.
// Given a predict stage's output instead (`inputs.predictions`), it scores the predictions that
// stage wrote against the label column they kept: no model is loaded.
import type { JsonValue, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { getTf } from '../src/ml/runtime/backend.ts';
import { loadModel, predict, type ModelMeta } from '../src/ml/train/checkpoint.ts';
import { inferenceFn } from '../src/ml/train/graph/forward.ts';
import { featureTensor, labelVector, splitIndices, type Dataset } from '../src/ml/data/dataset.ts';
import { nonFiniteMessage } from '../src/ml/data/finite-check.ts';
import { alignLabels, unseenWarning } from '../src/ml/eval/labels.ts';
import { computeMetrics, REGRESSION_METRICS, type MetricValue } from '../src/ml/eval/metrics.ts';
import { scoredRows } from '../src/ml/eval/prediction-rows.ts';
import { updateRunReport, type EvaluationSection } from '../src/ml/report/report.ts';
import { activityLog } from '../src/temporal/progress.ts';
import type * as TfModule from '@tensorflow/tfjs';
import type { ChunkedDataset } from '../src/ml/data/chunked.ts';
import { predictChunks } from './lib/evaluate-chunks.ts';
import {
  invalid,
  lineage,
  openDataset,
  readDataset,
  requireInput,
  stageEnv,
  where,
  withHeartbeats,
  stageConfig,
  type StageEnv,
} from './lib/stage.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';

export type EvaluateConfig = StageConfig<'evaluate'>;

export function evaluateDataset(
  model: TfModule.LayersModel,
  meta: ModelMeta,
  ds: Dataset,
  cfg: EvaluateConfig,
  at: string,
): {
  values: Record<string, MetricValue | null>;
  gates: EvaluationSection['gates'];
  passed: boolean;
  n: number;
  classes?: string[];
  warnings: string[];
} {
  const split = cfg.split ?? 'test';
  let idx: Uint32Array;
  try {
    idx = splitIndices(ds, split);
  } catch (e) {
    return invalid(`${at}: ${(e as Error).message}`);
  }
  if (idx.length === 0) invalid(`${at}: the ${split} split is empty; give it a share in the preprocess split step`);
  const x = featureTensor(ds, idx);
  const want = meta.featureShape.join('x');
  if (x.shape.slice(1).join('x') !== want) {
    invalid(
      `${at}: the dataset's features have shape [${x.shape.slice(1).join(', ')}] but the model takes ` +
        `[${meta.featureShape.join(', ')}]; evaluate on the dataset the model was trained on`,
    );
  }
  const bad = nonFiniteMessage(ds, x, idx, 'evaluation');
  if (bad) invalid(`${at}: ${bad}`);
  const labels = aligned(meta, labelVector(ds, idx), idx, ds.classes, cfg, at);
  // one TensorFlow function per batch when the model compiles to a graph
  const inference = inferenceFn(getTf(), model, meta.spec);
  let p;
  try {
    p = predict(model, meta, x, 512, inference.apply);
  } finally {
    inference.dispose();
  }
  const scored = metricsAndGates(cfg, labels.yTrue, p.yPred, p.scores as number[][] | undefined, labels.classIds);
  return { ...scored, n: idx.length, classes: labels.classes, warnings: labels.warnings };
}

/**
 * evaluateDataset over a chunked dataset, a chunk at a time (lib/evaluate-chunks.ts): the same
 * checks and, since inference runs the gathered dataset's batches, the same metrics.
 */
export async function evaluateChunked(model: TfModule.LayersModel, meta: ModelMeta, c: ChunkedDataset, cfg: EvaluateConfig, at: string) {
  checkMetricKinds(cfg, meta.outputKind !== 'values', 'model', at);
  const { labels, rows, p } = await predictChunks(model, meta, c, cfg.split ?? 'test', at);
  const a = aligned(meta, labels, rows, c.classes, cfg, at);
  const scored = metricsAndGates(cfg, a.yTrue, p.yPred, p.scores as number[][] | undefined, a.classIds);
  return { ...scored, n: rows.length, classes: a.classes, warnings: a.warnings };
}

/** The labels as the model's class ids (classifiers; the dataset's ids are its own), with a warning for unseen classes. */
function aligned(
  meta: ModelMeta,
  values: Float32Array,
  rows: Uint32Array,
  dataClasses: string[] | undefined,
  cfg: EvaluateConfig,
  at: string,
) {
  let yTrue: Float64Array = Float64Array.from(values);
  let classes: string[] | undefined;
  let classIds: number[] | undefined;
  const warnings: string[] = [];
  const classification = meta.outputKind !== 'values';
  if (classification) {
    let a;
    try {
      a = alignLabels(yTrue, rows, dataClasses, meta, cfg.unseenLabels ?? 'error');
    } catch (e) {
      return invalid(`${at}: ${(e as Error).message}`);
    }
    ({ yTrue, classes, labels: classIds } = a);
    const w = unseenWarning(a.unseen);
    if (w) {
      activityLog.warn(`${at}: ${w}`);
      warnings.push(w);
    }
  }
  checkMetricKinds(cfg, classification, 'model', at);
  return { yTrue, classes, classIds, warnings };
}

function checkMetricKinds(cfg: EvaluateConfig, classification: boolean, what: 'model' | 'predictions', at: string): void {
  for (const m of cfg.metrics) {
    if (REGRESSION_METRICS.includes(m) === classification) {
      const is =
        what === 'model'
          ? `this model is a ${classification ? 'classifier' : 'regressor'}`
          : `these are a ${classification ? 'classifier' : 'regressor'}'s predictions`;
      invalid(`${at}: metric ${m} is for ${classification ? 'regression' : 'classification'} models; ${is}`);
    }
  }
}

/** The configured metrics over scored rows, and the gates on them. */
function metricsAndGates(
  cfg: EvaluateConfig,
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  scores: number[][] | undefined,
  classIds: number[] | undefined,
) {
  const values: Record<string, MetricValue | null> = {};
  for (const m of cfg.metrics) {
    try {
      Object.assign(values, computeMetrics([m], yTrue, yPred, scores, classIds));
    } catch (e) {
      if (m !== 'rocAuc') throw e;
      values[m] = null; // undefined with one class present; the gate (if any) fails
    }
  }
  const gates = (cfg.gates ?? []).map((g) => {
    let v = values[g.metric];
    if (v === undefined) v = computeMetrics([g.metric], yTrue, yPred, scores, classIds)[g.metric] ?? null;
    const value = typeof v === 'number' ? v : null;
    const passed = value !== null && (g.min === undefined || value >= g.min) && (g.max === undefined || value <= g.max);
    return {
      metric: g.metric,
      ...(g.min !== undefined ? { min: g.min } : {}),
      ...(g.max !== undefined ? { max: g.max } : {}),
      value,
      passed,
    };
  });
  return { values, gates, passed: gates.every((g) => g.passed) };
}

/**
 * A predict stage's output scored against the label column it kept. Its split (default test)
 * when it has splits (it scored every row of a split dataset); every row when it has none.
 */
export function evaluatePredictions(ds: Dataset, cfg: EvaluateConfig, at: string) {
  let idx: Uint32Array;
  const split = cfg.split ?? (ds.splits ? 'test' : 'all');
  try {
    idx = splitIndices(ds, split);
  } catch (e) {
    return invalid(
      `${at}: the predictions: ${(e as Error).message.replace(
        /; add a `split` step to preprocess$/,
        '; predict every row of a split dataset, or leave `split` out to score all rows',
      )}`,
    );
  }
  if (idx.length === 0) invalid(`${at}: the ${split} split of the predictions is empty`);
  let rows;
  try {
    rows = scoredRows(ds, idx, cfg.unseenLabels ?? 'error');
  } catch (e) {
    return invalid(`${at}: ${(e as Error).message}`);
  }
  checkMetricKinds(cfg, rows.classification, 'predictions', at);
  if (cfg.metrics.includes('rocAuc') && rows.classification && !rows.scores) {
    invalid(`${at}: rocAuc needs the class probabilities, which these predictions lack (no \`probability_<class>\` columns)`);
  }
  const w = unseenWarning(rows.unseen);
  if (w) activityLog.warn(`${at}: ${w}`);
  const scored = metricsAndGates(cfg, rows.yTrue, rows.yPred, rows.scores, rows.classIds);
  return { ...scored, split, n: idx.length, classes: rows.classes, warnings: w ? [w] : [] };
}

export async function evaluateCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const at = where(input);
  const cfg = stageConfig(input, 'evaluate');
  let r: ReturnType<typeof evaluateDataset> & { split?: string };
  if (input.inputs.predictions) {
    r = evaluatePredictions(await readDataset(env.store, requireInput(input, 'predictions', 'dataset')), cfg, at);
  } else {
    const modelRef = requireInput(input, 'model', 'model');
    const ds = await openDataset(env.store, requireInput(input, 'dataset', 'dataset'));
    const { model, meta } = await loadModel(await env.store.get(modelRef));
    try {
      // one chunk: in memory, as always; several: a chunk at a time
      r =
        ds.chunkRows.length <= 1
          ? evaluateDataset(model, meta, await ds.chunk(0), cfg, at)
          : await evaluateChunked(model, meta, ds, cfg, at);
    } finally {
      model.dispose();
    }
  }
  const classes = r.classes;
  const warnings = r.warnings.length ? { warnings: r.warnings } : {};
  const doc = {
    stage: input.stage,
    workflowId: input.run.workflowId,
    split: r.split ?? cfg.split ?? 'test',
    samples: r.n,
    metrics: r.values,
    gates: r.gates,
    passed: r.passed,
    classes,
    ...warnings,
  };
  const ref = await env.store.put(Buffer.from(JSON.stringify(doc, null, 1)), { kind: 'metrics', lineage: lineage(input, env) });
  const outputs: Record<string, JsonValue> = { metrics: { ...ref }, passed: r.passed };
  for (const [k, v] of Object.entries(r.values)) outputs[k] = v;
  await updateRunReport(input.run, env.store, {
    evaluation: { stage: input.stage, split: doc.split, metrics: r.values, classes, gates: r.gates, passed: r.passed, ...warnings },
  }).catch((e: unknown) => activityLog.warn(`${at}: could not write the run report: ${(e as Error).message}`));
  return { outputs };
}

export async function evaluate(input: StageActivityInput): Promise<StageResult> {
  const env = stageEnv();
  return withHeartbeats(env, { progress: { stage: input.stage, phase: 'evaluate' } }, () => evaluateCore(input, env));
}

// The model server imports these from here; they live in src/ml/train/checkpoint.ts.
export { predict, type Predictions } from '../src/ml/train/checkpoint.ts';

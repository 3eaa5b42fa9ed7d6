// Scoring raw rows with a model and its saved transform: the one path the model server and the
// batch `predict` stage share, so a served answer and a batch prediction of the same row agree.
import type * as TfModule from '@tensorflow/tfjs';
import type { ArtifactRef } from '../core/plan.ts';
import type { ArtifactStore } from '../artifacts/index.ts';
import { getTf } from '../ml/runtime/backend.ts';
// The batch predictor evaluate uses (probabilities from logits, argmax): one definition of "predict".
import { loadModel, predict, type ModelMeta } from '../ml/train/checkpoint.ts';
import { inferenceFn } from '../ml/train/graph/forward.ts';
import { applyTransform, decodeTransform, type Transform } from '../ml/data/preprocess.ts';
import { servingTransform, signatureOf, type RowResult, type Signature } from './signature.ts';

export interface ScoringModel {
  model: TfModule.LayersModel;
  meta: ModelMeta;
  /** The model's inference pass, compiled to one TensorFlow function when it can be. */
  inference: ReturnType<typeof inferenceFn>;
  /** The saved transform, its input schema narrowed to the columns the model uses. */
  transform?: Transform;
  signature?: Signature;
}

/** A model artifact (and its transform's) from the store, ready to score rows. */
export async function loadScoringModel(store: ArtifactStore, model: ArtifactRef, transform?: ArtifactRef): Promise<ScoringModel> {
  const { model: m, meta } = await loadModel(await store.get(model));
  const saved = transform ? decodeTransform(await store.get(transform)) : undefined;
  const t = saved && servingTransform(saved);
  return { model: m, meta, inference: inferenceFn(getTf(), m, meta.spec), transform: t, signature: t && signatureOf(t, meta) };
}

export function disposeScoringModel(s: ScoringModel): void {
  s.inference.dispose();
  s.model.dispose();
}

/**
 * Raw rows (objects of column values) → one answer per row, through the saved transform.
 * `what` names the model in errors (`version v2`). Bad values throw DataError naming row and column.
 */
export function scoreRows(s: ScoringModel & { transform: Transform }, rows: Record<string, unknown>[], what: string): RowResult[] {
  const x = applyTransform(s.transform, rows);
  return scoreFeatures(s, x, s.meta.classes ?? s.transform.classes, what);
}

/** Features already transformed ([n, …featureShape]) → one answer per row. */
export function scoreFeatures(
  s: ScoringModel,
  x: { data: Float32Array; shape: number[] },
  classes: string[] | undefined,
  what: string,
): RowResult[] {
  const out = resultsOf(s, x, classes);
  checkFinite(what, out);
  return out;
}

/**
 * The model's answers for features, not yet checked for NaN: the micro-batcher (micro-batch.ts)
 * scores several requests in one pass and checks each request's own rows, so one request's
 * broken output does not fail the others in its batch.
 */
export function resultsOf(s: ScoringModel, x: { data: Float32Array; shape: number[] }, classes: string[] | undefined): RowResult[] {
  const p = predict(s.model, s.meta, x, 512, s.inference.apply);
  if (s.meta.outputKind === 'values') return Array.from(p.yPred, (value) => ({ value }));
  return Array.from(p.yPred, (id, i) => {
    const sc = p.scores;
    const probabilities = Array.isArray(sc) ? sc[i]! : sc ? [1 - sc[i]!, sc[i]!] : undefined;
    return { label: classes?.[id] ?? id, classId: id, ...(probabilities ? { probabilities } : {}) };
  });
}

/** A NaN or infinite output is the model's failure, never an answer (rows counted from 1). */
export function checkFinite(what: string, out: RowResult[]): void {
  out.forEach((r, i) => {
    const row = r.value !== undefined ? [r.value] : (r.probabilities ?? []);
    if (row.some((v) => !Number.isFinite(v))) {
      throw new Error(
        `${what}: the model's output for row ${i + 1} is not a finite number (${row.join(', ')}); the input ` +
          'is far outside what it was trained on, or the model is broken',
      );
    }
  });
}

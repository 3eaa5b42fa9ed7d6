// evaluate over a chunked dataset: a chunk at a time (the next one read while this one is scored),
// keeping only what the metrics need (the split's labels, predictions and class scores: a few
// numbers per row), never the features. Inference runs in the batches an in-memory evaluation of
// the gathered dataset would (rebatch), so the metrics are the same to the last bit.
import type * as TfModule from '@tensorflow/tfjs';
import type { ChunkedDataset } from '../../src/ml/data/chunked.ts';
import { featureTensor, labelVector, splitIndices } from '../../src/ml/data/dataset.ts';
import { nonFiniteMessage } from '../../src/ml/data/finite-check.ts';
import { getTf } from '../../src/ml/runtime/backend.ts';
import { type ModelMeta, type Predictions, predict } from '../../src/ml/train/checkpoint.ts';
import { rebatch } from '../../src/ml/train/fit-batches.ts';
import { inferenceFn } from '../../src/ml/train/graph/forward.ts';
import { invalid } from './stage.ts';

/** Rows of every chunk in order, the next chunk's read started before this one is handed out. */
export async function* chunksInOrder(c: ChunkedDataset) {
  const n = c.chunkRows.length;
  let next = n ? c.chunk(0) : null;
  for (let i = 0; i < n; i++) {
    const ds = await next!;
    next = i + 1 < n ? c.chunk(i + 1) : null;
    next?.catch(() => {}); // reported when awaited
    yield ds;
  }
}

/** The split's labels (as stored), their rows (0-based over the whole dataset) and the model's predictions. */
export interface ChunkedScores {
  labels: Float32Array;
  rows: Uint32Array;
  p: Predictions;
}

export async function predictChunks(
  model: TfModule.LayersModel,
  meta: ModelMeta,
  c: ChunkedDataset,
  split: string,
  at: string,
): Promise<ChunkedScores> {
  const labels: Float32Array[] = [];
  const rows: Uint32Array[] = [];
  const want = meta.featureShape.join('x');
  async function* features() {
    let offset = 0;
    for await (const ds of chunksInOrder(c)) {
      let idx: Uint32Array;
      try {
        idx = splitIndices(ds, split as 'test');
      } catch (e) {
        return invalid(`${at}: ${(e as Error).message}`);
      }
      const base = offset;
      offset += ds.rows;
      if (idx.length === 0) continue;
      const x = featureTensor(ds, idx);
      if (x.shape.slice(1).join('x') !== want) {
        invalid(
          `${at}: the dataset's features have shape [${x.shape.slice(1).join(', ')}] but the model takes ` +
            `[${meta.featureShape.join(', ')}]; evaluate on the dataset the model was trained on`,
        );
      }
      const bad = nonFiniteMessage(ds, x, idx, 'evaluation');
      if (bad) invalid(`${at}: ${bad}`);
      labels.push(labelVector(ds, idx));
      rows.push(idx.map((r) => r + base));
      yield { x };
    }
  }
  const inference = inferenceFn(getTf(), model, meta.spec);
  const parts: Predictions[] = [];
  try {
    for await (const b of rebatch(features(), 512)) parts.push(predict(model, meta, b.x, 512, inference.apply));
  } finally {
    inference.dispose();
  }
  const n = parts.reduce((a, p) => a + p.yPred.length, 0);
  if (n === 0) invalid(`${at}: the ${split} split is empty; give it a share in the preprocess split step`);
  return { labels: concatF32(labels), rows: concatU32(rows), p: concatPredictions(parts, n) };
}

function concatF32(as: Float32Array[]): Float32Array {
  const out = new Float32Array(as.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const a of as) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function concatU32(as: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(as.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const a of as) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function concatPredictions(parts: Predictions[], n: number): Predictions {
  const yPred = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    yPred.set(p.yPred, o);
    o += p.yPred.length;
  }
  const first = parts[0]!.scores;
  if (!first) return { yPred };
  if (Array.isArray(first)) return { yPred, scores: parts.flatMap((p) => p.scores as number[][]) };
  const pos = new Float64Array(n);
  o = 0;
  for (const p of parts) {
    pos.set(p.scores as Float64Array, o);
    o += p.yPred.length;
  }
  return { yPred, scores: pos };
}

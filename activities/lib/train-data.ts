// The rows a train stage fits: features and labels shaped for the loss, the validation rows, the
// classes. A dataset of one chunk is read whole (the in-memory path); a chunked dataset
// (src/ml/data/chunked.ts) is surveyed once (rows per split in each chunk, the classes and their
// counts) and then read a chunk at a time by fitParts while batches train.
import type { ChunkedDataset } from '../../src/ml/data/chunked.ts';
import { featureTensor, labelVector, rowPlace, splitIndices, type Dataset } from '../../src/ml/data/dataset.ts';
import { nonFiniteMessage } from '../../src/ml/data/finite-check.ts';
import type { ArrayData } from '../../src/ml/train/fit.ts';
import type { HostRows, TrainParts } from '../../src/ml/train/fit-batches.ts';
import type { LossName } from '../../src/ml/train/model-spec.ts';
import type { TrainConfig } from '../train.ts';
import { invalid } from './stage.ts';

export const CLASSIFICATION = new Set<LossName>(['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy']);

/** What building the model and its artifact need to know of the training rows. */
export interface TrainingShape {
  featureShape: number[];
  classification: boolean;
  /** Classes (1 for regression). */
  k: number;
  classes?: string[];
  /** Training rows per class id (classification), for `classWeights: balanced`. */
  classCounts: number[];
  /** Training rows. */
  rows: number;
}

/** The training (and validation) rows in memory. */
export interface TrainingData extends TrainingShape {
  x: ArrayData;
  y: ArrayData;
  validation?: { x: ArrayData; y: ArrayData };
}

/** The training rows of a chunked dataset, read chunk by chunk. */
export interface ChunkedTrainingData extends TrainingShape {
  parts: TrainParts;
  validation?: { parts: () => AsyncIterable<HostRows> };
}

/** Labels shaped for the loss: one-hot, class ids, or a column of values. */
export function labelsFor(loss: LossName, y: Float32Array, k: number): ArrayData {
  const n = y.length;
  if (loss === 'categoricalCrossentropy') {
    const data = new Float32Array(n * k);
    y.forEach((c, i) => (data[i * k + c] = 1));
    return { data, shape: [n, k] };
  }
  if (loss === 'sparseCategoricalCrossentropy') return { data: y, shape: [n] };
  return { data: y, shape: [n, 1] };
}

/** scikit-learn's 'balanced': n_samples / (n_classes present * count(c)). */
export function balancedWeights(counts: number[]): Record<number, number> {
  const n = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((c) => c > 0).length;
  const w: Record<number, number> = {};
  counts.forEach((c, i) => (w[i] = c > 0 ? n / (present * c) : 1));
  return w;
}

function countClasses(y: ArrayLike<number>, counts: number[]): void {
  for (let i = 0; i < y.length; i++) counts[y[i]!] = (counts[y[i]!] ?? 0) + 1;
}

/** Train rows and validation rows (local indices) from the splits; `validationSplit` is applied by the callers. */
function splitRows(ds: Dataset, at: string): { trainIdx: Uint32Array; valIdx?: Uint32Array } {
  try {
    const trainIdx = ds.splits?.train ?? splitIndices(ds, 'all');
    // Reading one row surfaces a dataset without features or labels before anything is built.
    featureTensor(ds, trainIdx.subarray(0, 1));
    labelVector(ds, trainIdx.subarray(0, 1));
    return { trainIdx, valIdx: ds.splits?.validation };
  } catch (e) {
    return invalid(`${at}: ${(e as Error).message}`);
  }
}

/** Features and loss-shaped labels of rows `idx`, checked for NaN/Inf (named by source place). */
function rowsOf(ds: Dataset, idx: Uint32Array, cfg: TrainConfig, k: number, use: string, at: string): HostRows & { yRaw: Float32Array } {
  const x = featureTensor(ds, idx);
  const yRaw = labelVector(ds, idx);
  const bad = nonFiniteMessage(ds, x, idx, use, yRaw);
  if (bad) invalid(`${at}: ${bad}`);
  if (CLASSIFICATION.has(cfg.loss) && cfg.loss !== 'binaryCrossentropy') {
    for (let i = 0; i < yRaw.length; i++) {
      const c = yRaw[i]!;
      if (!(Number.isInteger(c) && c >= 0 && c < k)) {
        invalid(
          `${at}: ${rowPlace(ds, idx[i]!)}: the label ${c} is not a class id 0..${k - 1}; labelEncode the label column in preprocess`,
        );
      }
    }
  }
  return { x, yRaw, y: labelsFor(cfg.loss, yRaw, k) };
}

function numClasses(classes: string[] | undefined, maxLabel: number): number {
  return Math.max(classes?.length ?? 0, maxLabel + 1);
}

/** The training rows (and validation rows, if any) of an in-memory dataset. */
export function trainingData(ds: Dataset, cfg: TrainConfig, at: string): TrainingData {
  let { trainIdx, valIdx } = splitRows(ds, at);
  if (!valIdx && cfg.validationSplit) {
    const nVal = Math.round(trainIdx.length * cfg.validationSplit);
    valIdx = trainIdx.subarray(trainIdx.length - nVal);
    trainIdx = trainIdx.subarray(0, trainIdx.length - nVal);
  }
  const classification = CLASSIFICATION.has(cfg.loss);
  // Classes are counted over the whole dataset: a split may miss one.
  let max = 0;
  if (classification) for (const v of labelVector(ds)) if (v > max) max = v;
  const k = classification ? numClasses(ds.classes, max) : 1;
  const { x, y, yRaw } = rowsOf(ds, trainIdx, cfg, k, 'training', at);
  const classCounts = new Array<number>(k).fill(0);
  if (classification) countClasses(yRaw, classCounts);
  let validation: TrainingData['validation'];
  if (valIdx?.length) {
    const v = rowsOf(ds, valIdx, cfg, k, 'validation', at);
    validation = { x: v.x, y: v.y };
  }
  return { x, y, validation, classification, k, classes: ds.classes, classCounts, featureShape: x.shape.slice(1), rows: trainIdx.length };
}

/** Each chunk's training and validation row counts (exact after a survey, else at most these). */
interface ChunkRows {
  train: number;
  val: number;
}

interface ChunkCounts {
  counts: ChunkRows[];
  /** Training rows over all chunks. */
  totalTrain: number;
  maxLabel: number;
  /** Training rows per class (without validationSplit), or each chunk's training labels to count once the held-out tail is known. */
  perClass: number[];
  trainLabels: Float32Array[];
  featureShape: number[];
}

/**
 * What the manifest says, when that is enough: rows per split, the classes (its `classes`, or
 * the label's class histogram), no `validationSplit` to cut and no balanced class weights to
 * count. Then only the first chunk is read (for the features' shape) before training starts.
 */
async function fromManifest(c: ChunkedDataset, cfg: TrainConfig, at: string): Promise<ChunkCounts | null> {
  const hasValSplit = (c.splitRows?.validation ?? 0) > 0;
  if (cfg.validationSplit && !hasValSplit) return null;
  if (cfg.classWeights === 'balanced') return null;
  let maxLabel = 0;
  if (CLASSIFICATION.has(cfg.loss)) {
    const hist = Object.keys(c.stats?.classHistogram ?? {}).map(Number);
    if (c.classes?.length) maxLabel = c.classes.length - 1;
    else if (hist.length && hist.every((v) => Number.isInteger(v) && v >= 0)) maxLabel = Math.max(...hist);
    else return null;
  }
  const first = c.chunkRows.findIndex((r) => r > 0);
  if (first < 0) return null;
  const ds = await c.chunk(first);
  const { trainIdx } = splitRows(ds, at);
  const featureShape = featureTensor(ds, trainIdx.subarray(0, 1)).shape.slice(1);
  // a split dataset without a train split trains on every row, as in memory
  const totalTrain = c.splitRows ? (c.splitRows.train ?? c.rows) : c.rows;
  const counts = c.chunkRows.map((r) => ({ train: r, val: hasValSplit ? r : 0 }));
  return { counts, totalTrain, maxLabel, perClass: [], trainLabels: [], featureShape };
}

/** Every chunk read once, keeping counts: rows per split in each chunk, the largest label, training rows per class. */
async function survey(c: ChunkedDataset, cfg: TrainConfig, at: string): Promise<ChunkCounts> {
  const classification = CLASSIFICATION.has(cfg.loss);
  const counts: ChunkRows[] = [];
  const perClass: number[] = [];
  const trainLabels: Float32Array[] = [];
  let maxLabel = 0;
  let featureShape: number[] | undefined;
  for (let i = 0; i < c.chunkRows.length; i++) {
    const ds = await c.chunk(i);
    if (ds.rows === 0) {
      counts.push({ train: 0, val: 0 });
      continue;
    }
    const { trainIdx, valIdx } = splitRows(ds, at);
    featureShape ??= featureTensor(ds, trainIdx.subarray(0, 1)).shape.slice(1);
    counts.push({ train: trainIdx.length, val: valIdx?.length ?? 0 });
    if (classification) {
      const y = labelVector(ds);
      for (let j = 0; j < y.length; j++) if (y[j]! > maxLabel) maxLabel = y[j]!;
      const yt = labelVector(ds, trainIdx);
      // with validationSplit the counts wait until the held-out tail is known (a float per row meanwhile)
      if (cfg.validationSplit) trainLabels.push(yt);
      else countClasses(yt, perClass);
    }
  }
  if (!featureShape) return invalid(`${at}: the dataset has no rows`);
  return { counts, totalTrain: counts.reduce((a, r) => a + r.train, 0), maxLabel, perClass, trainLabels, featureShape };
}

/**
 * The training rows of a chunked dataset. The counts come from the manifest where it says
 * enough (fromManifest), else from one pass over the chunks first (survey), so that
 * `validationSplit` takes the last rows of the whole training split and balanced class weights
 * count the training rows, as in memory; the features are read later, a chunk per read.
 */
export async function chunkedTrainingData(c: ChunkedDataset, cfg: TrainConfig, at: string): Promise<ChunkedTrainingData> {
  const classification = CLASSIFICATION.has(cfg.loss);
  const { counts, totalTrain, maxLabel, perClass, trainLabels, featureShape } =
    (await fromManifest(c, cfg, at)) ?? (await survey(c, cfg, at));
  const hasValSplit = counts.some((r) => r.val > 0);
  // validationSplit (without a validation split): the last rows of the training split over all chunks
  const nVal = !hasValSplit && cfg.validationSplit ? Math.round(totalTrain * cfg.validationSplit) : 0;
  const keep: number[] = [];
  let seen = 0;
  for (const r of counts) {
    keep.push(nVal > 0 ? Math.max(0, Math.min(r.train, totalTrain - nVal - seen)) : r.train);
    seen += r.train;
  }
  trainLabels.forEach((y, i) => countClasses(y.subarray(0, keep[i]), perClass));
  const k = classification ? numClasses(c.classes, maxLabel) : 1;
  const rowsIn = (ds: Dataset, i: number) => {
    const { trainIdx, valIdx } = splitRows(ds, at);
    return nVal > 0 ? { train: trainIdx.subarray(0, keep[i]!), val: trainIdx.subarray(keep[i]!) } : { train: trainIdx, val: valIdx };
  };
  const parts: TrainParts = {
    rows: keep,
    xShape: featureShape,
    yShape: labelsFor(cfg.loss, new Float32Array(1), k).shape.slice(1),
    bufferParts: cfg.shuffleBufferChunks,
    read: async (i) => {
      const ds = await c.chunk(i);
      const { x, y } = rowsOf(ds, rowsIn(ds, i).train, cfg, k, 'training', at);
      return { x, y };
    },
  };
  const valRows = hasValSplit ? counts.map((r) => r.val) : counts.map((r, i) => r.train - keep[i]!);
  let validation: ChunkedTrainingData['validation'];
  if (valRows.some((r) => r > 0)) {
    validation = {
      parts: async function* () {
        const ids = valRows.flatMap((r, i) => (r > 0 ? [i] : []));
        let next = ids.length ? c.chunk(ids[0]!) : null;
        for (let j = 0; j < ids.length; j++) {
          const ds = await next!;
          // the next chunk is read while this one's rows are evaluated
          next = j + 1 < ids.length ? c.chunk(ids[j + 1]!) : null;
          next?.catch(() => {});
          const idx = rowsIn(ds, ids[j]!).val;
          if (!idx?.length) continue;
          const v = rowsOf(ds, idx, cfg, k, 'validation', at);
          yield { x: v.x, y: v.y };
        }
      },
    };
  }
  const classCounts = Array.from({ length: k }, (_, i) => perClass[i] ?? 0);
  return { parts, validation, classification, k, classes: c.classes, classCounts, featureShape, rows: totalTrain - nVal };
}

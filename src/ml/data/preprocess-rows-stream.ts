// Row steps over a chunked dataset (data larger than memory), decided one chunk at a time without
// reading the rows. `split` is a per-row draw: a hash of the seed and the row's index in the whole
// dataset picks its split, so it is reproducible and the same whatever the chunk size (the
// in-memory split of preprocess-split.ts deals exact counts instead). `shuffle` permutes the rows
// of each chunk (seeded by the step's seed and the chunk's index); mixing chunks is left to
// train, which visits the chunks in a new seeded order every epoch. `augment` is refused: images
// too many for memory are augmented per batch by train (`train.augment`).
import type { SplitName } from './dataset.ts';
import { permutation } from './rng.ts';
import { DataError } from './data-error.ts';
import type { PreprocessStep } from './preprocess.ts';
import type { SplitSpec } from './preprocess-split.ts';

/** What the row steps do to each chunk. */
export interface RowPlan {
  split?: { shares: [number, number, number]; seed: number };
  /** Seeds of the shuffles that order the rows (those before the split, as in memory). */
  shuffles: number[];
}

/** murmur3's 32-bit finalizer: every input bit moves every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) that depends only on `seed` and `index` (a row's or a chunk's). */
export function drawOf(seed: number, index: number): number {
  const s = fmix32((Math.trunc(seed) ^ 0x9e3779b9) >>> 0);
  // Rows past 2^32 (not reachable with uint32 origins) would wrap; the high part keeps them apart.
  const hi = Math.floor(index / 0x1_0000_0000);
  const h = fmix32((s ^ fmix32((index >>> 0) + Math.imul(hi, 0x27d4eb2f))) + 0x6d2b79f5);
  return h / 0x1_0000_0000;
}

/** The row steps checked and reduced to a plan; the errors name the stage and the fix. */
export function rowPlan(steps: PreprocessStep[], hasLabel: boolean, at: string): RowPlan {
  const plan: RowPlan = { shuffles: [] };
  for (const s of steps) {
    if (s.type === 'augment') {
      throw new DataError(
        `${at}: augment: the dataset comes in chunks (more rows than collect's chunkRows), too many to copy ` +
          'augmented images into; move the step to the train stage as `train.augment`, which augments each batch, seeded',
      );
    }
    if (s.type === 'shuffle' && !plan.split) plan.shuffles.push(s.seed ?? 0);
    if (s.type === 'split') {
      if (plan.split) throw new DataError(`${at}: only one split step is allowed`);
      plan.split = { shares: splitShares(s, at), seed: s.seed ?? 0 };
      if (s.stratify && !hasLabel) {
        throw new DataError(`${at}: split.stratify needs a label column; declare schema.label in collect or label in preprocess`);
      }
    }
  }
  return plan;
}

function splitShares(spec: SplitSpec, at: string): [number, number, number] {
  const val = spec.validation ?? 0;
  const test = spec.test ?? Math.max(0, 1 - spec.train - val);
  if (spec.train + val + test > 1 + 1e-9) {
    throw new DataError(`${at}: split shares add up to ${spec.train + val + test}, more than 1; lower train/validation/test`);
  }
  return [spec.train, val, test];
}

const NAMES: SplitName[] = ['train', 'validation', 'test'];

/** The split of global row `index`: 0 train, 1 validation, 2 test, -1 none (shares under 1). */
export function splitOf(split: NonNullable<RowPlan['split']>, index: number): number {
  const u = drawOf(split.seed, index);
  const [a, b, c] = split.shares;
  return u < a ? 0 : u < a + b ? 1 : u < a + b + c ? 2 : -1;
}

/**
 * The splits of a chunk of `rows` rows whose first row is row `first` of the dataset, as local
 * indices in the chunk's (shuffled) order. Without a split step every row is in `train`.
 */
export function chunkSplits(plan: RowPlan, chunk: number, first: number, rows: number): Partial<Record<SplitName, Uint32Array>> {
  let order = Uint32Array.from({ length: rows }, (_, i) => i);
  for (const seed of plan.shuffles) {
    const p = permutation(rows, Math.floor(drawOf(seed, chunk) * 0x1_0000_0000));
    order = p.map((i) => order[i]!);
  }
  if (!plan.split) return { train: order };
  const lists: number[][] = [[], [], []];
  for (const r of order) {
    const s = splitOf(plan.split, first + r);
    if (s >= 0) lists[s]!.push(r);
  }
  const out: Partial<Record<SplitName, Uint32Array>> = { train: Uint32Array.from(lists[0]!) };
  NAMES.forEach((name, i) => {
    if (i > 0 && plan.split!.shares[i]! > 0) out[name] = Uint32Array.from(lists[i]!);
  });
  return out;
}

/** Train rows of a chunk in row order (the fit passes read them in the same order whatever the chunking). */
export function trainRows(plan: RowPlan, first: number, rows: number): Uint32Array {
  if (!plan.split) return Uint32Array.from({ length: rows }, (_, i) => i);
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (splitOf(plan.split, first + r) === 0) out.push(r);
  return Uint32Array.from(out);
}

/** Train rows over all chunks; an empty train split fails before any pass reads a chunk. */
export function checkTrainRows(plan: RowPlan, total: number, at: string): number {
  if (!plan.split) return total;
  let n = 0;
  for (let r = 0; r < total; r++) if (splitOf(plan.split, r) === 0) n++;
  if (n === 0) throw new DataError(`${at}: the train split is empty; raise split.train or collect more rows`);
  return n;
}

// Where fit()'s batches come from. An epoch is a sequence of windows: rows on the device, cut
// into batches in the window's order. In memory, the whole training set is one window uploaded
// once (today's path: batches gather from it by index). Streamed (a dataset read a chunk at a
// time), a window is a few thousand rows drawn from a shuffle buffer of parts (chunks) while the
// next part is read in the background, so memory follows the part size and the step does not wait
// on I/O. With augmentation, each batch is its own window, augmented on the host before upload.
import type * as TfModule from '@tensorflow/tfjs';
import type { ArrayData } from './fit.ts';
import type { TrainingTensors } from './fit-engines.ts';

type Tf = typeof TfModule;

/** Features and labels (shaped for the loss) of some rows, on the host. */
export interface HostRows {
  x: ArrayData;
  y: ArrayData;
}

/**
 * Training rows that arrive a part at a time (a chunked dataset's chunks). `read(i)` may be
 * called for one part while the batches of others train; it checks its rows (NaN, labels) and
 * names their source place in its errors.
 */
export interface TrainParts {
  /** Training rows of each part, in order, or a bound on them (parts of 0 rows are skipped; windows are sized by the largest). */
  rows: number[];
  read(i: number): Promise<HostRows>;
  /** One row's feature and label shapes (as the loss wants the labels). */
  xShape: number[];
  yShape: number[];
  /** Parts whose rows are mixed in the shuffle buffer (default 4). */
  bufferParts?: number;
}

/** Rows on the device and the order their batches take; `release` frees what the window owns. */
export interface Window extends TrainingTensors {
  order: Int32Array;
  release(): void;
}

export interface BatchPlan {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Per-row loss weights (class weights) for loss-shaped labels. */
  weightsOf?: (y: ArrayData) => Float32Array;
  /** A training batch's features, augmented (seeded by epoch and batch). */
  augment?: (x: ArrayData, epoch: number, batch: number) => ArrayData;
}

/** An epoch's windows, and the tensors that stand for "the training set" when the engine starts. */
export interface BatchSource {
  /** Training rows per epoch (streamed: a bound; the epoch's logs count the rows trained). */
  rows: number;
  /** What the engine compiles against (dtypes, whether there are loss weights). */
  initial: TrainingTensors;
  windows(epoch: number): AsyncIterable<Window>;
  dispose(): void;
}

/** Mulberry32: a small seeded PRNG for reproducible shuffles. */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place. */
export function shuffleInPlace(a: Int32Array, random: () => number): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
const widthOf = (a: ArrayData) => (a.shape[0] ? a.data.length / a.shape[0] : 0);

/** Rows `idx` of `a`, copied. */
export function takeArrayRows(a: ArrayData, idx: ArrayLike<number>): ArrayData {
  const w = widthOf(a);
  const data = new (a.data.constructor as Float32ArrayConstructor)(idx.length * w);
  for (let i = 0; i < idx.length; i++) data.set(a.data.subarray(idx[i]! * w, (idx[i]! + 1) * w), i * w);
  return { data, shape: [idx.length, ...a.shape.slice(1)] };
}

function upload(tf: Tf, rows: HostRows, plan: BatchPlan): TrainingTensors {
  return {
    xs: tf.tensor(rows.x.data, rows.x.shape),
    ys: tf.tensor(rows.y.data, rows.y.shape),
    sampleWeights: plan.weightsOf ? tf.tensor1d(plan.weightsOf(rows.y)) : null,
  };
}

function ownedWindow(tf: Tf, rows: HostRows, plan: BatchPlan): Window {
  const t = upload(tf, rows, plan);
  return {
    ...t,
    order: identity(rows.x.shape[0]!),
    release: () => tf.dispose([t.xs, t.ys, ...(t.sampleWeights ? [t.sampleWeights] : [])]),
  };
}

/** Host windows as device windows: whole, or (augmenting) one batch each. */
async function* toDevice(tf: Tf, host: AsyncIterable<HostRows>, plan: BatchPlan, epoch: number): AsyncGenerator<Window> {
  let batch = 0;
  for await (const rows of host) {
    const n = rows.x.shape[0]!;
    if (!plan.augment) {
      yield ownedWindow(tf, rows, plan);
      continue;
    }
    for (let s = 0; s < n; s += plan.batchSize) {
      const idx = identity(Math.min(plan.batchSize, n - s)).map((i) => i + s);
      const x = plan.augment(n === idx.length ? rows.x : takeArrayRows(rows.x, idx), epoch, batch++);
      yield ownedWindow(tf, { x, y: n === idx.length ? rows.y : takeArrayRows(rows.y, idx) }, plan);
    }
  }
}

/**
 * The order of an epoch's samples: shuffled unless `shuffle: false`, seeded per epoch so a run
 * resumed at epoch k sees the same order as an uninterrupted one.
 */
export function epochOrder(n: number, plan: Pick<BatchPlan, 'shuffle' | 'seed'>, epoch: number): Int32Array {
  const order = identity(n);
  return plan.shuffle ? shuffleInPlace(order, rng(plan.seed * 1000003 + epoch)) : order;
}

/** The whole training set on the device once; each epoch one window in a seeded order. */
export function memoryBatches(tf: Tf, x: ArrayData, y: ArrayData, plan: BatchPlan): BatchSource {
  const n = x.shape[0]!;
  const data: TrainingTensors = upload(tf, { x, y }, plan);
  return {
    rows: n,
    initial: data,
    windows: (epoch) => {
      const order = epochOrder(n, plan, epoch);
      if (plan.augment) return toDevice(tf, hostBatches({ x, y }, order, plan.batchSize), plan, epoch);
      return (async function* () {
        yield { ...data, order, release: () => {} };
      })();
    },
    dispose: () => tf.dispose([data.xs, data.ys, ...(data.sampleWeights ? [data.sampleWeights] : [])]),
  };
}

async function* hostBatches(rows: HostRows, order: Int32Array, batchSize: number): AsyncGenerator<HostRows> {
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = order.subarray(s, s + batchSize);
    yield { x: takeArrayRows(rows.x, idx), y: takeArrayRows(rows.y, idx) };
  }
}

/**
 * Training rows read part by part. Per epoch the parts come in a seeded order (their own order
 * without shuffle); up to `bufferParts` of them sit in a buffer, the next one is being read, and
 * each window draws rows from the buffer at random (weighted by what each part has left), so
 * neighbouring rows of a file do not all land in one batch. Without shuffle the windows are the
 * rows in order, and batches are exactly those of the gathered dataset. A window holds a whole
 * number of batches (about one part's rows), so no batch spans two windows.
 */
export function streamedBatches(tf: Tf, parts: TrainParts, plan: BatchPlan): BatchSource {
  const rows = parts.rows.reduce((a, b) => a + b, 0);
  const initial: TrainingTensors = {
    xs: tf.zeros([1, ...parts.xShape], 'float32'),
    ys: tf.zeros([1, ...parts.yShape], 'float32'),
    sampleWeights: plan.weightsOf ? tf.ones([1], 'float32') : null,
  };
  return {
    rows,
    initial,
    windows: (epoch) => toDevice(tf, streamRows(parts, plan, epoch), plan, epoch),
    dispose: () => tf.dispose([initial.xs, initial.ys, ...(initial.sampleWeights ? [initial.sampleWeights] : [])]),
  };
}

interface Buffered {
  rows: HostRows;
  order: Int32Array;
  pos: number;
}

async function* streamRows(parts: TrainParts, plan: BatchPlan, epoch: number): AsyncGenerator<HostRows> {
  const ids = Int32Array.from(parts.rows.flatMap((r, i) => (r > 0 ? [i] : [])));
  if (plan.shuffle) shuffleInPlace(ids, rng(plan.seed * 1000003 + epoch));
  const random = rng((plan.seed * 1000003 + epoch) ^ 0x2545f491);
  // without shuffle rows go in order: one part buffered is enough
  const bufferParts = plan.shuffle ? Math.max(1, parts.bufferParts ?? 4) : 1;
  const windowRows = Math.max(1, Math.ceil(Math.max(...parts.rows) / plan.batchSize)) * plan.batchSize;
  let next = 0;
  let pending: Promise<HostRows> | null = null;
  const prefetch = () => {
    pending = next < ids.length ? parts.read(ids[next++]!) : null;
    // a read that fails while batches train is reported when awaited, not as an unhandled rejection
    pending?.catch(() => {});
  };
  prefetch();
  const pool: Buffered[] = [];
  for (;;) {
    // a window is whole batches: read on while the buffer holds fewer rows than one
    const held = () => pool.reduce((a, b) => a + b.order.length - b.pos, 0);
    while (pending && (pool.length < bufferParts || held() < windowRows)) {
      const got: HostRows = await pending;
      prefetch();
      const n = got.x.shape[0]!;
      pool.push({ rows: got, order: plan.shuffle ? shuffleInPlace(identity(n), random) : identity(n), pos: 0 });
    }
    let left = held();
    if (left === 0) return;
    const take = Math.min(windowRows, left);
    const x0 = pool[0]!.rows.x;
    const y0 = pool[0]!.rows.y;
    const xw = widthOf(x0);
    const yw = widthOf(y0);
    const x = new Float32Array(take * xw);
    const y = new Float32Array(take * yw);
    for (let i = 0; i < take; i++) {
      let b = pool[0]!;
      if (plan.shuffle) {
        let r = Math.floor(random() * left);
        for (const p of pool) {
          const rest = p.order.length - p.pos;
          if (r < rest) {
            b = p;
            break;
          }
          r -= rest;
        }
      } else {
        b = pool.find((p) => p.pos < p.order.length)!;
      }
      const row = b.order[b.pos++]!;
      copyRow(b.rows.x.data, row, x, i, xw);
      copyRow(b.rows.y.data, row, y, i, yw);
      left--;
    }
    for (let i = pool.length - 1; i >= 0; i--) if (pool[i]!.pos >= pool[i]!.order.length) pool.splice(i, 1);
    yield { x: { data: x, shape: [take, ...x0.shape.slice(1)] }, y: { data: y, shape: [take, ...y0.shape.slice(1)] } };
  }
}

/** Row `from` of `src` into row `to` of `dst` (`w` values a row); short rows by hand, no view per row. */
function copyRow(src: ArrayLike<number>, from: number, dst: Float32Array, to: number, w: number): void {
  if (w > 64) {
    dst.set((src as Float32Array).subarray(from * w, (from + 1) * w), to * w);
    return;
  }
  for (let k = 0, a = from * w, b = to * w; k < w; k++) dst[b + k] = src[a + k]!;
}

/**
 * Host rows re-cut into batches of exactly `size` rows (the last one shorter) across part
 * boundaries, so a streamed pass runs the very batches an in-memory pass over the gathered rows
 * would. Parts are read one at a time; a batch copies only when it spans two parts.
 */
export async function* rebatch<T extends { x: ArrayData; y?: ArrayData }>(parts: AsyncIterable<T>, size: number): AsyncGenerator<T> {
  let carry: T[] = [];
  let carried = 0;
  // rows [from, to) as views: no copy until a batch spans two parts
  const view = (a: ArrayData, from: number, to: number): ArrayData => {
    const w = widthOf(a);
    return { data: a.data.subarray(from * w, to * w), shape: [to - from, ...a.shape.slice(1)] };
  };
  const cut = (p: T, from: number, to: number): T => ({ ...p, x: view(p.x, from, to), ...(p.y ? { y: view(p.y, from, to) } : {}) });
  const join = (ps: T[]): T => {
    if (ps.length === 1) return ps[0]!;
    const cat = (as: ArrayData[]): ArrayData => {
      const n = as.reduce((a, b) => a + b.shape[0]!, 0);
      const data = new Float32Array(as.reduce((a, b) => a + b.data.length, 0));
      let o = 0;
      for (const a of as) {
        data.set(a.data, o);
        o += a.data.length;
      }
      return { data, shape: [n, ...as[0]!.shape.slice(1)] };
    };
    return { ...ps[0]!, x: cat(ps.map((p) => p.x)), ...(ps[0]!.y ? { y: cat(ps.map((p) => p.y!)) } : {}) };
  };
  for await (const p of parts) {
    const n = p.x.shape[0]!;
    let s = 0;
    if (carried > 0) {
      const need = Math.min(size - carried, n);
      carry.push(cut(p, 0, need));
      carried += need;
      s = need;
      if (carried < size) continue;
      yield join(carry);
      carry = [];
      carried = 0;
    }
    for (; s + size <= n; s += size) yield s === 0 && size === n ? p : cut(p, s, s + size);
    if (s < n) {
      carry.push(cut(p, s, n));
      carried = n - s;
    }
  }
  if (carried > 0) yield join(carry);
}

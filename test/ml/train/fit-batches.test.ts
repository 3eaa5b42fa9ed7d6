// Where fit's batches come from: the streamed source's windows (every row once per epoch, seeded
// orders, whole batches, the buffer and the read ahead), fitParts against fit, and the
// augmentation hook (training batches only, seeded by epoch and batch).
import type * as TfModule from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type HostRows, streamedBatches, type TrainParts } from '../../../src/ml/train/fit-batches.ts';
import { fit, fitParts } from '../../../src/ml/train/fit.ts';
import { buildModel } from '../../../src/ml/train/model.ts';
import type { TrainModelSpec } from '../../../src/ml/train/model-spec.ts';
import { expectNativeBackend, separable } from '../../support/ml.ts';

let tf: typeof TfModule;
beforeAll(() => {
  tf = expectNativeBackend().tf;
});

/** Parts of the given sizes whose one feature is the row's number (0-based over all parts); reads logged. */
function numberedParts(sizes: number[], log: string[] = [], bufferParts?: number): TrainParts {
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  return {
    rows: sizes,
    xShape: [1],
    yShape: [1],
    bufferParts,
    read: async (i) => {
      log.push(`read ${i}`);
      await new Promise((r) => setTimeout(r, 2));
      const x = Float32Array.from({ length: sizes[i]! }, (_, j) => starts[i]! + j);
      return { x: { data: x, shape: [sizes[i]!, 1] }, y: { data: x.slice(), shape: [sizes[i]!, 1] } };
    },
  };
}

async function epochRows(
  parts: TrainParts,
  shuffle: boolean,
  epoch: number,
  batchSize = 8,
): Promise<{ rows: number[]; windows: number[] }> {
  const src = streamedBatches(tf, parts, { batchSize, shuffle, seed: 11 });
  const rows: number[] = [];
  const windows: number[] = [];
  try {
    for await (const w of src.windows(epoch)) {
      const x = w.xs.dataSync();
      expect(Array.from(w.ys.dataSync())).toEqual(Array.from(x)); // labels travel with their rows
      for (const i of w.order) rows.push(x[i]!);
      windows.push(w.order.length);
      w.release();
    }
  } finally {
    src.dispose();
  }
  return { rows, windows };
}

describe('streamed batches', () => {
  const sizes = [50, 50, 30, 50, 0, 50, 20];
  const all = Array.from({ length: 250 }, (_, i) => i);

  it('without shuffle, the rows in order in windows of whole batches', async () => {
    const { rows, windows } = await epochRows(numberedParts(sizes), false, 0);
    expect(rows).toEqual(all);
    for (const w of windows.slice(0, -1)) expect(w % 8).toBe(0);
  });

  it('with shuffle, every row once per epoch, mixed across parts; the same order for the same epoch, another for the next', async () => {
    const e0 = await epochRows(numberedParts(sizes), true, 0);
    expect([...e0.rows].sort((a, b) => a - b)).toEqual(all);
    expect(e0.rows).not.toEqual(all);
    // the first window draws from several parts (the buffer), not just the first one read
    const firstParts = new Set(
      e0.rows.slice(0, 56).map((r) =>
        Math.min(
          6,
          sizes.findIndex((_, i) => r < sizes.slice(0, i + 1).reduce((a, b) => a + b, 0)),
        ),
      ),
    );
    expect(firstParts.size).toBeGreaterThan(1);
    expect((await epochRows(numberedParts(sizes), true, 0)).rows).toEqual(e0.rows);
    expect((await epochRows(numberedParts(sizes), true, 1)).rows).not.toEqual(e0.rows);
    for (const w of e0.windows.slice(0, -1)) expect(w % 8).toBe(0);
  });

  it('holds the buffer and one part read ahead: reads continue while batches train', async () => {
    const log: string[] = [];
    const parts = numberedParts([40, 40, 40, 40, 40, 40], log, 2);
    const { model } = buildModel(REG, { seed: 1 });
    await fitParts(model, REG, parts, { epochs: 1, batchSize: 8, seed: 1, onBatch: (_e, b) => void log.push(`batch ${b}`) });
    model.dispose();
    const firstBatch = log.indexOf('batch 0');
    // before the first step: the two parts of the buffer and the next one being read
    expect(log.slice(0, firstBatch).filter((e) => e.startsWith('read')).length).toBe(3);
    // the last parts are read between batches, not all up front
    expect(log.indexOf('read 5')).toBeGreaterThan(firstBatch);
    expect(log.filter((e) => e.startsWith('batch')).length).toBe(30);
  });
});

const REG: TrainModelSpec = {
  model: { inputShape: [1], layers: [{ type: 'dense', units: 1 }] },
  optimizer: { type: 'sgd', learningRate: 0.001 },
  loss: 'meanSquaredError',
};

const MLP: TrainModelSpec = {
  model: {
    inputShape: [4],
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: 2 },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.01 },
  loss: 'categoricalCrossentropy',
  metrics: ['accuracy'],
};

/** `rows` cut into parts of `size` rows. */
function partsOf(rows: HostRows, size: number): TrainParts {
  const n = rows.x.shape[0]!;
  const cut = (a: HostRows['x'], i: number) => {
    const w = a.data.length / n;
    const to = Math.min(n, (i + 1) * size);
    return { data: a.data.slice(i * size * w, to * w), shape: [to - i * size, ...a.shape.slice(1)] };
  };
  return {
    rows: Array.from({ length: Math.ceil(n / size) }, (_, i) => Math.min(size, n - i * size)),
    xShape: rows.x.shape.slice(1),
    yShape: rows.y.shape.slice(1),
    read: async (i) => ({ x: cut(rows.x, i), y: cut(rows.y, i) }),
  };
}

describe('fitParts', () => {
  it('without shuffle trains the batches fit trains: the same weights and logs, validation streamed too', async () => {
    const { x, y } = separable(300);
    const val = separable(70, 4, 9);
    const before = tf.memory().numTensors;
    const a = buildModel(MLP, { seed: 3 }).model;
    const b = buildModel(MLP, { seed: 3 }).model;
    const opts = { epochs: 3, batchSize: 16, shuffle: false, seed: 2 };
    const ra = await fit(a, MLP, x, y, { ...opts, validation: val });
    const valParts = partsOf(val, 25);
    const rb = await fitParts(b, MLP, partsOf({ x, y }, 64), {
      ...opts,
      validation: {
        parts: async function* () {
          for (let i = 0; i < valParts.rows.length; i++) yield await valParts.read(i);
        },
      },
    });
    expect(rb.history).toEqual(ra.history);
    expect(b.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(a.getWeights().map((w) => Array.from(w.dataSync())));
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('augments training batches only, once per batch with its epoch and number, in memory and streamed', async () => {
    const { x, y } = separable(100);
    const val = separable(40, 4, 9);
    for (const streamed of [false, true]) {
      const calls: string[] = [];
      const before = tf.memory().numTensors;
      const model = buildModel(MLP, { seed: 3 }).model;
      const opts = {
        epochs: 2,
        batchSize: 32,
        seed: 2,
        validation: val,
        augment: (xb: HostRows['x'], epoch: number, batch: number) => {
          calls.push(`${epoch}/${batch}:${xb.shape[0]}`);
          return xb;
        },
      };
      if (streamed) await fitParts(model, MLP, partsOf({ x, y }, 30), opts);
      else await fit(model, MLP, x, y, opts);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before); // every window's tensors freed
      // 100 rows in batches of 32: 32, 32, 32, 4, each epoch; the 40 validation rows never
      expect(calls).toEqual(['0/0:32', '0/1:32', '0/2:32', '0/3:4', '1/0:32', '1/1:32', '1/2:32', '1/3:4']);
    }
  });
});

// fitInWorker: training in a worker thread keeps the caller's event loop free even when one
// batch blocks TensorFlow for a long time; progress, checkpoints and cancel cross the thread.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluate, restoreModel, type TrainingState } from '../../../src/ml/train/fit.ts';
import { fitInWorker } from '../../../src/ml/train/fit-worker-host.ts';
import { buildModel } from '../../../src/ml/train/model.ts';
import type { TrainModelSpec } from '../../../src/ml/train/model-spec.ts';
import { expectNativeBackend, randoms, separable } from '../../support/ml.ts';

const MLP: TrainModelSpec = {
  model: {
    inputShape: [4],
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: 2 },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.05 },
  loss: 'categoricalCrossentropy',
  metrics: ['accuracy'],
};

describe('fitInWorker', () => {
  it('trains in a worker on the native backend and hands back weights, progress and checkpoints', async () => {
    const { tf } = expectNativeBackend();
    const { x, y } = separable(256);
    const epochs: number[] = [];
    const ckpts: TrainingState[] = [];
    const r = await fitInWorker(
      MLP,
      x,
      y,
      { epochs: 6, batchSize: 32, checkpointEvery: 3 },
      { onEpochEnd: (e) => void epochs.push(e), onCheckpoint: (s) => void ckpts.push(s) },
      { build: { seed: 3 } },
    );
    expect(r.stopReason).toBe('completed');
    expect(r.backend.backend).toBe('tensorflow');
    expect(epochs).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ckpts.map((c) => c.nextEpoch)).toEqual([3, 6]);
    const { model } = buildModel(MLP, { seed: 0 });
    restoreModel(tf, model, r.weights);
    expect((await evaluate(model, MLP, x, y)).accuracy).toBeGreaterThan(0.85);
  });

  it('keeps the caller responsive while long batches run, and cancels on abort', async () => {
    // a LeNet-sized CNN at batch 256 blocks its thread for tens of ms per batch
    const spec: TrainModelSpec = {
      model: {
        inputShape: [32, 32, 3],
        layers: [
          { type: 'conv2d', filters: 16, kernelSize: 5, activation: 'relu' },
          { type: 'maxPooling2d', poolSize: 2 },
          { type: 'flatten' },
          { type: 'dense', units: 10 },
        ],
      },
      optimizer: { type: 'sgd', learningRate: 0.001, momentum: 0.9 },
      loss: 'sparseCategoricalCrossentropy',
    };
    const n = 512;
    const ac = new AbortController();
    let batches = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 2);
    const r = await fitInWorker(
      spec,
      { data: randoms(n * 3072), shape: [n, 32, 32, 3] },
      { data: Int32Array.from({ length: n }, (_, i) => i % 10), shape: [n] },
      { epochs: 1000, batchSize: 256 },
      {
        signal: ac.signal,
        onBatch: () => {
          if (++batches === 6) ac.abort();
        },
      },
    );
    clearInterval(timer);
    expect(r.stopReason).toBe('cancelled');
    expect(batches).toBeGreaterThanOrEqual(6);
    expect(batches).toBeLessThan(12);
    expect(maxGap, 'the calling thread was never blocked for long').toBeLessThan(250);
  });

  it('ends its worker thread: the process exits once training is done', () => {
    const script = fileURLToPath(new URL('./fixtures/fit-in-worker-exits.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [tsx, script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toContain('fitInWorker: completed');
    expect(
      r.signal === null && r.status === 0,
      `exit ${r.status ?? r.signal}: killed after 30 s? a worker thread kept the process alive`,
    ).toBe(true);
  });

  it('reports a bad spec as an error naming the place', async () => {
    const { x, y } = separable(16);
    await expect(
      fitInWorker({ ...MLP, model: { inputShape: [4], layers: [{ type: 'dense3' } as never] } }, x, y, { epochs: 1, batchSize: 4 }),
    ).rejects.toThrow(/model\.layers\[0\]/);
  });
});

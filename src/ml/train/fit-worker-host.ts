// Run src/ml/train/fit.ts in a worker thread. TensorFlow's native ops block the thread that calls
// them for a whole batch; fit() yields between batches, which is enough for the example models
// (tens of ms per batch, docs/native-tensorflow.md), but a big model or batch can block for
// seconds. In a worker the calling thread's event loop (Temporal heartbeats, cancellation)
// never waits on TensorFlow.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendPreference } from '../runtime/backend.ts';
import { setNativeEnvDefaults } from '../runtime/native-env.ts';
import type { ArrayData, EpochLogs, FitOptions, FitResult, NamedArray, TrainingState } from './fit.ts';
import type { BuildOptions } from './model.ts';
import type { TrainModelSpec } from './model-spec.ts';

type Serialisable<T> = Omit<T, 'onEpochEnd' | 'onBatch' | 'onCheckpoint' | 'signal'>;

export interface WorkerFitRequest {
  spec: TrainModelSpec;
  build: BuildOptions;
  x: ArrayData;
  y: ArrayData;
  options: Serialisable<FitOptions>;
  /** Start from these weights (e.g. a previous stage's model); resumeFrom overrides them. */
  initialWeights?: NamedArray[];
  backend?: BackendPreference;
  wantBatches: boolean;
}

export type WorkerMessage =
  | { type: 'epoch'; epoch: number; logs: EpochLogs }
  | { type: 'batch'; epoch: number; batch: number; loss: number }
  | { type: 'checkpoint'; state: TrainingState }
  | { type: 'done'; result: FitResult; weights: NamedArray[] }
  | { type: 'error'; message: string; stack?: string };

export interface WorkerFitHooks {
  onEpochEnd?: FitOptions['onEpochEnd'];
  onBatch?: FitOptions['onBatch'];
  onCheckpoint?: FitOptions['onCheckpoint'];
  signal?: AbortSignal;
}

export interface WorkerFitResult extends FitResult {
  /** The trained weights, in model.weights order: restoreModel(tf, buildModel(spec).model, weights). */
  weights: NamedArray[];
}

// mlpipe runs its TypeScript through tsx (no build step): the worker registers tsx's loader in
// its own thread, then imports the entry. Paths are resolved here so the worker needs no cwd.
const require = createRequire(import.meta.url);
const TSX_API = pathToFileURL(require.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
const BOOTSTRAP = `
  import(${JSON.stringify(TSX_API)})
    .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./fit-worker.ts', import.meta.url).href)}); })
    .catch((e) => {
      require('node:worker_threads').parentPort.postMessage({
        type: 'error', message: 'training worker failed to start: ' + (e && e.message), stack: e && e.stack,
      });
    });
`;

/**
 * Build the model from `spec` and train it in a worker thread. Hooks run on the calling thread;
 * an abort of `signal` reaches the worker before its next batch (stopReason 'cancelled').
 */
export function fitInWorker(
  spec: TrainModelSpec,
  x: ArrayData,
  y: ArrayData,
  options: Serialisable<FitOptions>,
  hooks: WorkerFitHooks = {},
  extra: { build?: BuildOptions; initialWeights?: NamedArray[]; backend?: BackendPreference } = {},
): Promise<WorkerFitResult> {
  const request: WorkerFitRequest = {
    spec,
    build: extra.build ?? {},
    x,
    y,
    options,
    initialWeights: extra.initialWeights,
    backend: extra.backend,
    wantBatches: Boolean(hooks.onBatch),
  };
  // TensorFlow reads the process's real environment, which only the main thread can change
  // (a worker's process.env is a copy): set it here, as selectBackend does.
  setNativeEnvDefaults();
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: request });
  return new Promise<WorkerFitResult>((resolve, reject) => {
    let settled = false;
    let chain = Promise.resolve(); // hooks run in order, one at a time
    const cancel = () => worker.postMessage({ type: 'cancel' });
    if (hooks.signal?.aborted) cancel();
    hooks.signal?.addEventListener('abort', cancel, { once: true });
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', cancel);
      // The worker's message listener would keep its thread (and TensorFlow's memory) alive.
      void worker.terminate();
      fn();
    };
    worker.on('message', (m: WorkerMessage) => {
      chain = chain
        .then(async () => {
          if (m.type === 'epoch') await hooks.onEpochEnd?.(m.epoch, m.logs);
          else if (m.type === 'batch') await hooks.onBatch?.(m.epoch, m.batch, m.loss);
          else if (m.type === 'checkpoint') await hooks.onCheckpoint?.(m.state);
          else if (m.type === 'done') finish(() => resolve({ ...m.result, weights: m.weights }));
          else finish(() => reject(Object.assign(new Error(m.message), { stack: m.stack ?? m.message })));
        })
        .catch((e: unknown) => {
          worker.terminate();
          finish(() => reject(e));
        });
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => {
      void chain.then(() => finish(() => reject(new Error(`training worker exited (code ${code}) before it finished`))));
    });
  });
}

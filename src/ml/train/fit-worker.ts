// Worker-thread entry for fitInWorker (src/ml/train/fit-worker-host.ts): builds the model from the spec,
// trains with src/ml/train/fit.ts and streams progress back. Runs its own event loop, so the parent's
// stays free for Temporal heartbeats and cancellation however long a batch blocks here.
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../runtime/backend.ts';
import { fit, restoreModel, snapshotModel, type TrainingState } from './fit.ts';
import type { WorkerFitRequest, WorkerMessage } from './fit-worker-host.ts';
import { buildModel } from './model.ts';

const port = parentPort!;
const req = workerData as WorkerFitRequest;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const ac = new AbortController();
port.on('message', (m: { type: 'cancel' }) => {
  if (m.type === 'cancel') ac.abort();
});

try {
  const { tf } = selectBackend(req.backend);
  const { model } = buildModel(req.spec, req.build);
  if (req.initialWeights) restoreModel(tf, model, req.initialWeights);
  const result = await fit(model, req.spec, req.x, req.y, {
    ...req.options,
    signal: ac.signal,
    onEpochEnd: (epoch, logs) => post({ type: 'epoch', epoch, logs }),
    onBatch: req.wantBatches ? (epoch, batch, loss) => post({ type: 'batch', epoch, batch, loss }) : undefined,
    onCheckpoint: req.options.checkpointEvery ? (state: TrainingState) => post({ type: 'checkpoint', state }) : undefined,
  });
  const weights = await snapshotModel(model);
  post(
    { type: 'done', result, weights },
    weights.map((w) => w.data.buffer as ArrayBuffer),
  );
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
}

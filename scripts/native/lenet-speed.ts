// Trains the seed's LeNet (bench/train-speed.ts) with mlpipe's fit() on the backend this process
// selects (MLPIPE_TF_BACKEND) and prints samples/s per batch size, one JSON line at the end.
// scripts/gpu-check.sh runs it once with MLPIPE_TF_BACKEND=gpu and once with =cpu: one native
// TensorFlow per process, so the two builds cannot share one.
//
//   node --import tsx scripts/native/lenet-speed.ts [--expect tensorflow-gpu] [--batch-sizes 32,128,512] [--samples 8192]
import { parseArgs } from 'node:util';
import { LENET } from '../../bench/train-speed.ts';
import { selectBackend } from '../../src/ml/runtime/backend.ts';
import { fit } from '../../src/ml/train/fit.ts';
import { buildModel } from '../../src/ml/train/model.ts';

const { values } = parseArgs({
  options: {
    expect: { type: 'string' },
    'batch-sizes': { type: 'string', default: '32,128,512' },
    samples: { type: 'string', default: '8192' },
    epochs: { type: 'string', default: '2' },
  },
});
const samples = Number(values.samples);
const epochs = Number(values.epochs);
let info;
try {
  ({ info } = selectBackend());
} catch (e) {
  console.error(`lenet-speed: ${(e as Error).message}`);
  process.exit(1);
}
if (values.expect && info.backend !== values.expect) {
  console.error(`lenet-speed: backend is ${info.backend}, expected ${values.expect}`);
  process.exit(1);
}

// Synthetic 32x32x3 images and 10 classes: speed only (as bench/train-speed.ts).
let s = 1;
const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
const x = Float32Array.from({ length: samples * 32 * 32 * 3 }, rand);
const y = Int32Array.from({ length: samples }, () => Math.floor(rand() * 10));

const rows: Array<{ batchSize: number; samplesPerSecond: number; engine: string }> = [];
for (const batchSize of values['batch-sizes'].split(',').map(Number)) {
  const { model } = buildModel(LENET, { seed: 1 });
  let t0 = 0;
  const r = await fit(
    model,
    LENET,
    { data: x, shape: [samples, 32, 32, 3] },
    { data: y, shape: [samples] },
    {
      epochs: epochs + 1,
      batchSize,
      onEpochEnd: (e) => {
        if (e === 0) t0 = performance.now(); // epoch 0 compiles the step and warms up
      },
    },
  );
  const samplesPerSecond = (samples * epochs) / ((performance.now() - t0) / 1000);
  model.dispose();
  rows.push({ batchSize, samplesPerSecond, engine: r.engine.engine });
  console.log(
    `LeNet batch ${batchSize}: ${Math.round(samplesPerSecond)} samples/s on ${info.backend} (TensorFlow ` +
      `${info.tfVersion}, ${r.engine.engine} step)`,
  );
}
console.log(JSON.stringify({ backend: info.backend, tfVersion: info.tfVersion, rows }));

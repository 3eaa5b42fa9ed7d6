// Speed race: the seed's LeNet CNN (32x32x3 → conv 6@5x5 → pool → conv 16@5x5 → pool → 120 → 84
// → 10; SGD lr 0.001 momentum 0.9; cross-entropy on logits) trained side by side in one run by
// mlpipe's training path (src/ml/train/fit.ts) on tfjs-node, by PyTorch CPU (bench/pytorch_lenet.py,
// the seed's own model code), by Keras 3 `fit` on tensorflow-cpu 2.21 (bench/keras_fit.py), by
// tfjs's LayersModel.fit on tfjs-node (to show what the custom loop buys) and by pure-JS tfjs
// (short run). Synthetic data: speed only. The peers and the graph step run in interleaved
// rounds; rows are medians.
//
//   npx tsx bench/train-speed.ts [--samples 4096] [--batch-sizes 8,32,128] [--repeats 3] [--no-js]
//                                [--no-pytorch] [--no-keras] [--no-eager] [--no-layers-fit]
//   npx tsx bench/train-speed.ts --lstm            2-layer LSTM: graph step vs nn.LSTM and Keras (bench/lstm-race.ts)
//   npx tsx bench/train-speed.ts --blocking        event-loop blocking per batch
//   npx tsx bench/train-speed.ts --profile         kernels and their time in one training step
//   npx tsx bench/train-speed.ts --recurrent       LSTM/GRU on the graph step and on eager ops
//
// Exported: trainSpeed(options) for bench/run.ts.
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  cpuSeconds,
  formatRaceRows,
  goalLine,
  type Load,
  loadWarning,
  mlpipeFit,
  num,
  peerThreads,
  type RaceRow,
  Runs,
  runPeer,
  type Speed,
  withRatios,
} from './train-race.ts';
import { getTf, selectBackend, type BackendInfo } from '../src/ml/runtime/backend.ts';
import { graphStepUnavailable } from '../src/ml/train/graph/trainer.ts';
import { fit, type ArrayData } from '../src/ml/train/fit.ts';
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import { perSampleLoss } from '../src/ml/train/losses.ts';
import { buildModel, buildOptimizer } from '../src/ml/train/model.ts';
import type { TrainModelSpec } from '../src/ml/train/model-spec.ts';

export const LENET: TrainModelSpec = {
  model: {
    inputShape: [32, 32, 3],
    layers: [
      { type: 'conv2d', filters: 6, kernelSize: 5, activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 16, kernelSize: 5, activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 120, activation: 'relu' },
      { type: 'dense', units: 84, activation: 'relu' },
      { type: 'dense', units: 10 },
    ],
  },
  optimizer: { type: 'sgd', learningRate: 0.001, momentum: 0.9 },
  loss: 'sparseCategoricalCrossentropy',
};

export interface TrainSpeedOptions {
  /** Batch sizes of the race (PyTorch, Keras and the graph step run them all). */
  batchSizes?: number[];
  /** The eager and LayersModel.fit rows run these (slow at small batches; once, not repeated). */
  eagerBatchSizes?: number[];
  /** Samples per timed epoch for the native and Python runs. */
  samples?: number;
  /** Timed epochs (after one warm-up epoch). */
  epochs?: number;
  /** Rounds of PyTorch, Keras, graph step, one after the other; the rows are medians. */
  repeats?: number;
  /** Samples for the (slow) pure-JS run; 0 skips it. */
  jsSamples?: number;
  /** Also time tfjs's LayersModel.fit on the native backend. */
  layersFit?: boolean;
  /** Also time mlpipe's eager engine. */
  eager?: boolean;
  pytorch?: boolean;
  keras?: boolean;
  log?: (line: string) => void;
}

export type Impl =
  | 'PyTorch CPU'
  | 'Keras 3 fit (TF 2.21)'
  | 'mlpipe fit, graph step'
  | 'mlpipe fit, eager ops'
  | 'LayersModel.fit (tfjs-node)'
  | 'mlpipe fit (pure JS)';

export interface SpeedRow extends RaceRow {
  impl: Impl;
}

export interface TrainSpeedResult {
  rows: SpeedRow[];
  backend: BackendInfo;
  peers: { pytorch: string | null; keras: string | null; errors: string[] };
  env: Record<string, string | undefined>;
  /** 1-minute load average before and after the run, and the core count: ratios need an idle machine. */
  load: Load;
}

function data(n: number, seed = 1): { x: ArrayData; y: ArrayData } {
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const x = new Float32Array(n * 32 * 32 * 3);
  for (let i = 0; i < x.length; i++) x[i] = rand();
  const y = Int32Array.from({ length: n }, () => Math.floor(rand() * 10));
  return { x: { data: x, shape: [n, 32, 32, 3] }, y: { data: y, shape: [n] } };
}

/** tfjs's own LayersModel.fit on the same backend, for comparison. */
async function layersFit(samples: number, batchSize: number, epochs: number): Promise<Speed> {
  const { tf } = selectBackend('cpu');
  const { x, y } = data(samples);
  const { model } = buildModel(
    {
      ...LENET,
      model: { ...LENET.model, layers: [...LENET.model.layers.slice(0, -1), { type: 'dense', units: 10, activation: 'softmax' }] },
    },
    { seed: 1 },
  );
  model.compile({ optimizer: tf.train.momentum(0.001, 0.9), loss: 'sparseCategoricalCrossentropy' });
  const xs = tf.tensor(x.data, x.shape);
  // tfjs-layers' sparseCategoricalCrossentropy floors its labels, so it needs float32 ones
  const ys = tf.tensor(Float32Array.from(y.data), [samples, 1]);
  await model.fit(xs, ys, { epochs: 1, batchSize, verbose: 0 });
  const t0 = performance.now();
  const c0 = cpuSeconds();
  await model.fit(xs, ys, { epochs, batchSize, verbose: 0 });
  const sec = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  tf.dispose([xs, ys]);
  model.dispose();
  return { samplesPerSecond: (samples * epochs) / sec, samplesPerCpuSecond: (samples * epochs) / cpu };
}

/**
 * The peers and the graph step in rounds (PyTorch, then Keras, then mlpipe, `repeats` times),
 * so a burst of load from other processes hits one round of each rather than one peer; the
 * rows are medians. Eager rows and pure JS run once.
 */
export async function trainSpeed(opts: TrainSpeedOptions = {}): Promise<TrainSpeedResult> {
  const batchSizes = opts.batchSizes ?? [8, 32, 128];
  const eagerBatchSizes = opts.eagerBatchSizes ?? batchSizes.filter((b) => b >= 32);
  const samples = opts.samples ?? 4096;
  const epochs = opts.epochs ?? 2;
  const repeats = opts.repeats ?? 3;
  const jsSamples = opts.jsSamples ?? 64;
  const log = opts.log ?? ((l: string) => console.log(l));
  const runs = new Runs<Impl>();
  const peers: TrainSpeedResult['peers'] = { pytorch: null, keras: null, errors: [] };
  const loadBefore = loadavg()[0]!;
  const common = ['--batch-sizes', batchSizes.join(','), '--samples', String(samples), '--epochs', String(epochs)];
  const peer = (name: 'pytorch' | 'keras', impl: Impl, script: string, args: string[], kind: 'torch' | 'keras') => {
    const p = runPeer(script, args, kind);
    if ('error' in p) {
      if (!peers.errors.includes(p.error)) log(`  ${impl}: skipped: ${p.error}`);
      peers.errors.push(p.error);
      return;
    }
    peers[name] = p.version;
    for (const r of p.results) runs.add(impl, r.batchSize, r);
    log(`  ${impl}: ${p.results.map((r) => `batch ${r.batchSize} ${r.samplesPerSecond.toFixed(0)}`).join(', ')} samples/s`);
  };

  const { info } = selectBackend('cpu');
  if (info.backend === 'cpu-js')
    log('warning: the native backend is unavailable, so the tfjs-node rows run on pure JS (run `npm run setup`)');
  const graphWhy = graphStepUnavailable(getTf());
  if (graphWhy) log(`warning: the graph training step is unavailable (${graphWhy}); only the eager rows run`);
  const lenetData = data(samples);
  for (let round = 0; round < repeats; round++) {
    if (opts.pytorch ?? true) peer('pytorch', 'PyTorch CPU', 'pytorch_lenet.py', [...common, '--threads', String(peerThreads())], 'torch');
    if (opts.keras ?? true) peer('keras', 'Keras 3 fit (TF 2.21)', 'keras_fit.py', ['--model', 'lenet', ...common], 'keras');
    if (graphWhy) continue;
    for (const b of batchSizes) {
      runs.add('mlpipe fit, graph step', b, await mlpipeFit(LENET, lenetData, b, epochs, 'graph'));
    }
    log(`  mlpipe fit, graph step, round ${round + 1}/${repeats} done`);
  }
  for (const b of eagerBatchSizes) {
    if (opts.eager ?? true) runs.add('mlpipe fit, eager ops', b, await mlpipeFit(LENET, lenetData, b, epochs, 'eager'));
    if (opts.layersFit ?? true) runs.add('LayersModel.fit (tfjs-node)', b, await layersFit(samples, b, epochs));
  }
  if (jsSamples > 0) {
    selectBackend('js');
    for (const b of eagerBatchSizes) {
      // one warm-up batch is included in the first epoch; keep the run short (pure JS is slow)
      runs.add('mlpipe fit (pure JS)', b, await mlpipeFit(LENET, data(Math.max(jsSamples, b)), b, 1, 'eager'));
    }
    selectBackend('cpu');
  }
  const rows = withRatios(runs.medians());
  const env = Object.fromEntries(
    ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS', 'TF_ENABLE_ONEDNN_OPTS'].map((k) => [k, process.env[k]]),
  );
  return { rows, backend: info, peers, env, load: { before: loadBefore, after: loadavg()[0]!, cores: availableParallelism() } };
}

export function formatTrainSpeed(r: TrainSpeedResult): string {
  const g = 'mlpipe fit, graph step';
  return [
    `LeNet CNN (seed), 32x32x3, SGD momentum: backend ${r.backend.backend} TF ${r.backend.tfVersion ?? '-'} tfjs ${r.backend.tfjsVersion}` +
      ` (TensorFlow's default pools: intra- and inter-op one thread per core)` +
      (r.peers.pytorch ? `; PyTorch: ${r.peers.pytorch}` : '') +
      (r.peers.keras ? `; Keras: ${r.peers.keras}` : ''),
    ...formatRaceRows(r.rows),
    goalLine(r.rows, 'graph step', g, 32, 'PyTorch', 1.5),
    goalLine(r.rows, 'graph step', g, 32, 'Keras', 1.3),
    goalLine(r.rows, 'graph step', g, 8, 'PyTorch', 1),
    ...loadWarning(r.load),
  ].join('\n');
}

/** A small MLP (MNIST-sized input) for the blocking measurement. */
export const MLP: TrainModelSpec = {
  model: {
    inputShape: [784],
    layers: [
      { type: 'dense', units: 128, activation: 'relu' },
      { type: 'dense', units: 64, activation: 'relu' },
      { type: 'dense', units: 10 },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.001 },
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
};

export interface BlockingRow {
  /** Model and engine, e.g. `LeNet CNN (graph)`. */
  model: string;
  batchSize: number;
  /** How long the event loop was blocked by one batch (time between yields), ms. */
  medianMs: number;
  maxMs: number;
  /** Longest block of the per-epoch validation pass (evaluate yields per batch too). */
  validationMaxMs: number;
}

/**
 * Event-loop blocking per batch on the selected backend: fit yields after each batch, so the
 * gap between two onBatch calls is one batch's synchronous native work (plus a yield).
 */
export async function measureBlocking(batchSizes = [32, 128, 512], samples = 2048): Promise<BlockingRow[]> {
  selectBackend('cpu');
  const rows: BlockingRow[] = [];
  const engines = graphStepUnavailable(getTf()) ? (['eager'] as const) : (['graph', 'eager'] as const);
  for (const [name, spec, shape] of [
    ['LeNet CNN', LENET, [32, 32, 3]],
    ['MLP 784-128-64-10', MLP, [784]],
  ] as const) {
    for (const [engine, b] of engines.flatMap((e) => batchSizes.map((size) => [e, size] as const))) {
      const size = shape.reduce((a, c) => a * c, 1);
      let s = 7;
      const x = Float32Array.from({ length: samples * size }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
      const y = Int32Array.from({ length: samples }, (_, i) => i % 10);
      const { model } = buildModel(spec, { seed: 1 });
      const gaps: number[] = [];
      let last = 0;
      let epochNow = 0;
      let validationMax = 0;
      // a 1 ms interval timer sees every stall: the longest gap between its ticks in the
      // validation phase is the validation pass's blocking
      let tick = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        if (epochNow === 1) validationMax = Math.max(validationMax, now - tick);
        tick = now;
      }, 1);
      await fit(
        model,
        spec,
        { data: x, shape: [samples, ...shape] },
        { data: y, shape: [samples] },
        {
          epochs: 2,
          batchSize: b,
          engine,
          validation: { x: { data: x.subarray(0, 1024 * size), shape: [1024, ...shape] }, y: { data: y.subarray(0, 1024), shape: [1024] } },
          onBatch: (e, i) => {
            const now = performance.now();
            if (e === 1 && i > 0) gaps.push(now - last); // epoch 0 warms up
            last = now;
            if (i === Math.ceil(samples / b) - 1) {
              epochNow = 1; // the validation pass follows the last batch
              tick = now;
            }
          },
          onEpochEnd: () => {
            epochNow = 0;
          },
        },
      );
      clearInterval(timer);
      model.dispose();
      gaps.sort((a, c) => a - c);
      rows.push({
        model: `${name} (${engine})`,
        batchSize: b,
        medianMs: gaps[Math.floor(gaps.length / 2)] ?? 0,
        maxMs: gaps.at(-1) ?? 0,
        validationMaxMs: validationMax,
      });
    }
  }
  return rows;
}

export function formatBlocking(rows: BlockingRow[]): string {
  return [
    `${'event-loop blocking'.padEnd(28)} ${'batch'.padStart(5)} ${'median ms'.padStart(10)} ` +
      `${'max ms'.padStart(8)} ${'val max ms'.padStart(10)}`,
    ...rows.map(
      (r) =>
        `${r.model.padEnd(28)} ${String(r.batchSize).padStart(5)} ${r.medianMs.toFixed(1).padStart(10)} ` +
        `${r.maxMs.toFixed(1).padStart(8)} ${r.validationMaxMs.toFixed(1).padStart(10)}`,
    ),
  ].join('\n');
}

export interface KernelProfile {
  batchSize: number;
  kernelsPerStep: number;
  stepMs: number;
  /** Kernel name → [calls per step, ms per step], most expensive first. */
  kernels: Array<{ name: string; calls: number; ms: number }>;
}

/**
 * Where one training step of the seed LeNet spends its time: tf.profile over `steps` steps of
 * the same loss and optimizer mlpipe's fit uses (kernel times are wall times of the
 * synchronous native calls).
 */
export async function profileStep(batchSize = 32, steps = 20): Promise<KernelProfile> {
  const { tf } = selectBackend('cpu');
  const { model } = buildModel(LENET, { seed: 1 });
  const optimizer = buildOptimizer(LENET.optimizer);
  const x = tf.randomUniform([batchSize, 32, 32, 3]);
  const y = tf.randomUniform([batchSize], 0, 10, 'int32');
  const vars = model.trainableWeights.map((w) => w.read() as Variable);
  const step = () =>
    tf.tidy(() => {
      optimizer.minimize(
        () => tf.mean(perSampleLoss(tf, LENET.loss, model.apply(x, { training: true }) as Tensor, y, 'logits')) as Scalar,
        false,
        vars,
      );
    });
  for (let i = 0; i < 5; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const stepMs = (performance.now() - t0) / steps;
  const agg = new Map<string, { calls: number; ms: number }>();
  let kernels = 0;
  for (let i = 0; i < steps; i++) {
    const p = await tf.profile(step);
    kernels = p.kernels.length;
    for (const k of p.kernels) {
      const t = await k.kernelTimeMs;
      const ms = typeof t === 'number' ? t : 0;
      const a = agg.get(k.name) ?? { calls: 0, ms: 0 };
      a.calls += 1 / steps;
      a.ms += ms / steps;
      agg.set(k.name, a);
    }
  }
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return {
    batchSize,
    kernelsPerStep: kernels,
    stepMs,
    kernels: [...agg].map(([name, a]) => ({ name, calls: Math.round(a.calls), ms: a.ms })).sort((a, b) => b.ms - a.ms),
  };
}

export function formatProfile(p: KernelProfile): string {
  return [
    `one LeNet training step at batch ${p.batchSize}: ${p.stepMs.toFixed(2)} ms, ${p.kernelsPerStep} kernels`,
    ...p.kernels.slice(0, 15).map((k) => `  ${k.name.padEnd(28)} ${String(k.calls).padStart(4)} calls ${k.ms.toFixed(2).padStart(7)} ms`),
  ].join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export interface RecurrentRow {
  model: string;
  engine: 'graph' | 'eager';
  /** The first epoch, including the graph step's compilation. */
  firstEpochMs: number;
  samplesPerSecond: number;
}

/** LSTM and GRU classifiers (32 units, 20 steps of 8 features, batch 32) on both engines. */
export async function recurrentSpeed(samples = { graph: 2048, eager: 256 }): Promise<RecurrentRow[]> {
  selectBackend('cpu');
  const steps = 20;
  const features = 8;
  const rows: RecurrentRow[] = [];
  const engines = graphStepUnavailable(getTf()) ? (['eager'] as const) : (['graph', 'eager'] as const);
  for (const type of ['lstm', 'gru'] as const) {
    const spec: TrainModelSpec = {
      model: {
        inputShape: [steps, features],
        layers: [
          { type, units: 32 },
          { type: 'dense', units: 3 },
        ],
      },
      optimizer: { type: 'adam' },
      loss: 'sparseCategoricalCrossentropy',
    };
    for (const engine of engines) {
      const n = samples[engine];
      let s = 5;
      const x = Float32Array.from({ length: n * steps * features }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
      const y = Int32Array.from({ length: n }, (_, i) => i % 3);
      const { model } = buildModel(spec, { seed: 1 });
      const t0 = performance.now();
      let t1 = 0;
      await fit(
        model,
        spec,
        { data: x, shape: [n, steps, features] },
        { data: y, shape: [n] },
        {
          epochs: 3,
          batchSize: 32,
          engine,
          onEpochEnd: (e) => void (e === 0 && (t1 = performance.now())),
        },
      );
      const perEpoch = (performance.now() - t1) / 2;
      model.dispose();
      rows.push({
        model: `${type.toUpperCase()} 32 units, ${steps}x${features}`,
        engine,
        firstEpochMs: t1 - t0,
        samplesPerSecond: n / (perEpoch / 1000),
      });
    }
  }
  return rows;
}

export function formatRecurrent(rows: RecurrentRow[]): string {
  return [
    `${'recurrent (batch 32)'.padEnd(26)} ${'engine'.padStart(6)} ${'samples/s'.padStart(10)} ${'first epoch ms'.padStart(15)}`,
    ...rows.map(
      (r) => `${r.model.padEnd(26)} ${r.engine.padStart(6)} ${num(r.samplesPerSecond)} ${r.firstEpochMs.toFixed(0).padStart(15)}`,
    ),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--recurrent')) {
    console.log(formatRecurrent(await recurrentSpeed()));
    process.exit(0);
  }
  if (process.argv.includes('--profile')) {
    for (const b of (arg('--batch-sizes') ?? '32').split(',').map(Number)) console.log(formatProfile(await profileStep(b)));
    process.exit(0);
  }
  if (process.argv.includes('--blocking')) {
    console.log(formatBlocking(await measureBlocking()));
    process.exit(0);
  }
  if (process.argv.includes('--lstm')) {
    const { lstmRace, formatLstmRace } = await import('./lstm-race.ts');
    console.log(formatLstmRace(await lstmRace({ repeats: Number(arg('--repeats') ?? 3), samples: Number(arg('--samples') ?? 1024) })));
    process.exit(0);
  }
  const result = await trainSpeed({
    samples: Number(arg('--samples') ?? 4096),
    epochs: Number(arg('--epochs') ?? 2),
    repeats: Number(arg('--repeats') ?? 3),
    batchSizes: (arg('--batch-sizes') ?? '8,32,128').split(',').map(Number),
    jsSamples: process.argv.includes('--no-js') ? 0 : Number(arg('--js-samples') ?? 64),
    layersFit: !process.argv.includes('--no-layers-fit'),
    eager: !process.argv.includes('--no-eager'),
    pytorch: !process.argv.includes('--no-pytorch'),
    keras: !process.argv.includes('--no-keras'),
  });
  console.log(formatTrainSpeed(result));
}

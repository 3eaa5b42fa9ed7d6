// What the training races (bench/train-speed.ts: LeNet; bench/lstm-race.ts: LSTM) share: the
// Python peers (PyTorch CPU and Keras 3 `fit` on tensorflow-cpu), run as child processes that
// print one JSON line; mlpipe's timed fit; repeated, interleaved measurements reduced to medians;
// the ratios, the table and the goal lines.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type ArrayData, fit } from '../src/ml/train/fit.ts';
import type { TrainModelSpec } from '../src/ml/train/model-spec.ts';
import { buildModel } from '../src/ml/train/model.ts';

export interface Speed {
  samplesPerSecond: number;
  /** samples per CPU-second of the process (all threads): robust under CPU contention. */
  samplesPerCpuSecond: number;
}

export interface PeerResult {
  /** e.g. `torch 2.13.0+cpu, 2 threads` or `tensorflow 2.21.0, keras 3.15.1, intra 2 / inter 2 threads`. */
  version: string;
  results: Array<Speed & { batchSize: number }>;
}

const INSTALL = {
  torch: 'python3 -m pip install torch==2.13.0',
  keras: 'python3 -m pip install tensorflow-cpu==2.21.0',
} as const;

/**
 * Threads for PyTorch: TensorFlow's intra-op pool is one thread per core unless
 * TF_NUM_INTRAOP_THREADS says otherwise, so PyTorch gets the same number.
 */
export const peerThreads = () => Number(process.env.TF_NUM_INTRAOP_THREADS || availableParallelism());

/**
 * Run `bench/<script>` with `args` under `python` (PYTHON or python3); its last stdout line is
 * JSON with `results`, or `{ error }` naming the pip command that installs what is missing.
 */
export function runPeer(
  script: string,
  args: string[],
  kind: keyof typeof INSTALL,
  python = process.env.PYTHON ?? 'python3',
): PeerResult | { error: string } {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const r = spawnSync(python, [path, ...args], {
    encoding: 'utf8',
    // Keras runs the TensorFlow mlpipe runs, with the environment mlpipe gives it (native-env.ts)
    env: {
      ...process.env,
      TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2',
      TF_ENABLE_ONEDNN_OPTS: process.env.TF_ENABLE_ONEDNN_OPTS ?? '1',
    },
  });
  if (r.error) return { error: `could not run ${python}: ${r.error.message}; install Python 3, then ${INSTALL[kind]}` };
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as {
      error?: string;
      torch?: string;
      threads?: number | { intra: number; inter: number };
      tensorflow?: string;
      keras?: string;
      results: PeerResult['results'];
    };
    if (parsed.error) return { error: parsed.error };
    const t = parsed.threads;
    const version =
      kind === 'torch'
        ? `torch ${parsed.torch}, ${t as number} threads`
        : `tensorflow ${parsed.tensorflow}, keras ${parsed.keras}, intra ${(t as { intra: number }).intra} / inter ${(t as { inter: number }).inter} threads`;
    return { version, results: parsed.results };
  } catch {
    return { error: `bench/${script} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Repeated measurements per (implementation, batch size), reduced to medians in insertion order. */
export class Runs<Impl extends string> {
  private readonly runs = new Map<string, { impl: Impl; batchSize: number; speeds: Speed[] }>();

  add(impl: Impl, batchSize: number, s: Speed): void {
    const key = `${impl}\u0000${batchSize}`;
    const entry = this.runs.get(key) ?? { impl, batchSize, speeds: [] };
    entry.speeds.push(s);
    this.runs.set(key, entry);
  }

  medians(): Array<Speed & { impl: Impl; batchSize: number; runs: number }> {
    return [...this.runs.values()].map(({ impl, batchSize, speeds }) => ({
      impl,
      batchSize,
      runs: speeds.length,
      samplesPerSecond: median(speeds.map((s) => s.samplesPerSecond)),
      samplesPerCpuSecond: median(speeds.map((s) => s.samplesPerCpuSecond)),
    }));
  }
}

export const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** mlpipe's path: buildModel + fit; one warm-up epoch, then `epochs` timed. */
export async function mlpipeFit(
  spec: TrainModelSpec,
  d: { x: ArrayData; y: ArrayData },
  batchSize: number,
  epochs: number,
  engine: 'graph' | 'eager' = 'eager',
): Promise<Speed> {
  const samples = d.y.shape[0]!;
  const { model } = buildModel(spec, { seed: 1 });
  let wall0 = 0;
  let cpu0 = 0;
  await fit(model, spec, d.x, d.y, {
    epochs: epochs + 1,
    batchSize,
    engine,
    onEpochEnd: (e) => {
      if (e === 0) {
        wall0 = performance.now(); // epoch 0 warms up
        cpu0 = cpuSeconds();
      }
    },
  });
  const wall = (performance.now() - wall0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  model.dispose();
  return { samplesPerSecond: (samples * epochs) / wall, samplesPerCpuSecond: (samples * epochs) / cpu };
}

/** Sort by batch size (peers first within one) and add the ratios to PyTorch and Keras. */
export function withRatios<T extends Speed & { impl: string; batchSize: number; runs: number }>(medians: T[]) {
  const order = (impl: string) => (impl.startsWith('PyTorch') ? 0 : impl.startsWith('Keras') ? 1 : 2);
  const rows = [...medians].sort((a, b) => a.batchSize - b.batchSize || order(a.impl) - order(b.impl));
  return rows.map((r) => {
    const base = rows.find((p) => p.impl.startsWith('PyTorch') && p.batchSize === r.batchSize);
    const keras = rows.find((p) => p.impl.startsWith('Keras') && p.batchSize === r.batchSize);
    return {
      ...r,
      ratioToPytorch: base ? r.samplesPerSecond / base.samplesPerSecond : null,
      cpuRatioToPytorch: base ? r.samplesPerCpuSecond / base.samplesPerCpuSecond : null,
      ratioToKeras: keras ? r.samplesPerSecond / keras.samplesPerSecond : null,
    };
  });
}

export const num = (v: number) => v.toFixed(v < 100 ? 1 : 0).padStart(10);
export const ratio = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}x`).padStart(10);

/** The table of a race: samples/s, ratios to PyTorch (wall and per CPU-second) and to Keras. */
export function formatRaceRows(rows: RaceRow[]): string[] {
  return [
    `${'implementation'.padEnd(30)} ${'batch'.padStart(5)} ${'runs'.padStart(4)} ${'samples/s'.padStart(10)} ` +
      `${'vs PyTorch'.padStart(10)} ${'vs Keras'.padStart(10)} ${'per CPU-s'.padStart(10)} ${'vs PyTorch'.padStart(10)}`,
    ...rows.map(
      (row) =>
        `${row.impl.padEnd(30)} ${String(row.batchSize).padStart(5)} ${String(row.runs).padStart(4)} ${num(row.samplesPerSecond)} ` +
        `${ratio(row.ratioToPytorch)} ${ratio(row.ratioToKeras)} ${num(row.samplesPerCpuSecond)} ${ratio(row.cpuRatioToPytorch)}`,
    ),
  ];
}

/** `goal: ... met (1.62x)` or `... NOT met (1.10x)`, or why it could not be judged. */
export function goalLine(
  rows: Array<{ impl: string; batchSize: number; ratioToPytorch: number | null; ratioToKeras: number | null }>,
  what: string,
  impl: string,
  batchSize: number,
  peer: 'PyTorch' | 'Keras',
  atLeast: number,
): string {
  const row = rows.find((r) => r.impl === impl && r.batchSize === batchSize);
  const v = row ? (peer === 'PyTorch' ? row.ratioToPytorch : row.ratioToKeras) : null;
  const goal = `goal: ${what} >= ${atLeast}x ${peer} at batch ${batchSize}`;
  if (v === null) return `${goal}: not measured (${row ? `no ${peer} row` : `no ${impl} row`})`;
  return `${goal}: ${v >= atLeast ? 'met' : 'NOT met'} (${v.toFixed(2)}x)`;
}

export function loadWarning(load: Load): string[] {
  if (Math.max(load.before, load.after) <= load.cores * 0.75)
    return [`load average ${load.before.toFixed(1)}/${load.after.toFixed(1)} on ${load.cores} cores`];
  return [
    `warning: load average ${load.before.toFixed(1)}/${load.after.toFixed(1)} on ${load.cores} ` +
      `cores: other processes compete for the CPU (PyTorch's OpenMP threads suffer most); rerun on an idle ` +
      'machine before trusting the ratios',
  ];
}

/** A race's row: medians over `runs`, with the ratios to PyTorch and Keras at the same batch size. */
export interface RaceRow extends Speed {
  impl: string;
  batchSize: number;
  runs: number;
  ratioToPytorch: number | null;
  cpuRatioToPytorch: number | null;
  ratioToKeras: number | null;
}

export interface Load {
  before: number;
  after: number;
  cores: number;
}

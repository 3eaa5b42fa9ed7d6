/**
 * `npm run bench -- --only serving`: the model server under load on loopback. For the Iris MLP and
 * the MNIST LeNet (both trained here by the real collect → preprocess → train cores, briefly: speed,
 * not accuracy, is measured), p50/p99 latency and requests/s of one-row requests at 1, 16 and 64
 * concurrent clients (autocannon, keep-alive), for:
 *   - in-process: the saved transform and one pass of the model called directly (the floor);
 *   - mlpipe:     `mlpipe serve` in its own process (TF Serving's row format, raw values);
 *   - unbatched:  the same with --max-batch 1 (micro-batching off), at 64 clients only;
 *   - python:     bench/serving_tf_server.py, the same weights in Keras on tensorflow-cpu
 *                 (MLPIPE_BENCH_PYTHON, default python3; skipped with the reason if it lacks TF).
 * autocannon's latencies are whole milliseconds, too coarse at concurrency 1: there a sequential
 * keep-alive client timed with performance.now() gives p50/p99. Printed ratios, never asserted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { collectCore } from '../activities/collect.ts';
import { deployCore } from '../activities/deploy.ts';
import { preprocessCore } from '../activities/preprocess.ts';
import { trainCore } from '../activities/train.ts';
import type { ArtifactRef, JsonObject } from '../src/core/plan.ts';
import { decodeModel } from '../src/ml/train/checkpoint.ts';
import { decodeDataset, isNumeric } from '../src/ml/data/dataset.ts';
import { applyTransform } from '../src/ml/data/preprocess.ts';
import { quantile } from '../src/ml/data/dataset-stats.ts';
import { Registry, registryDir } from '../src/serving/registry.ts';
import { loadScoringModel, resultsOf } from '../src/serving/score.ts';
import { collectInput, stageInput, tempDir, testEnv } from '../test/support/data.ts';
import { irisSchema, ref } from '../test/support/pipelines.ts';
import { freePort } from '../test/support/ports.ts';
import { irisSteps, irisTrain } from '../test/support/serving.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const CONCURRENCY = [1, 16, 64];
const SECONDS = Number(process.env.MLPIPE_BENCH_SERVING_SECONDS ?? 5);
const PYTHON = process.env.MLPIPE_BENCH_PYTHON ?? 'python3';

interface Model {
  name: 'iris' | 'mnist';
  model: ArtifactRef;
  transform: ArtifactRef;
  /** One raw row as a client sends it (no label), and its values in signature order. */
  row: Record<string, unknown>;
  values: unknown[];
  /** The row's features after the saved transform (what the Python server is sent). */
  features: number[];
}

export interface Measure {
  p50: number;
  p99: number;
  rps: number;
  failed: number;
}

export interface ServingBench {
  cores: number;
  load: number;
  python: string;
  rows: { model: string; target: string; concurrency: number; m: Measure }[];
  notes: string[];
}

async function buildModels(): Promise<{ models: Model[]; env: ReturnType<typeof testEnv>; home: string; rootDir: string }> {
  const rootDir = tempDir('mlpipe-bench-serving-');
  const home = join(rootDir, 'home');
  process.env.MLPIPE_HOME = home;
  const env = testEnv(rootDir);
  const registry = new Registry(registryDir(home));
  const dir = tempDir();
  copyFileSync(join(root, 'pipelines/data/iris.csv'), join(dir, 'iris.csv'));
  const specs: { name: Model['name']; collect: Record<string, unknown>; steps: JsonObject[]; train: JsonObject }[] = [
    {
      name: 'iris',
      collect: { source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema },
      // the model the serving tests deploy
      steps: irisSteps,
      train: irisTrain,
    },
    {
      name: 'mnist',
      collect: { source: { type: 'mnist' } },
      steps: [{ type: 'split', train: 0.85, validation: 0.05, test: 0.1, seed: 7, stratify: true }],
      train: {
        model: {
          layers: [
            { type: 'conv2d', filters: 6, kernelSize: 5, activation: 'relu', padding: 'same' },
            { type: 'maxPooling2d', poolSize: 2 },
            { type: 'conv2d', filters: 16, kernelSize: 5, activation: 'relu' },
            { type: 'maxPooling2d', poolSize: 2 },
            { type: 'flatten' },
            { type: 'dense', units: 120, activation: 'relu' },
            { type: 'dense', units: 84, activation: 'relu' },
            { type: 'dense', units: 10, activation: 'softmax' },
          ],
        },
        optimizer: { type: 'adam', learningRate: 0.001 },
        loss: 'sparseCategoricalCrossentropy',
        metrics: ['accuracy'],
        epochs: 1,
        batchSize: 64,
        seed: 1,
      },
    },
  ];
  const models: Model[] = [];
  for (const s of specs) {
    const wf = `bench-serving/${s.name}`;
    const c = await collectCore(collectInput(s.collect, dir, wf), env);
    const p = await preprocessCore(stageInput('preprocess', { steps: s.steps }, { dataset: ref(c, 'dataset') }, wf), env);
    const model = ref(await trainCore(stageInput('train', s.train, { dataset: ref(p, 'dataset') }, wf), env), 'model');
    const transform = ref(p, 'transform');
    await deployCore(
      { ...stageInput('deploy', { modelName: s.name, strategy: { type: 'replace' } }, { model, transform }, wf), stage: 'deploy' },
      env,
      { registry, autostart: false },
    );
    const raw = decodeDataset(await env.store.get(ref(c, 'dataset')));
    const row: Record<string, unknown> = {};
    for (const col of raw.columns) {
      if (col.name === raw.label) continue;
      if (!isNumeric(col)) row[col.name] = col.values[0];
      else if (col.shape.length) row[col.name] = Array.from(col.data.subarray(0, col.data.length / raw.rows));
      else row[col.name] = col.data[0];
    }
    const scoring = await loadScoringModel(env.store, model, transform);
    const features = Array.from(applyTransform(scoring.transform!, [row]).data);
    const values = scoring.signature!.inputs.map((i) => row[i.name]);
    models.push({ name: s.name, model, transform, row, values, features });
  }
  return { models, env, home, rootDir };
}

/** The floor: transform one row and run one pass of the model, in this process. */
async function inProcess(m: Model, env: ReturnType<typeof testEnv>): Promise<Measure> {
  const s = await loadScoringModel(env.store, m.model, m.transform);
  const classes = s.meta.classes ?? s.transform?.classes;
  const once = () => resultsOf(s, applyTransform(s.transform!, [m.row]), classes);
  for (let i = 0; i < 200; i++) once();
  const times: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  const sorted = Float64Array.from(times).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), rps: times.length / SECONDS, failed: 0 };
}

/** Concurrency 1, timed to the microsecond: one keep-alive connection, one request after another. */
async function sequential(url: string, body: string): Promise<Measure> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  const one = () =>
    new Promise<number>((res, rej) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (r) => {
          r.resume();
          r.on('end', () => res(r.statusCode!));
        },
      );
      req.on('error', rej);
      req.end(body);
    });
  for (let i = 0; i < 200; i++) await one();
  const times: number[] = [];
  let failed = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    if ((await one()) !== 200) failed++;
    times.push(performance.now() - t0);
  }
  agent.destroy();
  const sorted = Float64Array.from(times).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), rps: times.length / SECONDS, failed };
}

async function cannon(url: string, body: string, connections: number): Promise<Measure> {
  const opts = { url, connections, method: 'POST', headers: { 'content-type': 'application/json' }, body };
  await autocannon({ ...opts, duration: 1 });
  const r = await autocannon({ ...opts, duration: SECONDS });
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.total / SECONDS, failed: r.non2xx + r.errors + r.timeouts };
}

async function measure(url: string, body: string, c: number): Promise<Measure> {
  return c === 1 ? sequential(url, body) : cannon(url, body, c);
}

function waitLine(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const on = (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[0]);
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready:\n${out.slice(-2000)}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

function pythonHasTf(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import tensorflow as tf; print(tf.__version__)'], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export async function servingBench(): Promise<ServingBench> {
  const { models, env, home, rootDir } = await buildModels();
  const out: ServingBench = { cores: cpus().length, load: loadavg()[0]!, python: '', rows: [], notes: [] };
  // mlpipe serve, one process (the default), on the registry the models were deployed to.
  const startServe = async (extra: string[]) => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [join(root, 'bin/mlpipe.js'), 'serve', '--port', String(port), '--store', join(rootDir, 'artifacts'), ...extra],
      { env: { ...process.env, MLPIPE_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitLine(child, /mlpipe model server at \S+/, 'mlpipe serve');
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${base}/readyz`).catch(() => undefined);
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    return { child, base };
  };
  const tfVersion = pythonHasTf();
  out.python = tfVersion
    ? `${PYTHON}, tensorflow ${tfVersion}`
    : `skipped: ${PYTHON} cannot import tensorflow (pip install tensorflow-cpu, or set MLPIPE_BENCH_PYTHON)`;
  const { child: serve, base } = await startServe([]);
  const unbatched = await startServe(['--max-batch', '1']);
  try {
    for (const m of models) {
      const fl = await inProcess(m, env);
      for (const c of CONCURRENCY) out.rows.push({ model: m.name, target: 'in-process', concurrency: c, m: fl });
      const url = `${base}/v1/models/${m.name}:predict`;
      const body = JSON.stringify({ instances: [m.values.length === 1 ? m.values[0] : m.values] });
      for (const c of CONCURRENCY) out.rows.push({ model: m.name, target: 'mlpipe', concurrency: c, m: await measure(url, body, c) });
      out.rows.push({
        model: m.name,
        target: 'unbatched',
        concurrency: 64,
        m: await measure(`${unbatched.base}/v1/models/${m.name}:predict`, body, 64),
      });
      if (!tfVersion) continue;
      const dir = join(rootDir, `export-${m.name}`);
      mkdirSync(dir, { recursive: true });
      const { modelJson, weights } = decodeModel(await env.store.get(m.model));
      writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
      writeFileSync(join(dir, 'weights.bin'), weights);
      const pyPort = await freePort();
      const py = spawn(PYTHON, [join(root, 'bench/serving_tf_server.py'), String(pyPort), dir, m.name], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        await waitLine(py, /listening/, 'the Python server');
        const pyUrl = `http://127.0.0.1:${pyPort}/v1/models/${m.name}:predict`;
        const pyBody = JSON.stringify({ instances: [m.features] });
        // The same weights must give the same answer, or the comparison means nothing.
        const a = (await (await fetch(url, { method: 'POST', body })).json()) as { predictions: number[][] };
        const b = (await (await fetch(pyUrl, { method: 'POST', body: pyBody })).json()) as { predictions: number[][] };
        const diff = Math.max(...a.predictions[0]!.map((v, j) => Math.abs(v - b.predictions[0]![j]!)));
        out.notes.push(`${m.name}: mlpipe and the Python server differ by at most ${diff.toExponential(1)} on the sample row`);
        for (const c of CONCURRENCY) out.rows.push({ model: m.name, target: 'python', concurrency: c, m: await measure(pyUrl, pyBody, c) });
      } finally {
        await stopChild(py);
      }
    }
  } finally {
    await stopChild(serve);
    await stopChild(unbatched.child);
  }
  return out;
}

export function formatServing(b: ServingBench): string {
  const f = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
  const lines = [
    `serving on loopback, one-row requests, ${SECONDS} s per cell; ${b.cores} cores, load ${b.load.toFixed(1)}; python: ${b.python}`,
    'c=1: sequential keep-alive client (µs timing); c=16/64: autocannon (whole-ms latencies). in-process ' +
      'is one call after another (its c column repeats).',
    '',
    'model  target      conc   p50 ms   p99 ms     req/s  failed',
  ];
  for (const r of b.rows) {
    lines.push(
      `${r.model.padEnd(6)} ${r.target.padEnd(10)} ${String(r.concurrency).padStart(5)} ` +
        `${f(r.m.p50).padStart(8)} ${f(r.m.p99).padStart(8)} ${f(r.m.rps).padStart(9)} ` +
        `${String(r.m.failed).padStart(7)}`,
    );
  }
  lines.push('');
  const get = (model: string, target: string, c: number) =>
    b.rows.find((r) => r.model === model && r.target === target && r.concurrency === c)?.m;
  for (const model of ['iris', 'mnist']) {
    const fl = get(model, 'in-process', 1);
    const one = get(model, 'mlpipe', 1);
    if (fl && one) lines.push(`${model}: mlpipe p50 at c=1 / in-process p50: ${(one.p50 / fl.p50).toFixed(2)}x (goal <= 1.5x)`);
    const ml = get(model, 'mlpipe', 64);
    const py = get(model, 'python', 64);
    if (ml && py) lines.push(`${model}: mlpipe req/s at c=64 / python req/s: ${(ml.rps / py.rps).toFixed(2)}x (goal >= 1)`);
    const ub = get(model, 'unbatched', 64);
    if (ml && ub) lines.push(`${model}: mlpipe req/s at c=64 with micro-batching / with --max-batch 1: ${(ml.rps / ub.rps).toFixed(2)}x`);
    const py1 = get(model, 'python', 1);
    if (one && py1) lines.push(`${model}: mlpipe p50 at c=1 / python p50: ${(one.p50 / py1.p50).toFixed(2)}x`);
  }
  lines.push(...b.notes);
  return lines.join('\n');
}

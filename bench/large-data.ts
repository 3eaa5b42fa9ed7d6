// Data larger than memory (issue 15's scale bench): a generated CSV of 20 numeric columns (a few
// values missing), a category and a 0/1 label goes through mlpipe's stages in a child process,
// which reports its peak RSS (VmHWM) and each step's time; side by side, the anchor
// bench/large_data_pandas.py reads the same file with pandas and fits scikit-learn's imputer,
// StandardScaler and OneHotEncoder. Printed: seconds, MB/s and peak RSS of each, and their ratios.
// The CSV is deleted afterwards.
//
//   npx tsx bench/large-data.ts [--mb 200 | --gb 2] [--chunk-rows 65536] [--steps collect] [--no-pandas] [--heap-mb 300]
//
// V8 grows its heap lazily while garbage is cheap to leave, so the child's peak RSS without a
// heap limit says more about V8's heuristics than about what a chunk needs; `--heap-mb` runs it
// under --max-old-space-size to show the memory the streamed path really needs.
//
// Steps run in one child, in order, each handed the previous one's artifacts (STEPS below):
// collect, preprocess (PREPROCESS: split, median impute, standardize, one-hot) and one epoch of an
// MLP (TRAIN), all through the real activities over the chunked dataset.
// Exported: largeData(options), formatLargeData(result) for bench/run.ts.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactRef } from '../src/core/plan.ts';
import { Rng } from '../src/ml/data/rng.ts';

const SELF = fileURLToPath(import.meta.url);
const PANDAS = fileURLToPath(new URL('./large_data_pandas.py', import.meta.url));
export const NUMERIC_COLUMNS = 20;

export interface LargeDataOptions {
  /** CSV size to generate, in MB (10^6 bytes). */
  mb?: number;
  chunkRows?: number;
  steps?: string[];
  pandas?: boolean;
  /** The child's V8 heap limit (--max-old-space-size), MiB; unset: Node's default. */
  heapMb?: number;
  python?: string;
  log?: (line: string) => void;
}

export interface StepTime {
  step: string;
  seconds: number;
}
export interface RunMeasure {
  steps: StepTime[];
  peakRssBytes: number;
  rows: number;
  note?: string;
}
export interface LargeDataResult {
  heapMb?: number;
  bytes: number;
  rows: number;
  chunkRows: number;
  cores: number;
  mlpipe: RunMeasure;
  pandas?: RunMeasure;
}

/** Writes ~`bytes` of CSV: f0..f19 (0.2% empty), cat (k0..k7), y (0/1). Returns the row count. */
export async function generateCsv(path: string, bytes: number, seed = 15): Promise<number> {
  const rng = new Rng(seed);
  const out = createWriteStream(path);
  const header = [...Array.from({ length: NUMERIC_COLUMNS }, (_, j) => `f${j}`), 'cat', 'y'].join(',');
  out.write(`${header}\n`);
  let written = header.length + 1;
  let rows = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let k = 0; k < 4096 && written < bytes; k++) {
      const f: string[] = [];
      let score = 0;
      for (let j = 0; j < NUMERIC_COLUMNS; j++) {
        const v = rng.normal() * (j + 1) + j * 10;
        if (j < 3) score += v - j * 10;
        f.push(rng.next() < 0.002 ? '' : v.toFixed(4));
      }
      const cat = rng.int(8);
      f.push(`k${cat}`, score + cat > 4 ? '1' : '0');
      const line = f.join(',');
      lines.push(line);
      written += line.length + 1;
      rows++;
    }
    if (!out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

const FEATURES = Array.from({ length: NUMERIC_COLUMNS }, (_, j) => `f${j}`);
/** The anchor's steps (median impute, standardize, one-hot), after a split, as a preprocess stage. */
export const PREPROCESS = {
  steps: [
    { type: 'split', train: 0.8, validation: 0.1, test: 0.1, seed: 1 },
    { type: 'impute', columns: FEATURES, strategy: 'median' },
    { type: 'standardize', columns: FEATURES },
    { type: 'oneHot', columns: ['cat'] },
  ],
};
/** One epoch of a small MLP on the preprocessed rows. */
export const TRAIN = {
  model: {
    layers: [
      { type: 'dense', units: 32, activation: 'relu' },
      { type: 'dense', units: 2, activation: 'softmax' },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.001 },
  loss: 'sparseCategoricalCrossentropy',
  epochs: 1,
  batchSize: 256,
  seed: 1,
};

interface StepContext {
  csv: string;
  root: string;
  chunkRows: number;
  env: import('../activities/lib/stage.ts').StageEnv;
  artifacts: Record<string, ArtifactRef>;
  rows?: number;
}

/** What each step runs in the child; undefined: not wired in this build (the report says so). */
const STEPS: Record<string, ((ctx: StepContext) => Promise<void>) | undefined> = {
  collect: async (ctx) => {
    const { collectCore } = await import('../activities/collect.ts');
    const { collectInput } = await import('../test/support/data.ts');
    const config = { source: { type: 'csv', path: ctx.csv }, schema: { label: 'y' }, chunkRows: ctx.chunkRows };
    const out = await collectCore(collectInput(config, ctx.root), ctx.env);
    ctx.artifacts.dataset = out.outputs.dataset as unknown as ArtifactRef;
    ctx.rows = out.outputs.rows as number;
  },
  preprocess: async (ctx) => {
    const { preprocessCore } = await import('../activities/preprocess.ts');
    const { stageInput } = await import('../test/support/data.ts');
    const out = await preprocessCore(stageInput('preprocess', PREPROCESS, { dataset: ctx.artifacts.dataset! }), ctx.env);
    ctx.artifacts.dataset = out.outputs.dataset as unknown as ArtifactRef;
  },
  train: async (ctx) => {
    const { trainCore } = await import('../activities/train.ts');
    const { stageInput } = await import('../test/support/data.ts');
    await trainCore(stageInput('train', TRAIN, { dataset: ctx.artifacts.dataset! }), ctx.env);
  },
};

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/** The child: runs the steps on the CSV in `root`, prints one JSON line (RunMeasure). */
async function child(root: string, csv: string, chunkRows: number, steps: string[]): Promise<void> {
  const { testEnv } = await import('../test/support/data.ts');
  const ctx: StepContext = { csv, root, chunkRows, env: testEnv(join(root, 'store')), artifacts: {} };
  const times: StepTime[] = [];
  const missing: string[] = [];
  for (const s of steps) {
    const fn = STEPS[s];
    if (!fn) {
      missing.push(s);
      continue;
    }
    const t0 = performance.now();
    await fn(ctx);
    times.push({ step: s, seconds: (performance.now() - t0) / 1000 });
  }
  const note = missing.length ? `not wired in this build: ${missing.join(', ')}` : undefined;
  const m: RunMeasure = { steps: times, peakRssBytes: peakRss(), rows: ctx.rows ?? 0, note };
  console.log(JSON.stringify(m));
}

function lastJson<T>(stdout: string, what: string, stderr: string): T {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what} printed no result: ${stderr.slice(-2000) || stdout.slice(-2000)}`);
  }
}

export async function largeData(o: LargeDataOptions = {}): Promise<LargeDataResult> {
  const log = o.log ?? (() => {});
  const mb = o.mb ?? 200;
  const chunkRows = o.chunkRows ?? 65_536;
  const steps = o.steps ?? ['collect', 'preprocess', 'train'];
  const root = mkdtempSync(join(tmpdir(), 'mlpipe-large-'));
  try {
    const csv = join(root, 'data.csv');
    log(`generating ${mb} MB of CSV in ${root}`);
    const rows = await generateCsv(csv, mb * 1e6);
    const bytes = statSync(csv).size;
    log(`running mlpipe (${steps.join(', ')}, chunkRows ${chunkRows}) in a child process`);
    const heap = o.heapMb ? [`--max-old-space-size=${o.heapMb}`] : [];
    const r = spawnSync(
      process.execPath,
      [...heap, '--import', 'tsx', SELF, '--child', root, 'data.csv', String(chunkRows), steps.join(',')],
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (r.status !== 0) throw new Error(`the mlpipe child failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const mlpipe = lastJson<RunMeasure>(r.stdout, 'the mlpipe child', r.stderr);
    rmSync(join(root, 'store'), { recursive: true, force: true });
    let pandas: RunMeasure | undefined;
    if (o.pandas !== false) {
      log('running pandas + scikit-learn');
      const p = spawnSync(o.python ?? 'python3', [PANDAS, csv], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      if (p.status !== 0) throw new Error(`the pandas anchor failed (${p.status}): ${p.stderr.slice(-2000)}`);
      const j = lastJson<{ rows: number; collectSeconds: number; preprocessSeconds: number; peakRssBytes: number }>(
        p.stdout,
        'pandas',
        p.stderr,
      );
      pandas = {
        rows: j.rows,
        peakRssBytes: j.peakRssBytes,
        steps: [
          { step: 'collect', seconds: j.collectSeconds },
          { step: 'preprocess', seconds: j.preprocessSeconds },
        ],
      };
    }
    return { heapMb: o.heapMb, bytes, rows, chunkRows, cores: availableParallelism(), mlpipe, pandas };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const MBs = (bytes: number, s: number) => bytes / 1e6 / s;
const fmt = (x: number, d = 1) => x.toFixed(d);

export function formatLargeData(r: LargeDataResult): string {
  const lines = [
    `CSV ${fmt(r.bytes / 1e6, 0)} MB, ${r.rows} rows x (${NUMERIC_COLUMNS} numeric + category + label); chunkRows ${r.chunkRows}; ` +
      `${r.cores} cores; mlpipe's heap limit ${r.heapMb ? `${r.heapMb} MiB` : "Node's default"}`,
    'step          mlpipe s   mlpipe MB/s   pandas s   pandas MB/s   MB/s mlpipe/pandas',
  ];
  const names = [...new Set([...r.mlpipe.steps.map((s) => s.step), ...(r.pandas?.steps.map((s) => s.step) ?? [])])];
  for (const n of names) {
    const m = r.mlpipe.steps.find((s) => s.step === n);
    const p = r.pandas?.steps.find((s) => s.step === n);
    const cell = (t?: StepTime) =>
      t ? [fmt(t.seconds).padStart(8), fmt(MBs(r.bytes, t.seconds)).padStart(13)] : ['-'.padStart(8), '-'.padStart(13)];
    const ratio = m && p ? fmt(MBs(r.bytes, m.seconds) / MBs(r.bytes, p.seconds), 2) : '-';
    lines.push(`${n.padEnd(12)} ${cell(m).join(' ')}  ${cell(p).join('  ')}   ${ratio.padStart(12)}`);
  }
  const mPeak = r.mlpipe.peakRssBytes / 2 ** 20;
  lines.push(`peak RSS      mlpipe ${fmt(mPeak, 0)} MiB${r.pandas ? `, pandas ${fmt(r.pandas.peakRssBytes / 2 ** 20, 0)} MiB` : ''}`);
  if (r.pandas) {
    lines.push(
      `ratios        peak RSS mlpipe/pandas ${fmt(r.mlpipe.peakRssBytes / r.pandas.peakRssBytes, 2)}; ` +
        `pandas peak / file size ${fmt(r.pandas.peakRssBytes / r.bytes, 2)}; mlpipe peak / file size ${fmt(r.mlpipe.peakRssBytes / r.bytes, 2)}`,
    );
  }
  if (r.mlpipe.note) lines.push(`mlpipe: ${r.mlpipe.note} (measured: ${r.mlpipe.steps.map((s) => s.step).join(', ')})`);
  return lines.join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] === SELF) {
  const i = process.argv.indexOf('--child');
  if (i > 0) {
    const [root, csv, chunkRows, steps] = process.argv.slice(i + 1);
    await child(root!, csv!, Number(chunkRows), steps!.split(','));
  } else {
    const gb = arg('--gb');
    const result = await largeData({
      mb: gb ? Number(gb) * 1000 : Number(arg('--mb') ?? 200),
      chunkRows: arg('--chunk-rows') ? Number(arg('--chunk-rows')) : undefined,
      steps: arg('--steps')?.split(','),
      pandas: !process.argv.includes('--no-pandas'),
      heapMb: arg('--heap-mb') ? Number(arg('--heap-mb')) : undefined,
      log: (l) => console.error(l),
    });
    console.log(formatLargeData(result));
  }
}

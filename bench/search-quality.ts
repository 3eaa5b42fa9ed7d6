// Search quality against Optuna: the best validation loss after 30 trials, averaged over seeds,
// of mlpipe's TPE (src/ml/search/) and Optuna's TPESampler on one objective: a small MLP on
// sklearn's breast-cancer data trained by mlpipe's own code (bench/search-objective.ts), which
// both searches call (Optuna through bench/search_quality.py). Random search is the floor.
//
//   npx tsx bench/search-quality.ts [--seeds 0,1,2,3,4] [--trials 30] [--no-optuna]
//
// Needs Python 3 with optuna==5.0.0 and scikit-learn==1.9.1 (the data comes from scikit-learn).
// Exported: searchQuality(options) and formatSearchQuality for bench/run.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Study, type ParamValues, type SearchMethod, type TpeOptions } from '../src/ml/search/index.ts';
import { EPOCHS, loadSplit, makeObjective, SPACE } from './search-objective.ts';

const PY = fileURLToPath(new URL('./search_quality.py', import.meta.url));
const OBJECTIVE = fileURLToPath(new URL('./search-objective.ts', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const PIP = 'python3 -m pip install optuna==5.0.0 scikit-learn==1.9.1';

export interface SearchQualityOptions {
  seeds?: number[];
  trials?: number;
  optuna?: boolean;
  python?: string;
  log?: (line: string) => void;
}

export interface SearchRow {
  method: string;
  /** Every trial's value (null: failed) per seed, in trial order. */
  values: (number | null)[][];
}

export interface SearchQualityResult {
  rows: SearchRow[];
  optuna: { version: string } | { error: string } | null;
  seeds: number[];
  trials: number;
  load: { before: number; after: number };
}

const MLPIPE: { method: string; search: SearchMethod; tpe?: TpeOptions }[] = [
  { method: 'mlpipe TPE (univariate, its default)', search: 'tpe' },
  { method: 'mlpipe TPE, multivariate', search: 'tpe', tpe: { multivariate: true } },
  { method: 'mlpipe random search', search: 'random' },
];
const OPTUNA: Record<string, string> = {
  univariate: 'Optuna TPE, multivariate=False',
  default: 'Optuna TPE, its default (multivariate in 5.x)',
  // Optuna's random start differs from mlpipe's by luck; this row starts it from mlpipe's own
  // 10 random trials (enqueued), so only the two TPEs' choices differ.
  sameStart: "Optuna TPE, multivariate=False, mlpipe's start",
};
/** Which Optuna rows each mlpipe TPE row is held to. */
const PEERS: [string, string][] = [
  [MLPIPE[0]!.method, OPTUNA.univariate!],
  [MLPIPE[0]!.method, OPTUNA.sameStart!],
  [MLPIPE[1]!.method, OPTUNA.default!],
];
/** TPE's random start (Optuna's and mlpipe's n_startup_trials). */
const STARTUP = 10;

function python(py: string, args: string[]): { ok: true; stdout: string } | { ok: false; error: string } {
  const r = spawnSync(py, [PY, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.error) return { ok: false, error: `could not run ${py}: ${r.error.message}; install Python 3 and ${PIP}` };
  if (r.status !== 0) {
    const err = r.stderr.trim().split('\n').slice(-3).join(' | ');
    return { ok: false, error: /No module named/.test(err) ? `${err}; ${PIP}` : err };
  }
  return { ok: true, stdout: r.stdout };
}

/** sklearn's breast-cancer data as CSV, written once per machine. */
function dataset(py: string): string {
  const dir = join(tmpdir(), 'mlpipe-bench');
  const csv = join(dir, 'breast-cancer.csv');
  if (existsSync(csv)) return csv;
  mkdirSync(dir, { recursive: true });
  const r = python(py, ['export', `${csv}.part`]);
  if (!r.ok) throw new Error(`exporting the breast-cancer data set: ${r.error}`);
  renameSync(`${csv}.part`, csv);
  return csv;
}

export async function searchQuality(o: SearchQualityOptions = {}): Promise<SearchQualityResult> {
  const seeds = o.seeds ?? [0, 1, 2, 3, 4];
  const trials = o.trials ?? 30;
  const py = o.python ?? process.env.PYTHON ?? 'python3';
  const log = o.log ?? (() => {});
  const before = loadavg()[0]!;
  const csv = dataset(py);
  const objective = makeObjective(loadSplit(csv));
  const rows: SearchRow[] = [];
  const starts: Record<number, ParamValues[]> = {};
  for (const m of MLPIPE) {
    const values: (number | null)[][] = [];
    for (const seed of seeds) {
      const s = new Study({ space: SPACE, method: m.search, direction: 'minimize', seed, ...(m.tpe ? { tpe: m.tpe } : {}) });
      for (let i = 0; i < trials; i++) {
        const t = s.ask()!;
        s.tell(t.id, await objective(t.params));
      }
      values.push(s.trials.map((t) => t.value ?? null));
      if (m === MLPIPE[0]) starts[seed] = s.trials.slice(0, STARTUP).map((t) => t.params);
      log(`${m.method} seed ${seed}: best ${s.best()?.value?.toFixed(4)}`);
    }
    rows.push({ method: m.method, values });
  }
  let optuna: SearchQualityResult['optuna'] = null;
  if (o.optuna !== false) {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-search-'));
    try {
      const config = join(dir, 'config.json');
      const objectiveCommand = [process.execPath, '--import', 'tsx', OBJECTIVE, '--serve', csv];
      writeFileSync(
        config,
        JSON.stringify({ space: SPACE, seeds, trials, variants: Object.keys(OPTUNA), starts, objectiveCommand, cwd: REPO }),
      );
      const r = python(py, ['optuna', config]);
      if (!r.ok) optuna = { error: r.error };
      else {
        const out = JSON.parse(r.stdout) as { optuna: string; runs: { variant: string; seed: number; values: (number | null)[] }[] };
        optuna = { version: out.optuna };
        for (const [variant, method] of Object.entries(OPTUNA))
          rows.push({ method, values: seeds.map((seed) => out.runs.find((x) => x.variant === variant && x.seed === seed)!.values) });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { rows, optuna, seeds, trials, load: { before, after: loadavg()[0]! } };
}

const bestOf = (vs: (number | null)[], n = vs.length) => Math.min(...vs.slice(0, n).map((v) => v ?? Infinity));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));

export function formatSearchQuality(r: SearchQualityResult): string {
  // Best so far after 10 trials (the random start of TPE), 20, and all.
  const checkpoints = [...new Set([10, 20, r.trials].filter((n) => n <= r.trials))];
  const lines = [
    `Best validation loss after ${r.trials} trials (lower is better), mean over seeds ` +
      `${r.seeds.join(',')}; MLP on breast cancer, ${EPOCHS} epochs a trial.`,
    `${'search'.padEnd(46)} ${checkpoints.map((n) => `after ${n}`.padStart(9)).join(' ')} ` +
      `${'sd'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)} ${'failed'.padStart(6)}`,
  ];
  const bests = new Map<string, number[]>();
  for (const row of r.rows) {
    const b = row.values.map((v) => bestOf(v));
    bests.set(row.method, b);
    const at = (n: number) =>
      mean(row.values.map((v) => bestOf(v, n)))
        .toFixed(4)
        .padStart(9);
    const failed = row.values.reduce((a, v) => a + v.filter((x) => x === null).length, 0);
    lines.push(
      `${row.method.padEnd(46)} ${checkpoints.map(at).join(' ')} ${sd(b).toFixed(4).padStart(7)} ${Math.min(...b)
        .toFixed(4)
        .padStart(7)} ${Math.max(...b)
        .toFixed(4)
        .padStart(7)} ${String(failed).padStart(6)}`,
    );
  }
  if (r.optuna && 'error' in r.optuna) lines.push(`Optuna could not run: ${r.optuna.error}`);
  for (const [ours, peer] of PEERS) {
    const a = bests.get(ours);
    const b = bests.get(peer);
    if (!a || !b) continue;
    // The difference of the means against two standard errors of that difference.
    const diff = mean(a) - mean(b);
    const se = Math.sqrt(sd(a) ** 2 / a.length + sd(b) ** 2 / b.length);
    const verdict = diff <= 2 * se ? "not worse beyond the seeds' spread" : "WORSE beyond the seeds' spread";
    lines.push(
      `${ours} / ${peer}: ${(mean(a) / mean(b)).toFixed(3)}x (difference ${diff >= 0 ? '+' : ''}` +
        `${diff.toFixed(4)}, 2 standard errors ${(2 * se).toFixed(4)}): ${verdict}`,
    );
  }
  if (r.optuna && 'version' in r.optuna) lines.push(`Optuna ${r.optuna.version}.`);
  lines.push(`load average ${r.load.before.toFixed(1)} before, ${r.load.after.toFixed(1)} after (quality does not depend on it).`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const seeds = arg('--seeds')?.split(',').map(Number);
  const trials = arg('--trials');
  const r = await searchQuality({
    ...(seeds ? { seeds } : {}),
    ...(trials ? { trials: Number(trials) } : {}),
    optuna: !process.argv.includes('--no-optuna'),
    log: (l) => console.error(l),
  });
  console.log(formatSearchQuality(r));
}

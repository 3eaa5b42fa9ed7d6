/**
 * preprocess over a chunked dataset (fit passes + apply pass, src/ml/data/preprocess-stream.ts)
 * vs. the in-memory path on the same rows: 1,000,000 rows x 20 numeric columns with missing
 * values + a category + a label, impute, standardize, oneHot, labelEncode and split, each run
 * through the real activity (preprocessCore) in its own process so that its peak RSS is its own.
 * The input is stored once, as chunks of 65,536 rows and as one v1 artifact.
 * `npx tsx bench/preprocess-stream.ts [rows]`, or `npm run bench -- --only preprocess`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeChunks, writeDataset } from '../activities/lib/stage.ts';
import { inMemoryChunks } from '../src/ml/data/chunked.ts';
import type { Column, Dataset } from '../src/ml/data/dataset.ts';
import { Rng } from '../src/ml/data/rng.ts';
import { stageInput, testEnv } from '../test/support/data.ts';

export const PREPROCESS_STEPS = [
  { type: 'split', train: 0.8, validation: 0.1, test: 0.1, seed: 1 },
  { type: 'impute', columns: Array.from({ length: 20 }, (_, j) => `x${j}`), strategy: 'mean' },
  { type: 'impute', columns: ['cat'], strategy: 'mostFrequent' },
  { type: 'standardize', columns: Array.from({ length: 20 }, (_, j) => `x${j}`) },
  { type: 'oneHot', columns: ['cat'] },
  { type: 'labelEncode', columns: ['y'] },
];

function table(rows: number): Dataset {
  const rng = new Rng(1);
  const columns: Column[] = [];
  for (let j = 0; j < 20; j++) {
    const data = new Float32Array(rows);
    for (let r = 0; r < rows; r++) data[r] = rng.next() < 0.02 ? NaN : j + rng.normal();
    columns.push({ name: `x${j}`, type: 'number', shape: [], data, nullable: true });
  }
  const kinds = ['a', 'b', 'c', 'd', 'e'];
  columns.push({
    name: 'cat',
    type: 'category',
    values: Array.from({ length: rows }, () => (rng.next() < 0.01 ? null : kinds[rng.int(5)]!)),
    nullable: true,
  });
  columns.push({ name: 'y', type: 'category', values: Array.from({ length: rows }, () => (rng.next() < 0.4 ? 'yes' : 'no')) });
  return { rows, columns, label: 'y', origin: { file: 'gen.csv', unit: 'line', at: Uint32Array.from({ length: rows }, (_, r) => r + 2) } };
}

interface Run {
  seconds: number;
  peakRssMb: number;
}

function child(root: string, ref: string): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/preprocess-stream-child.ts', root, ref], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Run;
}

export async function preprocessBench(rows = 1_000_000): Promise<{ rows: number; streamed: Run; inMemory: Run }> {
  const root = mkdtempSync(join(tmpdir(), 'mlpipe-bench-prep-'));
  try {
    const env = testEnv(root);
    const ds = table(rows);
    const input = stageInput('collect', {});
    const c = inMemoryChunks(ds, 65_536);
    async function* all() {
      for (let i = 0; i < c.chunkRows.length; i++) yield await c.chunk(i);
    }
    const chunked = await writeChunks(env.store, all(), () => ({ label: 'y' }), input, env);
    const whole = await writeDataset(env.store, ds, input, env);
    // Alternate, twice each, and keep each one's best.
    const runs = { streamed: [] as Run[], inMemory: [] as Run[] };
    for (let k = 0; k < 2; k++) {
      runs.streamed.push(child(root, JSON.stringify(chunked)));
      runs.inMemory.push(child(root, JSON.stringify(whole)));
    }
    const best = (rs: Run[]) => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    return { rows, streamed: best(runs.streamed), inMemory: best(runs.inMemory) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function formatPreprocess(r: Awaited<ReturnType<typeof preprocessBench>>): string {
  const line = (name: string, x: Run) =>
    `| ${name} | ${x.seconds.toFixed(2)} s | ${(r.rows / x.seconds / 1e6).toFixed(2)} M rows/s | ${x.peakRssMb.toFixed(0)} MB | ${(x.seconds / r.inMemory.seconds).toFixed(2)}x |`;
  return [
    `${r.rows.toLocaleString('en')} rows x 20 numeric + category + label; impute, standardize, oneHot, labelEncode, split`,
    '| path | time | throughput | peak RSS | time ratio |',
    '| --- | --- | --- | --- | --- |',
    line('in memory (one chunk)', r.inMemory),
    line('streamed (chunks of 65,536)', r.streamed),
  ].join('\n');
}

if (process.argv[1]?.endsWith('preprocess-stream.ts')) {
  preprocessBench(Number(process.argv[2] ?? 1_000_000)).then((r) => console.log(formatPreprocess(r)));
}

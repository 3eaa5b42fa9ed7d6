// Training from chunks against training in memory, side by side: one train stage (an MLP on 20
// numeric features, 3 classes) over the same rows stored as one dataset artifact and as chunks
// (a manifest and chunk artifacts in a local store). The chunked run reads, decodes, checks and
// shuffles its chunks through a buffer while it trains; the ratio of training throughputs says
// what streaming costs the step (1.0: nothing). Synthetic data: speed only.
//
//   npx tsx bench/train-chunks.ts [--rows 400000] [--chunk-rows 65536] [--epochs 2]
//
// Exported: trainChunks(options) for bench/run.ts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDataset, writeChunks, writeDataset } from '../activities/lib/stage.ts';
import { trainCore } from '../activities/train.ts';
import { inMemoryChunks } from '../src/ml/data/chunked.ts';
import type { Dataset } from '../src/ml/data/dataset.ts';
import { Rng } from '../src/ml/data/rng.ts';
import { stageInput, tempDir, testEnv } from '../test/support/data.ts';

export interface TrainChunksResult {
  rows: number;
  chunks: number;
  memory: { seconds: number; samplesPerSecond: number };
  chunked: { seconds: number; samplesPerSecond: number };
}

function rowsOf(n: number): Dataset {
  const rng = new Rng(1);
  const cols = Array.from({ length: 20 }, () => new Float32Array(n));
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < 20; j++) {
      const v = rng.normal();
      cols[j]![i] = v;
      s += j < 10 ? v : -v;
    }
    y[i] = s > 2 ? 0 : s < -2 ? 1 : 2;
  }
  const train = Uint32Array.from({ length: n }, (_, i) => i).filter((i) => i % 10 !== 0);
  const validation = Uint32Array.from({ length: n }, (_, i) => i).filter((i) => i % 10 === 0);
  return {
    rows: n,
    label: 'y',
    classes: ['pos', 'neg', 'mid'],
    columns: [
      ...cols.map((data, j) => ({ name: `f${j}`, type: 'number' as const, shape: [], data })),
      { name: 'y', type: 'integer' as const, shape: [], data: y },
    ],
    splits: { train, validation },
  };
}

export async function trainChunks(o: { rows?: number; chunkRows?: number; epochs?: number } = {}): Promise<TrainChunksResult> {
  const rows = o.rows ?? 400_000;
  const chunkRows = o.chunkRows ?? 65_536;
  const root = tempDir('mlpipe-bench-chunks-');
  process.env.MLPIPE_HOME = join(root, 'home');
  const env = testEnv(root);
  const ds = rowsOf(rows);
  const input = stageInput('preprocess', {});
  const c = inMemoryChunks(ds, chunkRows);
  const chunked = await writeChunks(
    env.store,
    (async function* () {
      for (let i = 0; i < c.chunkRows.length; i++) yield await c.chunk(i);
    })(),
    () => ({ label: ds.label, classes: ds.classes }),
    input,
    env,
  );
  const whole = await writeDataset(env.store, await readDataset(env.store, chunked), input, env);
  const cfg = {
    model: {
      layers: [
        { type: 'dense', units: 64, activation: 'relu' },
        { type: 'dense', units: 3, activation: 'softmax' },
      ],
    },
    optimizer: { type: 'adam', learningRate: 0.001 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    epochs: o.epochs ?? 2,
    batchSize: 256,
    seed: 1,
  };
  const run = async (dataset: typeof whole) => {
    const t0 = performance.now();
    const r = await trainCore(stageInput('train', cfg, { dataset }), env);
    const seconds = (performance.now() - t0) / 1000;
    const summary = JSON.parse((await env.store.get(r.outputs.history as unknown as typeof whole)).toString()) as {
      samplesPerSecond: number;
    };
    return { seconds, samplesPerSecond: summary.samplesPerSecond };
  };
  await run(whole); // warm-up: TensorFlow's kernels and the graph step's first compile
  const streamed = await run(chunked);
  const memory = await run(whole);
  return { rows, chunks: c.chunkRows.length, memory, chunked: streamed };
}

export function formatTrainChunks(r: TrainChunksResult): string {
  const ratio = r.chunked.samplesPerSecond / r.memory.samplesPerSecond;
  return [
    `train from chunks: ${r.rows} rows (20 features), ${r.chunks} chunks, MLP 64, batch 256`,
    `  in memory: ${r.memory.samplesPerSecond.toFixed(0)} samples/s in fit, ${r.memory.seconds.toFixed(1)} s for the stage`,
    `  chunked:   ${r.chunked.samplesPerSecond.toFixed(0)} samples/s in fit, ${r.chunked.seconds.toFixed(1)} s for the stage`,
    `  chunked / in memory: ${ratio.toFixed(2)}x training throughput`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  console.log(formatTrainChunks(await trainChunks({ rows: arg('rows'), chunkRows: arg('chunk-rows'), epochs: arg('epochs') })));
}

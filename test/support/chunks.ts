// Chunked datasets for the streaming tests: a seeded tabular classification set with source
// lines and splits, stored as several chunk artifacts (writeChunks) or as one gathered v1 artifact.
import type { ArtifactRef } from '../../src/core/plan.ts';
import { inMemoryChunks } from '../../src/ml/data/chunked.ts';
import type { Dataset } from '../../src/ml/data/dataset.ts';
import { Rng } from '../../src/ml/data/rng.ts';
import { readDataset, writeChunks, writeDataset, type StageEnv } from '../../activities/lib/stage.ts';
import { stageInput } from './data.ts';

/**
 * `n` rows of three features whose class (a, b, c) is the largest of the first two and a third
 * noise feature; rows listed in `d.csv` from line 2. Splits interleave (70/15/15 by row number),
 * so every chunk holds rows of each split.
 */
export function threeClassRows(n: number, seed = 1): Dataset {
  const rng = new Rng(seed);
  const f = Array.from({ length: 3 }, () => new Float32Array(n));
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.normal();
    const b = rng.normal();
    f[0]![i] = a;
    f[1]![i] = b;
    f[2]![i] = rng.normal();
    y[i] = a > 0.5 && a > b ? 0 : b > 0.5 ? 1 : 2;
  }
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < n; i++) (i % 20 < 14 ? train : i % 20 < 17 ? validation : test).push(i);
  return {
    rows: n,
    label: 'y',
    classes: ['a', 'b', 'c'],
    columns: [
      ...f.map((data, j) => ({ name: `f${j}`, type: 'number' as const, shape: [], data })),
      { name: 'y', type: 'integer' as const, shape: [], data: y },
    ],
    splits: { train: Uint32Array.from(train), validation: Uint32Array.from(validation), test: Uint32Array.from(test) },
    origin: { file: 'd.csv', unit: 'line', at: Uint32Array.from({ length: n }, (_, i) => i + 2) },
  };
}

/** `ds` stored as chunks of `chunkRows` rows (a manifest), and the same rows gathered into one v1 artifact. */
export async function storedBothWays(ds: Dataset, chunkRows: number, env: StageEnv): Promise<{ chunked: ArtifactRef; whole: ArtifactRef }> {
  const input = stageInput('preprocess', {});
  const c = inMemoryChunks(ds, chunkRows);
  const chunked = await writeChunks(
    env.store,
    (async function* () {
      for (let i = 0; i < c.chunkRows.length; i++) yield await c.chunk(i);
    })(),
    () => ({ label: ds.label, classes: ds.classes, stats: ds.stats }),
    input,
    env,
  );
  const whole = await writeDataset(env.store, await readDataset(env.store, chunked), input, env);
  return { chunked, whole };
}

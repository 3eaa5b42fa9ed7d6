// The search-quality bench's objective: the validation loss of a small MLP trained by mlpipe's own
// training code (buildModel + fit) on sklearn's breast-cancer data (569 rows, 30 features, two
// classes), with the hyper-parameters set at their config paths. Seeded throughout: the same
// parameters give the same loss, whichever search asks.
//
// mlpipe's samplers call objective() in-process; Optuna calls the same code through
//   node --import tsx bench/search-objective.ts --serve DATA.csv
// which answers each JSON line of parameters on stdin with a line `@objective {"value": loss|null}`
// (marked, so that anything a native library prints on stdout cannot be taken for an answer).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { permutation } from '../src/ml/data/rng.ts';
import { fit, type ArrayData } from '../src/ml/train/fit.ts';
import { buildModel } from '../src/ml/train/model.ts';
import type { TrainModelSpec } from '../src/ml/train/model-spec.ts';
import { setPath, type ParamValues, type Space } from '../src/ml/search/index.ts';

/** The searched dimensions: the learning rate and the hidden layer's units, dropout and L2. */
export const SPACE: Space = {
  'optimizer.learningRate': { type: 'logUniform', min: 1e-4, max: 0.3 },
  'model.layers[0].units': { type: 'int', min: 4, max: 128, log: true },
  'model.layers[0].kernelRegularizer.l2': { type: 'logUniform', min: 1e-6, max: 0.1 },
  'model.layers[1].rate': { type: 'uniform', min: 0, max: 0.6 },
};
export const EPOCHS = 12;

const BASE: TrainModelSpec = {
  model: {
    layers: [
      { type: 'dense', units: 16, activation: 'relu', kernelRegularizer: { l2: 1e-4 } },
      { type: 'dropout', rate: 0.1 },
      { type: 'dense', units: 2, activation: 'softmax' },
    ],
  },
  optimizer: { type: 'adam', learningRate: 1e-3 },
  loss: 'sparseCategoricalCrossentropy',
};

interface Split {
  train: { x: ArrayData; y: ArrayData };
  validation: { x: ArrayData; y: ArrayData };
}

/** 70/30 split (seeded), features standardised with the training rows' statistics. */
export function loadSplit(csvPath: string): Split {
  const rows = parse(readFileSync(csvPath), { from_line: 2 }) as string[][];
  const n = rows.length;
  const f = rows[0]!.length - 1;
  const order = permutation(n, 0);
  const nTrain = Math.round(n * 0.7);
  const mean = new Float64Array(f);
  const sq = new Float64Array(f);
  for (let i = 0; i < nTrain; i++)
    rows[order[i]!]!.slice(0, f).forEach((v, j) => {
      mean[j]! += Number(v);
      sq[j]! += Number(v) ** 2;
    });
  const sd = mean.map((m, j) => Math.sqrt(Math.max(sq[j]! / nTrain - (m / nTrain) ** 2, 1e-12)));
  mean.forEach((m, j) => (mean[j] = m / nTrain));
  const part = (idx: number[]) => {
    const x = new Float32Array(idx.length * f);
    const y = new Int32Array(idx.length);
    idx.forEach((r, i) => {
      const row = rows[r]!;
      for (let j = 0; j < f; j++) x[i * f + j] = (Number(row[j]) - mean[j]!) / sd[j]!;
      y[i] = Number(row[f]);
    });
    return { x: { data: x, shape: [idx.length, f] }, y: { data: y, shape: [idx.length] } };
  };
  const all = Array.from(order);
  return { train: part(all.slice(0, nTrain)), validation: part(all.slice(nTrain)) };
}

/** The objective over one data split: the last epoch's validation loss; null when it diverged. */
export function makeObjective(split: Split): (params: ParamValues) => Promise<number | null> {
  return async (params) => {
    const spec = structuredClone(BASE);
    for (const [path, v] of Object.entries(params)) setPath(spec as unknown as Record<string, unknown>, path, v);
    const { model } = buildModel(spec, { inputShape: [split.train.x.shape[1]!], seed: 1 });
    try {
      const r = await fit(model, spec, split.train.x, split.train.y, {
        epochs: EPOCHS,
        batchSize: 32,
        seed: 1,
        validation: split.validation,
      });
      const loss = r.history.at(-1)!.logs.val_loss!;
      return Number.isFinite(loss) ? loss : null;
    } finally {
      model.dispose();
    }
  };
}

async function serve(csvPath: string): Promise<void> {
  const objective = makeObjective(loadSplit(csvPath));
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const value = await objective(JSON.parse(line) as ParamValues);
    process.stdout.write(`@objective ${JSON.stringify({ value })}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--serve');
  if (i < 0 || !process.argv[i + 1]) {
    console.error('usage: node --import tsx bench/search-objective.ts --serve DATA.csv');
    process.exit(2);
  }
  await serve(process.argv[i + 1]!);
}

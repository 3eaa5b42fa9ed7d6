// The recurrent race of issue 16: a 2-layer LSTM classifier (sequences of 50 steps of 8
// features, hidden 64, its last step through a dense 10-class head on logits, Adam lr 0.001,
// batch 32) on mlpipe's graph step against PyTorch's nn.LSTM (bench/pytorch_lstm.py) and Keras 3's
// LSTM `fit` (bench/keras_fit.py --model lstm) on tensorflow-cpu 2.21, in interleaved rounds;
// rows are medians. The recurrent activation is the sigmoid on every side (tfjs's default is
// the hard sigmoid; PyTorch's and Keras's is the sigmoid).
//
//   npx tsx bench/train-speed.ts --lstm [--repeats 3] [--samples 1024]
import { availableParallelism, loadavg } from 'node:os';
import { getTf, selectBackend } from '../src/ml/runtime/backend.ts';
import type { ArrayData } from '../src/ml/train/fit.ts';
import { graphStepUnavailable } from '../src/ml/train/graph/trainer.ts';
import type { TrainModelSpec } from '../src/ml/train/model-spec.ts';
import {
  formatRaceRows,
  goalLine,
  type Load,
  loadWarning,
  mlpipeFit,
  peerThreads,
  type RaceRow,
  Runs,
  runPeer,
  withRatios,
} from './train-race.ts';

export const LSTM_SHAPE = { steps: 50, features: 8, hidden: 64, classes: 10 };

export const LSTM2: TrainModelSpec = {
  model: {
    inputShape: [LSTM_SHAPE.steps, LSTM_SHAPE.features],
    layers: [
      { type: 'lstm', units: LSTM_SHAPE.hidden, returnSequences: true, recurrentActivation: 'sigmoid' },
      { type: 'lstm', units: LSTM_SHAPE.hidden, recurrentActivation: 'sigmoid' },
      { type: 'dense', units: LSTM_SHAPE.classes },
    ],
  },
  optimizer: { type: 'adam', learningRate: 0.001 },
  loss: 'sparseCategoricalCrossentropy',
};

type LstmImpl = 'PyTorch nn.LSTM' | 'Keras 3 LSTM fit (TF 2.21)' | 'mlpipe fit, graph step';

export interface LstmRaceResult {
  rows: Array<RaceRow & { impl: LstmImpl }>;
  peers: string[];
  load: Load;
}

export async function lstmRace(
  opts: { repeats?: number; samples?: number; epochs?: number; batchSize?: number; log?: (l: string) => void } = {},
) {
  const repeats = opts.repeats ?? 3;
  const samples = opts.samples ?? 1024;
  const epochs = opts.epochs ?? 2;
  const batch = opts.batchSize ?? 32;
  const log = opts.log ?? ((l: string) => console.log(l));
  const { steps, features, hidden, classes } = LSTM_SHAPE;
  const shape = ['--steps', steps, '--features', features, '--hidden', hidden, '--classes', classes].map(String);
  const common = ['--batch-sizes', String(batch), '--samples', String(samples), '--epochs', String(epochs), ...shape];
  const runs = new Runs<LstmImpl>();
  const peers = new Set<string>();
  const loadBefore = loadavg()[0]!;
  selectBackend('cpu');
  const graphWhy = graphStepUnavailable(getTf());
  if (graphWhy) log(`warning: the graph training step is unavailable (${graphWhy}); mlpipe's row is missing`);
  let s = 11;
  const x: ArrayData = {
    data: Float32Array.from({ length: samples * steps * features }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296),
    shape: [samples, steps, features],
  };
  const y: ArrayData = { data: Int32Array.from({ length: samples }, (_, i) => (i * 7) % classes), shape: [samples] };
  for (let round = 0; round < repeats; round++) {
    for (const [impl, script, args, kind] of [
      ['PyTorch nn.LSTM', 'pytorch_lstm.py', [...common, '--threads', String(peerThreads())], 'torch'],
      ['Keras 3 LSTM fit (TF 2.21)', 'keras_fit.py', ['--model', 'lstm', ...common], 'keras'],
    ] as const) {
      const p = runPeer(script, [...args], kind);
      if ('error' in p) {
        if (round === 0) log(`  ${impl}: skipped: ${p.error}`);
        continue;
      }
      peers.add(`${impl}: ${p.version}`);
      for (const r of p.results) runs.add(impl, r.batchSize, r);
    }
    if (!graphWhy) runs.add('mlpipe fit, graph step', batch, await mlpipeFit(LSTM2, { x, y }, batch, epochs, 'graph'));
    log(`  LSTM race: round ${round + 1}/${repeats} done`);
  }
  const rows = withRatios(runs.medians());
  return { rows, peers: [...peers], load: { before: loadBefore, after: loadavg()[0]!, cores: availableParallelism() } } as LstmRaceResult;
}

export function formatLstmRace(r: LstmRaceResult): string {
  const { steps, features, hidden } = LSTM_SHAPE;
  return [
    `2-layer LSTM (${steps} steps x ${features} features, hidden ${hidden}, dense head), Adam` +
      (r.peers.length ? `; ${r.peers.join('; ')}` : ''),
    ...formatRaceRows(r.rows),
    goalLine(r.rows, 'graph step', 'mlpipe fit, graph step', 32, 'PyTorch', 1),
    ...loadWarning(r.load),
  ].join('\n');
}

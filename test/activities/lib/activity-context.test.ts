// The exported activities under the Temporal SDK's activity context (MockActivityEnvironment):
// heartbeats go through Context.heartbeat, cancellation through Context.cancellationSignal, and a
// retry reads Context.info.heartbeatDetails. Called outside a context, they still work.
import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { collect } from '../../../activities/collect.ts';
import { preprocess } from '../../../activities/preprocess.ts';
import { train, type TrainHeartbeat } from '../../../activities/train.ts';
import { collectInput, stageInput, tempDir } from '../../support/data.ts';
import { irisSchema, ref } from '../../support/pipelines.ts';

describe('activities in a Temporal activity context', () => {
  it('heartbeat, cancel at the next batch keeping the checkpoint, resume on retry from heartbeatDetails', async () => {
    process.env.MLPIPE_HOME = tempDir();
    const dir = tempDir();
    copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
    const wf = 'ctx/run-1';
    // Outside any activity context: the default store under MLPIPE_HOME is used.
    const c = await collect(collectInput({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir, wf));
    const p = await preprocess(
      stageInput(
        'preprocess',
        {
          steps: [
            { type: 'labelEncode', columns: ['species'] },
            { type: 'standardize' },
            { type: 'split', train: 0.8, test: 0.2, seed: 1 },
          ],
        },
        { dataset: ref(c, 'dataset') },
        wf,
      ),
    );
    const cfg = {
      model: {
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      optimizer: { type: 'adam', learningRate: 0.02 },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
      epochs: 5,
      batchSize: 8,
      seed: 1,
    };
    const input = stageInput('train', cfg, { dataset: ref(p, 'dataset') }, wf);

    const first = new MockActivityEnvironment({ attempt: 1 });
    const beats: TrainHeartbeat[] = [];
    first.on('heartbeat', (d: TrainHeartbeat) => {
      beats.push(d);
      if (d.checkpoint?.epoch === 2 && d.progress.batch === undefined) first.cancel('CANCELLED');
    });
    await expect(first.run(train, input)).rejects.toBeInstanceOf(CancelledFailure);
    const last = beats.at(-1)!;
    expect(last).toMatchObject({ progress: { stage: 'train', epochs: 5 }, checkpoint: { epoch: 2 } });
    // It stopped at the next batch: no heartbeat from epoch 4 or later.
    expect(Math.max(...beats.map((b) => b.progress.epoch))).toBeLessThanOrEqual(3);

    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: last });
    const beats2: TrainHeartbeat[] = [];
    retry.on('heartbeat', (d: TrainHeartbeat) => beats2.push(d));
    const r = (await retry.run(train, input)) as Awaited<ReturnType<typeof train>>;
    expect(beats2[0]).toMatchObject({ progress: { epoch: 2 }, checkpoint: { epoch: 2 } });
    expect(r.outputs.epochs).toBe(5);
    expect(typeof r.outputs.accuracy).toBe('number');
  });
});

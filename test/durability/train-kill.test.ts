/**
 * Issue 5's proof, on the real dev server with the real stage activities: a worker process is
 * SIGKILLed in the middle of training; a second worker's retry resumes from the last
 * checkpoint (not from epoch 0), loses at most one checkpoint interval, and the final model
 * evaluates like an uninterrupted run's.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { killableTrainSpec } from '../support/specs.ts';
import { testAddress, testEnv, type TestEnv } from '../support/temporal.ts';

// long enough (about a second an epoch with the graph step) to be killed in the middle
const EPOCHS = 16;
const spec = (queue: string) => killableTrainSpec({ name: 'train-kill', queue, samples: 12000, epochs: EPOCHS });

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function stop(w: WorkerProcess): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  w.kill('SIGTERM');
  await new Promise((r) => w.once('exit', r));
}

describe('training survives a killed worker', () => {
  it('a SIGKILLed worker: the retry resumes from the checkpoint and the model is as good as an uninterrupted one', async () => {
    const env: TestEnv = await testEnv('train-kill', { worker: false });
    cleanups.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-train-kill-'));
    writeFileSync(join(dir, 'p.yaml'), spec(env.queue));
    const { plan } = await compileFile(join(dir, 'p.yaml'));

    // 1. An uninterrupted run, for comparison.
    const steady = spawnWorker(testAddress(), env.queue, env.home);
    cleanups.push(() => stop(steady));
    const clean = await (await env.start(plan)).result();
    await stop(steady);
    expect(clean.stages.train!.outputs.epochs).toBe(EPOCHS);
    // the worker says at start what training runs on
    expect(steady.output()).toMatch(/training: tensorflow \(TensorFlow 2\.21[^)]*\), graph steps on/);
    expect(steady.output()).not.toContain('serves the GPU queue');

    // 2. The same pipeline with no cache; its worker is killed mid-training.
    const first = spawnWorker(testAddress(), env.queue, env.home);
    cleanups.push(async () => first.kill('SIGKILL'));
    const handle = await env.start(plan, { noCache: true });
    let seenEpoch = 0;
    await waitFor(
      async () => {
        const v = await describeRun(env.client, handle.workflowId).catch(() => undefined);
        seenEpoch = v?.live.train?.progress?.epoch ?? 0;
        return seenEpoch >= 3;
      },
      120_000,
      'epochs from the first worker',
      100,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(seenEpoch, `training finished before the kill: make it longer`).toBeLessThan(EPOCHS - 2);

    const second = spawnWorker(testAddress(), env.queue, env.home);
    cleanups.push(() => stop(second));
    const res = await handle.result();
    expect(res.stages.train!.status).toBe('succeeded');
    expect(res.stages.train!.attempts).toBeGreaterThanOrEqual(2);

    // The history artifact records where the final attempt started.
    const store = new LocalArtifactStore(join(env.home, 'artifacts'));
    const summary = JSON.parse((await store.get(res.stages.train!.outputs.history as unknown as ArtifactRef)).toString()) as {
      resumedFromEpoch: number;
      epochs: number;
      history: { epoch: number }[];
    };
    console.log(
      `train-kill: killed at epoch ${seenEpoch}, the retry resumed from epoch ${summary.resumedFromEpoch}; ` +
        `accuracy ${res.stages.evaluate!.outputs.accuracy} vs ${clean.stages.evaluate!.outputs.accuracy} uninterrupted`,
    );
    expect(summary.resumedFromEpoch).toBeGreaterThan(0); // not from scratch
    expect(summary.resumedFromEpoch).toBeGreaterThanOrEqual(seenEpoch - 1); // at most one checkpoint interval lost
    expect(summary.epochs).toBe(EPOCHS); // the model is complete
    expect(summary.history.map((h) => h.epoch)).toEqual([...Array(EPOCHS).keys()]);
    const acc = res.stages.evaluate!.outputs.accuracy as number;
    const cleanAcc = clean.stages.evaluate!.outputs.accuracy as number;
    expect(cleanAcc).toBeGreaterThan(0.5); // a task hard enough that a damaged model would show
    expect(Math.abs(acc - cleanAcc)).toBeLessThanOrEqual(0.03);
  }, 300_000);
});

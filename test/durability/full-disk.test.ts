/**
 * Issue 10 item 8, on the real dev server with a real full disk: a worker whose MLPIPE_HOME is a
 * 12 MiB tmpfs trains a model whose checkpoints (about 3.2 MiB each) fill it mid-way. The failure
 * names the path being written and the space left, and is retried after a long pause rather than
 * a second; once the run has failed and the disk is grown, `rerun --from train` resumes at the
 * earlier run's last checkpointed epoch instead of epoch 0.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { failureMessage, rerunFrom } from '../../src/temporal/runs.ts';
import { NO_SPACE_RETRY_MS } from '../../activities/lib/stage.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { testAddress, testEnv, type TestEnv } from '../support/temporal.ts';

const EPOCHS = 12;
const spec = `apiVersion: mlpipe/v1
metadata: { name: full-disk }
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 200, features: 3, classes: 2, seed: 4 }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: standardize }, { type: split, train: 0.8, test: 0.2, seed: 1 }]
  train:
    type: train
    needs: [prep]
    retry: { maxAttempts: 2, initialInterval: 200ms }
    model:
      layers:
        - { type: dense, units: 512, activation: relu }
        - { type: dense, units: 512, activation: relu }
        - { type: dense, units: 2, activation: softmax }
    optimizer: { type: adam, learningRate: 0.001 }
    loss: sparseCategoricalCrossentropy
    epochs: ${EPOCHS}
    batchSize: 64
    seed: 1
    checkpoint: { everyEpochs: 1, keepLast: 50 }
`;

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse())
    await Promise.resolve()
      .then(c)
      .catch(() => undefined);
});

async function stop(w: WorkerProcess): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  w.kill('SIGTERM');
  await new Promise((r) => w.once('exit', r));
}

describe('a full disk', () => {
  it('names the path and free space, backs off long, and rerun --from train resumes at the last checkpoint', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mlpipe-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', home]);
    cleanups.push(() => execFileSync('umount', ['-l', home]));
    const env: TestEnv = await testEnv('full-disk', { worker: false });
    cleanups.push(() => env.close());
    const worker = spawnWorker(testAddress(), env.queue, home);
    cleanups.push(() => stop(worker));
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-full-disk-spec-'));
    writeFileSync(join(dir, 'p.yaml'), spec);
    const { plan } = await compileFile(join(dir, 'p.yaml'));

    const handle = await env.start(plan);
    // The first attempt fails when a checkpoint no longer fits; the retry waits its long pause.
    let pending:
      | { lastFailure?: { message?: string | null } | null; lastAttemptCompleteTime?: unknown; nextAttemptScheduleTime?: unknown }
      | undefined;
    await waitFor(
      async () => {
        const d = await handle.describe();
        pending = d.raw.pendingActivities?.find((p) => p.activityId === 'train' && p.lastFailure);
        return !!pending;
      },
      150_000,
      'the train stage to fail on the full disk',
    );
    const msg = pending!.lastFailure!.message!;
    expect(msg).toMatch(
      new RegExp(
        `out of space \\(ENOSPC\\) writing ${home}/artifacts/\\S+: \\d+ bytes free of 12\\.0 MiB on the file system of ${home}/artifacts`,
      ),
    );
    expect(msg).toMatch(/attempt 1; the next one in 30 s/);
    const seconds = (t: unknown) => Number((t as { seconds: { toString(): string } }).seconds.toString());
    const pause = seconds(pending!.nextAttemptScheduleTime) - seconds(pending!.lastAttemptCompleteTime);
    expect(pause).toBeGreaterThanOrEqual(NO_SPACE_RETRY_MS / 1000 - 1); // scheduled by the server, not measured here

    // The retry (disk still full) fails too, and so does the run.
    const failed = await handle.result().then(
      () => undefined,
      (e: unknown) => failureMessage(e),
    );
    expect(failed).toMatch(/out of space/);
    const store = new LocalArtifactStore(join(home, 'artifacts'));
    const epochs = (await store.list(handle.workflowId))
      .map((r) => /^checkpoint-epoch-(\d+)$/.exec(r.lineage.name ?? '')?.[1])
      .filter((e): e is string => !!e)
      .map(Number);
    const last = Math.max(...epochs);
    expect(last).toBeGreaterThanOrEqual(2);
    expect(last).toBeLessThan(EPOCHS);

    // Room again: the rerun resumes at the earlier run's last checkpoint.
    execFileSync('mount', ['-o', 'remount,size=256m', home]);
    const again = await rerunFrom(env.client, handle.workflowId, 'train');
    const r = await again.result();
    expect(r.stages.train!.status).toBe('succeeded');
    expect(r.stages.prep!.cached).toBe(true);
    const summary = JSON.parse((await store.get(r.stages.train!.outputs.history as unknown as ArtifactRef)).toString());
    expect(summary.resumedFromEpoch).toBe(last);
    expect(summary.history).toHaveLength(EPOCHS);
    expect(worker.output()).toMatch(new RegExp(`resuming at epoch ${last} from the checkpoint of the earlier run ${handle.workflowId}`));
  }, 300_000);
});

/**
 * A pipeline on the real dev server with `MLPIPE_STORE=s3://…` (a real SeaweedFS): two worker
 * processes with homes of their own (no shared directory); the one training is SIGKILLed and the
 * other resumes from the checkpoint in S3 named by the last heartbeat (a reference, never the
 * weights). Every artifact is in S3 and none under a worker's home; `mlpipe report` on a third
 * home fetches the report; `mlpipe serve` on a fourth loads the model from S3 and answers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { isArtifactRef, type ArtifactRef, type JsonValue } from '../../src/core/plan.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { startS3Server, type S3Server } from '../support/s3.ts';
import { killableTrainSpec } from '../support/specs.ts';
import { testAddress, testEnv, type TestEnv } from '../support/temporal.ts';

const EPOCHS = 40;
const spec = (queue: string) => killableTrainSpec({ name: 's3-pipeline', queue, samples: 12000, epochs: EPOCHS });

let s3: S3Server;
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  s3 = await startS3Server();
  cleanups.push(() => s3.stop());
}, 120_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function stop(w: WorkerProcess): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  w.kill('SIGTERM');
  await new Promise((r) => w.once('exit', r));
}

function mlpipe(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/mlpipe.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

describe('a pipeline whose artifacts live in S3', () => {
  it("resumes training on another host from the checkpoint in S3, keeps nothing in the workers' homes, " +
    'reports and serves from S3', async () => {
    const bucket = await s3.bucket('pipeline');
    const storeUri = `s3://${bucket}/mlpipe`;
    // The workers this file spawns inherit these (spawnWorker passes process.env on).
    Object.assign(process.env, s3.env, { MLPIPE_STORE: storeUri });
    const store = new S3ArtifactStore(storeUri, { env: s3.env, spillDir: join(tmpdir(), 'mlpipe-s3-spill') });

    const env: TestEnv = await testEnv('s3-pipeline', { worker: false });
    cleanups.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-s3-pipeline-'));
    writeFileSync(join(dir, 'p.yaml'), spec(env.queue));
    const { plan } = await compileFile(join(dir, 'p.yaml'));
    const home = (host: string) => mkdtempSync(join(tmpdir(), `mlpipe-s3-host-${host}-`));
    const [homeB, homeC, homeReport, homeServe] = ['b', 'c', 'report', 'serve'].map(home) as [string, string, string, string];

    // Host B trains until a few checkpoints are in S3, then dies with everything it had.
    const b = spawnWorker(testAddress(), env.queue, homeB);
    cleanups.push(async () => b.kill('SIGKILL'));
    const handle = await env.start(plan, { noCache: true });
    let seenEpoch = 0;
    let beat: { checkpoint: ArtifactRef | null; bytes: number } | undefined;
    await waitFor(
      async () => {
        const v = await describeRun(env.client, handle.workflowId).catch(() => undefined);
        seenEpoch = v?.live.train?.progress?.epoch ?? 0;
        if (seenEpoch < 3) return false;
        const desc = await handle.describe();
        const pa = desc.raw.pendingActivities?.find((p) => p.activityId?.startsWith('train'));
        const payload = pa?.heartbeatDetails?.payloads?.[0];
        if (!payload) return false;
        // train's heartbeat: { progress, checkpoint: { ref, epoch } } (one shape for every stage)
        const details = env.client.options.loadedDataConverter.payloadConverter.fromPayload<{ checkpoint?: { ref?: ArtifactRef } }>(
          payload,
        );
        beat = { checkpoint: details.checkpoint?.ref ?? null, bytes: payload.data?.length ?? 0 };
        return isArtifactRef(beat.checkpoint);
      },
      180_000,
      'checkpoints from host B',
      100,
    );
    b.kill('SIGKILL');
    await new Promise((r) => b.once('exit', r));
    expect(seenEpoch, 'training finished before the kill: make it longer').toBeLessThan(EPOCHS - 2);
    // The heartbeat names the checkpoint in S3; the weights (~70 KB here) are not in it.
    expect(beat!.checkpoint!.uri.startsWith(`s3://${bucket}/mlpipe/sha256/`)).toBe(true);
    expect(beat!.bytes).toBeLessThan(2048);
    expect(await store.stat(beat!.checkpoint!)).toEqual({ sizeBytes: beat!.checkpoint!.sizeBytes });

    // Host C, with a home of its own, takes over.
    const c = spawnWorker(testAddress(), env.queue, homeC);
    cleanups.push(() => stop(c));
    const res = await handle.result();
    await stop(c);
    expect(c.output()).toContain(`artifacts: ${storeUri}/`);
    expect(res.stages.train!.status).toBe('succeeded');
    expect(res.stages.train!.attempts).toBeGreaterThanOrEqual(2);
    const summary = JSON.parse((await store.get(res.stages.train!.outputs.history as unknown as ArtifactRef)).toString()) as {
      resumedFromEpoch: number;
      epochs: number;
    };
    console.log(`s3-pipeline: killed at epoch ${seenEpoch}, host C resumed from epoch ${summary.resumedFromEpoch}`);
    expect(summary.resumedFromEpoch).toBeGreaterThan(0);
    expect(summary.resumedFromEpoch).toBeGreaterThanOrEqual(seenEpoch - 1); // at most one checkpoint interval lost
    expect(summary.epochs).toBe(EPOCHS);
    expect(res.stages.evaluate!.outputs.accuracy as number).toBeGreaterThan(0.5);

    // Every artifact is in S3, and neither worker kept one in its home.
    const refs = Object.values(res.stages)
      .flatMap((s) => Object.values(s.outputs))
      .filter((v): v is ArtifactRef & JsonValue => isArtifactRef(v));
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const r of refs) {
      expect(r.uri.startsWith(`s3://${bucket}/mlpipe/`)).toBe(true);
      expect(await store.stat(r)).toEqual({ sizeBytes: r.sizeBytes });
    }
    for (const h of [homeB, homeC]) expect(existsSync(join(h, 'artifacts')), `${h}/artifacts`).toBe(false);
    const recs = await store.list(handle.workflowId);
    const checkpoints = recs.filter((r) => r.lineage.stage === 'train' && r.lineage.name?.startsWith('checkpoint-'));
    // keepLast: 2 holds across hosts (host C's retention removed host B's older checkpoints)
    expect(checkpoints.length).toBe(2);
    for (const r of checkpoints) expect(await store.stat(r.ref)).not.toBeNull();

    // Any host with the store finds the report, sections from both hosts in it.
    const rep = await mlpipe(['report', handle.workflowId, '--store', storeUri], {
      ...process.env,
      MLPIPE_STORE: '',
      MLPIPE_HOME: homeReport,
    });
    expect(rep.err).toBe('');
    expect(rep.code).toBe(0);
    const file = rep.out.trim();
    expect(file.startsWith(homeReport)).toBe(true);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('Training: train');
    expect(html).toContain('Evaluation: evaluate');
    expect(html).toContain('Lineage');

    // A model server with its own home loads the model from S3.
    const model = res.stages.train!.outputs.model as unknown as ArtifactRef;
    const transform = res.stages.prep!.outputs.transform as unknown as ArtifactRef;
    await new Registry(registryDir(homeServe)).update('s3-blobs', (e) => ({
      ...e,
      versions: [
        {
          version: 'v1',
          model,
          transform,
          createdAt: new Date().toISOString(),
          source: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, pipeline: 's3-pipeline', stage: 'train' },
        },
      ],
      traffic: { primary: 'v1' },
    }));
    const serve = spawn(process.execPath, ['bin/mlpipe.js', 'serve', '--port', '0'], {
      env: { ...process.env, MLPIPE_HOME: homeServe },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(async () => serve.kill('SIGKILL'));
    let out = '';
    serve.stdout.on('data', (d: Buffer) => (out += d.toString()));
    serve.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => /model server at (http:\S+)/.test(out), 60_000, 'the model server');
    expect(out).toContain(`artifacts ${storeUri}/`);
    const url = /model server at (http:\S+)/.exec(out)![1]!;
    const row = Object.fromEntries(Array.from({ length: 16 }, (_, j) => [`x${j}`, 0.5]));
    const r = await fetch(`${url}/v1/models/s3-blobs:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [row] }),
    });
    expect(r.status, out).toBe(200);
    const body = (await r.json()) as { version: string; predictions: { probabilities: number[] }[] };
    expect(body.version).toBe('v1');
    expect(body.predictions[0]!.probabilities).toHaveLength(4);
    serve.kill('SIGTERM');
    expect(existsSync(join(homeServe, 'artifacts'))).toBe(false);
  }, 420_000);
});

/**
 * Issue 12, "a cluster, tested as hosts": mlpipe's state lives where a cluster keeps it. Each host
 * is a network namespace of its own (test/support/netns.ts: veth pairs into a bridge, addresses
 * of the test's own) with an MLPIPE_HOME temp dir of its own; they share nothing but the network:
 *
 * - host A runs the cluster's services: a Temporal dev server of this file's own and an S3 server
 *   (SeaweedFS), both listening on A's address; the metadata database is the PostgreSQL of this
 *   machine, reached through a forwarder on the test's own bridge address (a schema of this test's
 *   own), so every host reaches it over the namespaces' network, never through loopback;
 * - hosts B and C each run a real `mlpipe worker`; C also serves the GPU queue (CPU backend, which
 *   its start-up line flags). A pipeline (synthetic collect → preprocess → train with checkpoints
 *   → evaluate → an evaluate that asks for a GPU → deploy) starts, and the host that is training
 *   (found from the pending activity's worker identity, `<pid>@<hostname>`) is lost: every process
 *   in its namespace SIGKILLed. The train stage resumes on another host from the checkpoint in S3
 *   (asserted from the workflow history), and the GPU stage ran on a GPU-queue host (a new one if
 *   C was the one lost);
 * - host D runs `mlpipe serve` on its own address with a home of its own and answers a prediction
 *   for the deployed version (the registry is read from the database, the model from S3);
 * - a replacement host E (a new worker, a new empty home) runs the same pipeline again and every
 *   cacheable stage is a cache hit on entries other hosts wrote;
 * - no host's home holds artifacts or a local metadata database;
 * - then 20 pipelines at once on two more hosts, all deploying the same model, all complete with
 *   20 distinct registry versions in the database and every artifact in S3.
 *
 * Without root or `ip`, the hosts are separate processes on loopback instead (the test prints why);
 * never a shared directory. What this does not test: more than one machine's kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { isArtifactRef, type ArtifactRef, type JsonValue } from '../../src/core/plan.ts';
import { closeDbs, openDb } from '../../src/db/index.ts';
import type { Plan } from '../../src/core/plan.ts';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.ts';
import { describeRun, startRun } from '../../src/temporal/runs.ts';
import { freshDb } from '../support/db.ts';
import { hosts as makeHosts, type Hosts } from '../support/netns.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/processes.ts';
import { startS3Server, type S3Server } from '../support/s3.ts';
import { killableTrainSpec } from '../support/specs.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const EPOCHS = 40;
const MODEL = 'cluster-blobs';
// The default queues (the cluster's Temporal server is this file's own): `check` asks for a GPU,
// so it goes to mlpipe-gpu, which only a GPU-queue host serves (its metrics differ from evaluate's,
// so the step cache cannot answer one with the other).
const spec = () =>
  killableTrainSpec({
    name: 'cluster-hosts',
    queue: 'mlpipe',
    samples: 4000,
    epochs: EPOCHS,
    extra: `  check:
    type: evaluate
    needs: [train]
    metrics: [accuracy, f1Macro]
    resources: { gpu: 1 }
  deploy:
    type: deploy
    needs: [evaluate, check, train]
    modelName: ${MODEL}
`,
  });

type Host = ChildProcess & { home: string; name: string; output: () => string };

const db = freshDb('postgres');
let net: Hosts;
let temporal: DevServer;
let s3: S3Server;
/** MLPIPE_DB as the hosts reach it: through the forwarder on the test's bridge address. */
let hostDbUrl: string;
const hosts: Host[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  net = await makeHosts(['a', 'b', 'c', 'c2', 'd', 'e', 'f', 'g']);
  cleanups.push(() => net.teardown());
  if (net.why) console.log(`cluster-hosts: ${net.why}`);
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-cluster-temporal-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  temporal = await startDevServer({
    dbFile: join(dir, 'temporal.db'),
    ip: net.ip('a'),
    port: await freePort(),
    uiPort: null,
    wrap: net.wrap('a'),
    // In its namespace: all of A's addresses (its internal services dial each other on A's loopback).
    ...(net.mode === 'netns' ? { bind: '0.0.0.0' } : {}),
  });
  cleanups.push(() => temporal.stop(2_000));
  s3 = await startS3Server({ ip: net.ip('a'), wrap: net.wrap('a') });
  cleanups.push(() => s3.stop());
  const pg = new URL(db.url);
  pg.port = String(await net.forward({ host: pg.hostname, port: Number(pg.port || 5432) }));
  pg.hostname = net.selfIp;
  hostDbUrl = pg.toString();
}, 180_000);
afterAll(async () => {
  for (const h of hosts) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await closeDbs();
  await db.drop();
  for (const h of hosts) rmSync(h.home, { recursive: true, force: true });
});

/** `mlpipe <args>` on host `name`: its namespace, a home of its own; only the cluster's settings in common. */
function host(name: string, args: string[], cluster: Record<string, string>): Host {
  const home = mkdtempSync(join(tmpdir(), `mlpipe-cluster-${name}-`));
  const [cmd, ...argv] = [...net.wrap(name), process.execPath, 'bin/mlpipe.js', ...args];
  const child = spawn(cmd!, argv, {
    env: { ...process.env, ...cluster, MLPIPE_HOME: home, MLPIPE_SERVE_AUTOSTART: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as Host;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  Object.assign(child, { home, name, output: () => out });
  hosts.push(child);
  return child;
}

const worker = (name: string, cluster: Record<string, string>, o: { gpu?: boolean } = {}) =>
  host(name, ['worker', '--address', temporal.address, ...(o.gpu ? [] : ['--no-gpu-queue']), '--shutdown-grace', '1s'], cluster);
// `ip netns exec` execs the command: the child's pid is the worker's.
const identity = (h: Host) => `${h.pid}@${hostname()}`;
const start = (env: TestEnv, plan: Plan) => startRun(env.client, { plan, taskQueue: 'mlpipe' });
const polling = (h: Host) => waitFor(() => /state: 'RUNNING'/.test(h.output()), 60_000, `host ${h.name}'s worker polling`);

/** Host `h` lost: every process in its namespace (on loopback: its process) SIGKILLed. */
async function lose(h: Host): Promise<void> {
  const exited = new Promise((r) => h.once('exit', r));
  if (net.mode === 'netns') net.kill(h.name);
  else h.kill('SIGKILL');
  await exited;
}

async function stop(h: Host, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (h.exitCode !== null || h.signalCode !== null) return;
  const exited = new Promise((r) => h.once('exit', r));
  h.kill(signal);
  await exited;
}

describe('a cluster of hosts with no shared filesystem', () => {
  it('loses the training host and resumes on another from S3; serves from the database and S3; caches across hosts', async () => {
    const bucket = await s3.bucket('cluster');
    const storeUri = `s3://${bucket}/mlpipe`;
    const cluster = { ...s3.env, MLPIPE_STORE: storeUri, MLPIPE_DB: hostDbUrl };
    const store = new S3ArtifactStore(storeUri, { env: s3.env, spillDir: join(tmpdir(), 'mlpipe-s3-spill') });

    const env: TestEnv = await testEnv('cluster-hosts', { worker: false, address: temporal.address });
    cleanups.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-cluster-hosts-'));
    writeFileSync(join(dir, 'p.yaml'), spec());
    const { plan } = await compileFile(join(dir, 'p.yaml'));

    const b = worker('b', cluster);
    const c = worker('c', cluster, { gpu: true });
    for (const h of [b, c]) await polling(h);
    expect(c.output()).toContain('serves the GPU queue without a CUDA backend');
    expect(b.output()).not.toContain('mlpipe-gpu');
    const handle = await start(env, plan);

    // Find the host that is training, once a checkpoint of it is in S3, and kill it.
    let seenEpoch = 0;
    let trainer: Host | undefined;
    let lastSeen = '';
    await waitFor(
      async () => {
        const v = await describeRun(env.client, handle.workflowId).catch(() => undefined);
        seenEpoch = v?.live.train?.progress?.epoch ?? 0;
        if (seenEpoch < 2) return false;
        const pa = (await handle.describe()).raw.pendingActivities?.find((p) => p.activityId?.startsWith('train'));
        const payload = pa?.heartbeatDetails?.payloads?.[0];
        if (!payload) return false;
        const details = env.client.options.loadedDataConverter.payloadConverter.fromPayload<{ checkpoint?: { ref?: unknown } }>(payload);
        lastSeen = `epoch ${seenEpoch}, identity ${pa?.lastWorkerIdentity}, hosts ${identity(b)} ${identity(c)}`;
        trainer = [b, c].find((h) => identity(h) === pa?.lastWorkerIdentity);
        return trainer !== undefined && isArtifactRef(details.checkpoint?.ref);
      },
      120_000,
      'a checkpoint in S3 from the training host',
      100,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last seen: ${lastSeen || `epoch ${seenEpoch}`})\nb: ${b.output()}\nc: ${c.output()}`);
    });
    const survivor = trainer === b ? c : b;
    await lose(trainer!);
    expect(seenEpoch, 'training finished before the kill: make it longer').toBeLessThan(EPOCHS - 2);
    // The GPU stage needs a GPU-queue host: if C was lost, a new one takes its place.
    const gpuHosts = [c];
    if (trainer === c) {
      const c2 = worker('c2', cluster, { gpu: true });
      gpuHosts.push(c2);
      await polling(c2);
    }
    const live = [survivor, ...gpuHosts.slice(1)];

    const res = await handle.result();
    expect(Object.fromEntries(Object.entries(res.stages).map(([k, s]) => [k, s.status]))).toEqual({
      data: 'succeeded',
      prep: 'succeeded',
      train: 'succeeded',
      evaluate: 'succeeded',
      check: 'succeeded',
      deploy: 'succeeded',
    });
    expect(res.stages.train!.attempts).toBeGreaterThanOrEqual(2);

    // The history: the train activity's last attempt started on the surviving host.
    const history = await handle.fetchHistory();
    const scheduled = new Map<string, string>();
    const started: { stage: string; identity: string; attempt: number }[] = [];
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityId) scheduled.set(String(e.eventId), s.activityId);
      const st = e.activityTaskStartedEventAttributes;
      if (st)
        started.push({ stage: scheduled.get(String(st.scheduledEventId)) ?? '', identity: st.identity ?? '', attempt: st.attempt ?? 0 });
    }
    const trainStart = started.find((s) => s.stage.startsWith('train'));
    expect(trainStart, JSON.stringify(started)).toBeDefined();
    expect(trainStart!.identity).not.toBe(identity(trainer!));
    expect(trainStart!.attempt).toBeGreaterThanOrEqual(2);
    const workers = [b, ...gpuHosts];
    for (const s of started) expect(workers.map(identity)).toContain(s.identity); // ran on the hosts, nowhere else
    const check = started.find((s) => s.stage.startsWith('check'));
    expect(gpuHosts.map(identity), 'the GPU stage ran on a GPU-queue host').toContain(check?.identity);
    const name = (id: string) => workers.find((h) => identity(h) === id)?.name ?? '?';
    const summary = JSON.parse((await store.get(res.stages.train!.outputs.history as unknown as ArtifactRef)).toString()) as {
      resumedFromEpoch: number;
      epochs: number;
    };
    console.log(
      `cluster-hosts: host ${trainer!.name} killed at epoch ${seenEpoch}; host ${survivor.name} resumed ` +
        `from epoch ${summary.resumedFromEpoch}; ` +
        `stages ran on ${started.map((s) => `${s.stage}@${name(s.identity)}#${s.attempt}`).join(', ')} (${net.mode})`,
    );
    expect(summary.resumedFromEpoch).toBeGreaterThan(0);
    expect(summary.resumedFromEpoch).toBeGreaterThanOrEqual(seenEpoch - 1); // at most one checkpoint interval lost
    expect(summary.epochs).toBe(EPOCHS);

    // Every artifact is in S3.
    const refs = Object.values(res.stages)
      .flatMap((s) => Object.values(s.outputs))
      .filter((v): v is ArtifactRef & JsonValue => isArtifactRef(v));
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const r of refs) {
      expect(r.uri.startsWith(`s3://${bucket}/mlpipe/`)).toBe(true);
      expect(await store.stat(r)).toEqual({ sizeBytes: r.sizeBytes });
    }
    // The registry is in the database.
    const version = res.stages.deploy!.outputs.version as string;
    const rows = await (await openDb(db.url)).all<{ stage: string }>('SELECT stage FROM step_cache ORDER BY stage');
    expect(rows.map((r) => r.stage)).toEqual(expect.arrayContaining(['data', 'prep', 'train']));

    // Host D serves the deployed version: the registry from the database, the model from S3.
    const d = host('d', ['serve', '--host', net.ip('d'), '--port', '0'], cluster);
    await waitFor(() => /model server at (http:\S+)/.test(d.output()), 60_000, 'the model server on host D');
    expect(d.output()).toContain(`artifacts ${storeUri}`);
    const url = /model server at (http:\S+)/.exec(d.output())![1]!;
    const row = Object.fromEntries(Array.from({ length: 16 }, (_, j) => [`x${j}`, 0.5]));
    let r: Response | undefined;
    await waitFor(
      async () => {
        r = await fetch(`${url}/v1/models/${MODEL}:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [row] }),
        });
        return r.status === 200;
      },
      30_000,
      `a prediction from host D (${d.output()})`,
    );
    const body = (await r!.json()) as { version: string; predictions: { probabilities: number[] }[] };
    expect(body.version).toBe(version);
    expect(body.predictions[0]!.probabilities).toHaveLength(4);
    await stop(d);

    // A replacement for the killed host (a new worker, an empty home) runs the pipeline again,
    // alone: every cacheable stage is a hit on what the other hosts wrote.
    for (const h of live) await stop(h);
    const e = worker('e', cluster, { gpu: true });
    const again = await (await start(env, plan)).result();
    await stop(e);
    const cacheable = plan.nodes.filter((n) => n.cache.enabled).map((n) => n.id);
    expect(cacheable).toEqual(expect.arrayContaining(['data', 'prep', 'train']));
    for (const id of cacheable) expect(again.stages[id]!.cached, id).toBe(true);
    expect(again.stages.train!.outputs.model).toEqual(res.stages.train!.outputs.model);
    expect(again.stages.deploy!.status).toBe('succeeded'); // a deploy is never cached

    // No host kept an artifact or a metadata database of its own.
    for (const h of [...workers, d, e]) {
      expect(existsSync(join(h.home, 'artifacts')), `host ${h.name}: ${h.home}/artifacts`).toBe(false);
      expect(existsSync(join(h.home, 'metadata.db')), `host ${h.name}: ${h.home}/metadata.db`).toBe(false);
    }
  }, 300_000);

  it('20 pipelines at once across two hosts all complete, with no duplicate registry versions', async () => {
    const bucket = await s3.bucket('many');
    const storeUri = `s3://${bucket}/mlpipe`;
    const cluster = { ...s3.env, MLPIPE_STORE: storeUri, MLPIPE_DB: hostDbUrl };
    const store = new S3ArtifactStore(storeUri, { env: s3.env, spillDir: join(tmpdir(), 'mlpipe-s3-spill') });
    const env: TestEnv = await testEnv('cluster-many', { worker: false, address: temporal.address });
    cleanups.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-cluster-many-'));
    const plans = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const file = join(dir, `p${i}.yaml`);
        writeFileSync(
          file,
          `apiVersion: mlpipe/v1
metadata: { name: cluster-many }
defaults:
  retry: { maxAttempts: 5, initialInterval: 200ms }
stages:
  data: { type: collect, source: { type: synthetic, generator: blobs, samples: 120, features: 4, classes: 3, seed: ${i + 1} } }
  prep: { type: preprocess, needs: [data], steps: [{ type: standardize }] }
  fit:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 3, activation: softmax }] }
    optimizer: { type: adam }
    loss: sparseCategoricalCrossentropy
    epochs: 2
  ship: { type: deploy, needs: [fit], modelName: cluster-many }
`,
        );
        return (await compileFile(file)).plan;
      }),
    );
    const f = worker('f', cluster);
    const g = worker('g', cluster);
    for (const h of [f, g]) await polling(h);
    const handles = await Promise.all(plans.map((p) => start(env, p)));
    const results = await Promise.all(handles.map((h) => h.result()));
    await Promise.all([stop(f), stop(g)]);

    for (const r of results) for (const [id, s] of Object.entries(r.stages)) expect(s.status, id).toBe('succeeded');
    const versions = results.map((r) => r.stages.ship!.outputs.version as string);
    expect(new Set(versions).size).toBe(20);
    const rows = await (await openDb(db.url)).all<{ version: string }>("SELECT version FROM model_versions WHERE model = 'cluster-many'");
    expect(rows.map((r) => r.version).sort()).toEqual([...versions].sort());
    // Nothing missing from the store.
    for (const r of results) {
      for (const ref of Object.values(r.stages)
        .flatMap((s) => Object.values(s.outputs))
        .filter((v): v is ArtifactRef & JsonValue => isArtifactRef(v))) {
        expect(ref.uri.startsWith(`s3://${bucket}/mlpipe/`)).toBe(true);
        expect(await store.stat(ref)).toEqual({ sizeBytes: ref.sizeBytes });
      }
    }
    // Both hosts took part (each polls the queue; twenty runs' activities spread over them).
    const identities = new Set<string>();
    for (const h of handles) {
      for (const e of (await h.fetchHistory()).events ?? []) {
        const id = e.activityTaskStartedEventAttributes?.identity;
        if (id) identities.add(id);
      }
    }
    expect([...identities].sort()).toEqual([identity(f), identity(g)].sort());
    for (const h of [f, g]) expect(existsSync(join(h.home, 'artifacts')), `host ${h.name}`).toBe(false);
  }, 300_000);
});

/**
 * Issue 13, throughput: `mlpipe serve --workers 2`, the real command in its own process. Both
 * worker processes answer on the one port; /metrics counts every worker's requests; readiness
 * fails while a worker is missing (one killed) and returns once the primary has replaced it; a
 * deploy under a bounded load from another process swaps the model with zero failed requests;
 * SIGTERM drains a request in flight, then every process exits and _server.json is gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { findServer } from '../../src/serving/local.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { serverFile } from '../../src/serving/server.ts';
import { waitFor } from '../support/processes.ts';
import { deployInput, irisArtifacts } from '../support/serving.ts';
import { startLoad } from '../support/load.ts';

let a: Awaited<ReturnType<typeof irisArtifacts>>;
let registry: Registry;
let models: ArtifactRef[];
let child: ChildProcess;
let log = '';
let base: string;

const deploy = (config: object, model: ArtifactRef, stage: string) =>
  deployCore(deployInput({ modelName: 'iris', ...config } as never, { model, transform: a.transform }, a.workflowId, stage), a.env, {
    registry,
    autostart: false,
  });

const ROW = { sepal_length: 6.3, sepal_width: 2.8, petal_length: 5.1, petal_width: 1.5 };

/** One request on a connection of its own (the cluster hands out connections, not requests). */
function once(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((res, rej) => {
    const req = request(
      `${base}${path}`,
      { method, agent: false, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} },
      (r) => {
        let t = '';
        r.on('data', (d) => (t += d));
        r.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(t);
          } catch {
            json = undefined;
          }
          res({ status: r.statusCode!, json, text: t });
        });
      },
    );
    req.on('error', rej);
    // A connection the primary handed to a worker at the moment it was killed is never answered.
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer to ${method} ${path} within 5 s`)));
    req.end(text);
  });
}

async function workerPids(n = 24): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < n; i++) pids.add((await once('GET', '/healthz')).json.worker.pid);
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  a = await irisArtifacts('workers/run-1');
  models = [await a.train(), await a.train({ seed: 2 })];
  registry = new Registry(registryDir(a.home));
  await deploy({ strategy: { type: 'replace' } }, models[0]!, 'deploy-v1');
  child = spawn(
    process.execPath,
    [resolve('bin/mlpipe.js'), 'serve', '--workers', '2', '--port', '0', '--store', join(a.root, 'artifacts')],
    {
      env: { ...process.env, MLPIPE_HOME: a.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  await waitFor(
    () => findServer(registry)?.pid === child.pid || child.exitCode !== null,
    120_000,
    'mlpipe serve --workers 2 to advertise itself',
    100,
  );
  if (child.exitCode !== null) throw new Error(`mlpipe serve exited: ${log}`);
  base = findServer(registry)!.url;
  await waitFor(async () => (await once('GET', '/readyz')).status === 200, 120_000, 'readiness', 100);
}, 240_000);

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

describe('mlpipe serve --workers 2', () => {
  it('both workers answer on one port; /metrics counts the requests of every worker', async () => {
    expect(log).toMatch(/2 worker processes/);
    const pids = await workerPids();
    expect(pids.size).toBe(2);
    expect(pids.has(child.pid!)).toBe(false);
    const count = async () => {
      const text = (await once('GET', '/metrics')).text;
      const m = /^mlpipe_serving_requests_total\{route="mlpipe:predict",model="iris",version="v1",code="200"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 10; i++) {
      const r = await once('POST', '/v1/models/iris:predict', { instances: [ROW] });
      expect(r.status).toBe(200);
      expect(r.json.version).toBe('v1');
    }
    expect((await count()) - before).toBe(10);
    // The readiness gauge is the minimum over the workers, the traffic split one copy of it.
    const text = (await once('GET', '/metrics')).text;
    expect(text).toMatch(/^mlpipe_serving_ready 1$/m);
    expect(text).toMatch(/^mlpipe_serving_traffic_weight_percent\{model="iris",version="v1"\} 100$/m);
  }, 60_000);

  it('a worker that dies makes the others unready until the primary has started it again', async () => {
    const [victim] = [...(await workerPids())];
    process.kill(victim!, 'SIGKILL');
    // Probes every 50 ms without waiting for the one before: a connection handed to the killed
    // worker hangs, and must not hide the survivor's answers while the replacement boots.
    let seen: { status: number; json: any } | undefined;
    const probes: Promise<unknown>[] = [];
    await waitFor(
      () => {
        probes.push(
          once('GET', '/readyz').then(
            (r) => r.status === 503 && (seen ??= r),
            () => undefined,
          ),
        );
        return !!seen;
      },
      60_000,
      'readiness to fail while a worker is missing',
      50,
    );
    await Promise.all(probes);
    expect(seen!.json.reasons.join('\n')).toMatch(/^worker \d: starting$/m);
    await waitFor(async () => (await once('GET', '/readyz').catch(() => undefined))?.status === 200, 120_000, 'readiness to return', 100);
    const pids = await workerPids();
    expect(pids.size).toBe(2);
    expect(pids.has(victim!)).toBe(false);
    expect(log).toMatch(/worker \d \(pid \d+\) exited \(SIGKILL\); starting it again/);
  }, 180_000);

  it('a deploy under load from another process: every worker swaps to the new version, zero failed requests', async () => {
    const load = startLoad(base, '/v1/models/iris:predict', { instances: [ROW, ROW, ROW] }, { connections: 8, rate: 300 });
    let done: Awaited<ReturnType<typeof load.stop>>;
    try {
      await load.sawVersion('v1');
      await load.more(200);
      await deploy({ strategy: { type: 'replace' } }, models[1]!, 'deploy-v2');
      await load.sawVersion('v2');
      // Both workers follow the registry: once each has swapped, only v2 answers.
      await waitFor(
        async () => {
          const answers = await Promise.all(Array.from({ length: 8 }, () => once('POST', '/v1/models/iris:predict', { instances: [ROW] })));
          return answers.every((r) => r.json?.version === 'v2');
        },
        60_000,
        'every worker to answer with v2',
        100,
      );
      await load.more(300);
    } finally {
      done = await load.stop().catch((e) => {
        load.kill();
        throw e;
      });
    }
    expect({ non2xx: done.non2xx, errors: done.errors, timeouts: done.timeouts, resets: done.resets }).toEqual({
      non2xx: 0,
      errors: 0,
      timeouts: 0,
      resets: 0,
    });
    expect(done.ok).toBe(done.requests);
    expect(Object.keys(done.versions).sort()).toEqual(['v1', 'v2']);
    expect(new Set(done.tail)).toEqual(new Set(['v2']));
  }, 240_000);

  it('SIGTERM drains: a request in flight is answered, then the workers and the primary exit', async () => {
    const pids = [...(await workerPids())];
    const body = JSON.stringify({ instances: [ROW] });
    const answer = new Promise<{ status: number; body: string }>((res, rej) => {
      const req = request(
        `${base}/v1/models/iris:predict`,
        { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (r) => {
          let t = '';
          r.on('data', (d) => (t += d));
          r.on('end', () => res({ status: r.statusCode!, body: t }));
        },
      );
      req.on('error', rej);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 500);
      }, 300);
    });
    const r = await answer;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).version).toBe('v2');
    const code = await new Promise<number | null>((res) =>
      child.exitCode !== null ? res(child.exitCode) : child.once('exit', (c) => res(c)),
    );
    expect(code).toBe(0);
    expect(existsSync(serverFile(registry))).toBe(false);
    await waitFor(() => pids.every((p) => !alive(p)), 20_000, 'the workers to exit', 100);
  }, 60_000);
});

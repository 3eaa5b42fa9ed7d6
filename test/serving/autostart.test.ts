import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import { localTokenFile, readTokenFile } from '../../src/serving/auth.ts';
import { findServer } from '../../src/serving/local.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { bearer, deployInput, get, irisArtifacts, post } from '../support/serving.ts';

let pid: number | undefined;
afterAll(() => {
  if (pid) process.kill(pid, 'SIGTERM'); // the server this test started (its own process)
});

describe('local mode: deploy with no server running', () => {
  it('starts `mlpipe serve` detached; the server outlives the deploy and answers at the returned endpoint', async () => {
    const a = await irisArtifacts('autostart/run-1');
    const registry = new Registry(registryDir(a.home));
    const model = await a.train();
    // The spawned server reads artifacts from the default store under MLPIPE_HOME: use that store.
    const { defaultStore } = await import('../../src/artifacts/index.ts');
    const store = defaultStore();
    const copy = async (r: typeof model) =>
      store.put(await a.env.store.get(r), {
        kind: r.kind,
        lineage: { workflowId: a.workflowId, runId: 'r1', pipeline: 'test', stage: 'x', attempt: 1, planHash: 'h', inputs: {} },
      });
    const [m, t] = [await copy(model), await copy(a.transform)];
    const d = await deployCore(
      deployInput({ modelName: 'iris', server: { port: 0 } }, { model: m, transform: t }, a.workflowId),
      { ...a.env, store },
      { registry, autostart: true },
    );
    const info = findServer(registry)!;
    pid = info.pid;
    expect(info.pid).not.toBe(process.pid);
    expect(d.outputs.endpoint).toBe(`${info.url}/v1/models/iris`);
    let r = await post(`${d.outputs.endpoint}:predict`, {
      instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }],
    });
    for (let i = 0; r.status === 404 && i < 100; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await post(`${d.outputs.endpoint}:predict`, {
        instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }],
      });
    }
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ version: 'v1', predictions: [{ label: expect.any(String) }] });
    // It has a token (beside the registry, owner-only), so monitor can read its request log.
    expect(info.auth).toBe(true);
    const tokenFile = localTokenFile(registry.dir);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect((await fetch(`${d.outputs.endpoint}/recent`)).status).toBe(401);
    expect((await get(`${d.outputs.endpoint}/recent`, bearer(readTokenFile(tokenFile)))).rows).toHaveLength(1);
    // A second deploy reuses the running server rather than starting another.
    const d2 = await deployCore(
      deployInput({ modelName: 'iris' }, { model: m, transform: t }, a.workflowId, 'deploy-2'),
      { ...a.env, store },
      { registry, autostart: true },
    );
    expect(findServer(registry)!.pid).toBe(pid);
    expect(d2.outputs.endpoint).toBe(d.outputs.endpoint);
  }, 90_000);
});

/**
 * Issue 10 item 8: a deploy is all or nothing. A real deploy registers its version and then fails
 * (the model server it starts in local mode cannot bind its port, which this test holds): the
 * version is withdrawn and the traffic it took goes back, so no failed deploy leaves a version
 * serving. A retry registers it again.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { findServer } from '../../src/serving/local.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { deployInput, irisArtifacts } from '../support/serving.ts';

let a: Awaited<ReturnType<typeof irisArtifacts>>;
let registry: Registry;
let models: ArtifactRef[];
let blocker: Server;
let port: number;

beforeAll(async () => {
  a = await irisArtifacts('atomic/run-1');
  registry = new Registry(registryDir(a.home));
  models = [await a.train(), await a.train({ seed: 2 }), await a.train({ seed: 3 })];
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  port = (blocker.address() as { port: number }).port;
}, 120_000);

afterAll(() => {
  blocker?.close();
});

const deploy = (config: JsonObject, model: ArtifactRef, stage: string, autostart: boolean) =>
  deployCore(deployInput({ modelName: 'iris', ...config }, { model, transform: a.transform }, a.workflowId, stage), a.env, {
    registry,
    autostart,
  });

describe('deploy is all or nothing', () => {
  it('a deploy that fails after registering withdraws its version and gives the traffic back', async () => {
    await deploy({}, models[0]!, 'deploy-1', false);
    await deploy({ strategy: { type: 'canary', weight: 10 } }, models[1]!, 'deploy-2', false);
    const before = (await registry.get('iris'))!;
    expect(before.traffic).toMatchObject({ primary: 'v1', candidate: { version: 'v2', weight: 10 } });
    expect(findServer(registry)).toBeUndefined();

    // Replace: v3 becomes primary, then the server it starts on the held port fails.
    const err = await deploy({ strategy: { type: 'replace' }, server: { port } }, models[2]!, 'deploy-3', true).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/the model server did not start; see .*serve\.log/);
    let after = (await registry.get('iris'))!;
    expect(after.versions.map((v) => v.version)).toEqual(['v1', 'v2']);
    expect(after.traffic).toEqual(before.traffic);
    expect(after.events.at(-1)).toMatchObject({
      event: 'withdrawn (deploy failed)',
      version: 'v3',
      reason: expect.stringMatching(/did not start/),
    });

    // Canary over a canary: the earlier candidate comes back.
    await expect(deploy({ strategy: { type: 'canary', weight: 50 }, server: { port } }, models[2]!, 'deploy-4', true)).rejects.toThrow(
      /did not start/,
    );
    after = (await registry.get('iris'))!;
    expect(after.versions.map((v) => v.version)).toEqual(['v1', 'v2']);
    expect(after.traffic).toEqual(before.traffic);

    // The retry (nothing in the way now) registers the version again.
    const ok = await deploy({ strategy: { type: 'replace' } }, models[2]!, 'deploy-3', false);
    expect(ok.outputs.version).toBe('v3');
    expect((await registry.get('iris'))!.traffic).toEqual({ primary: 'v3' });
  }, 120_000);
});

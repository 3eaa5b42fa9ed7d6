/**
 * Issue 13, throughput: hot swap and canary promotion under load. While a second process sends a
 * bounded autocannon load, deploys (deployCore, as the deploy stage does) replace v1 by v2, then
 * put v3 in as a 50% canary that the server promotes when its duration ends. Not one request may
 * fail (0 non-2xx, 0 errors, 0 timeouts), and the answers move to v2, then to v3 alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { waitFor } from '../support/processes.ts';
import { deployInput, irisArtifacts, waitRevision } from '../support/serving.ts';
import { startLoad } from '../support/load.ts';

let a: Awaited<ReturnType<typeof irisArtifacts>>;
let registry: Registry;
let models: ArtifactRef[];
let server: ModelServer;
let base: string;

const deploy = (config: object, model: ArtifactRef, stage: string) =>
  deployCore(deployInput({ modelName: 'iris', ...config } as never, { model, transform: a.transform }, a.workflowId, stage), a.env, {
    registry,
    autostart: false,
  });

beforeAll(async () => {
  a = await irisArtifacts('hot-swap/run-1');
  models = [await a.train(), await a.train({ seed: 2 }), await a.train({ seed: 3 })];
  registry = new Registry(registryDir(a.home));
  await deploy({ strategy: { type: 'replace' } }, models[0]!, 'deploy-v1');
  server = new ModelServer({ registry, store: a.env.store, pollMs: 50, seed: 3, advertise: false });
  base = await server.start();
  await waitRevision(base, 'iris', 1);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

const ROW = { sepal_length: 5.9, sepal_width: 3.0, petal_length: 4.2, petal_width: 1.5 };

describe('hot swap and canary promotion under load', () => {
  it('replace, then a canary promoted after its duration: zero failed requests, answers move to the new version', async () => {
    const load = startLoad(base, '/v1/models/iris:predict', { instances: [ROW, ROW] });
    let done: Awaited<ReturnType<typeof load.stop>>;
    try {
      await load.sawVersion('v1');
      await load.more(200);
      const d2 = await deploy({ strategy: { type: 'replace' } }, models[1]!, 'deploy-v2');
      expect(d2.outputs.version).toBe('v2');
      await load.sawVersion('v2');
      await load.more(200);
      await deploy(
        { strategy: { type: 'canary', weight: 50, duration: '1500ms' }, rollback: { errorRateAbove: 0.01 } },
        models[2]!,
        'deploy-v3',
      );
      await load.sawVersion('v3');
      // The server promotes the healthy canary once its duration has passed.
      await waitFor(async () => (await registry.get('iris'))!.traffic.primary === 'v3', 60_000, 'v3 promoted', 100);
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
    expect(Object.keys(done.versions).sort()).toEqual(['v1', 'v2', 'v3']);
    // v1 stopped answering once v2 took over; after the promotion v3 answers alone.
    expect(done.versions.v1!.last).toBeLessThan(done.versions.v3!.first);
    expect(done.tail).toHaveLength(100);
    expect(new Set(done.tail)).toEqual(new Set(['v3']));
    const e = (await registry.get('iris'))!;
    expect(e.traffic).toMatchObject({ primary: 'v3' });
    expect(e.traffic.candidate).toBeUndefined();
    expect(e.events.map((x) => x.event)).toContain('promoted');
  }, 240_000);
});

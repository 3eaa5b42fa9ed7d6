// `mlpipe models promote|rollback` against a running model server, both database backends: real
// deploys register v1 and a v2 canary, the CLI changes the registry, and the server (polling the
// same database) answers with the version the CLI chose.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import { main } from '../../src/cli/main.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { closeDbs } from '../../src/db/index.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { BACKENDS, freshDb, type TestDb } from '../support/db.ts';
import { deployInput, irisArtifacts, post, waitRevision } from '../support/serving.ts';

let a: Awaited<ReturnType<typeof irisArtifacts>>;
let models: ArtifactRef[];
const made: TestDb[] = [];

beforeAll(async () => {
  a = await irisArtifacts('models-cli/run-1');
  models = [await a.train(), await a.train({ seed: 2 })];
}, 120_000);

afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
  delete process.env.MLPIPE_DB;
});

async function mlpipe(...args: string[]): Promise<number> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return await main(['node', 'mlpipe', ...args]);
  } finally {
    out.mockRestore();
  }
}

describe.each(BACKENDS)('mlpipe models with a running server on %s', (backend) => {
  it('a promotion and a rollback made from the CLI reach the server', async () => {
    const db = freshDb(backend);
    made.push(db);
    const registry = new Registry(registryDir(a.home), db.url);
    const deploy = (config: object, model: ArtifactRef, stage: string) =>
      deployCore(deployInput({ modelName: 'iris', ...config } as never, { model, transform: a.transform }, a.workflowId, stage), a.env, {
        registry,
        autostart: false,
      });
    await deploy({ strategy: { type: 'replace' } }, models[0]!, 'deploy-1');
    await deploy({ strategy: { type: 'canary', weight: 50 } }, models[1]!, 'deploy-2');
    const server = new ModelServer({ registry, store: a.env.store, seed: 7, pollMs: 50, advertise: false });
    const base = await server.start();
    try {
      const row = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
      const served = async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) seen.add((await post(`${base}/v1/models/iris:predict`, { instances: [row] })).json.version as string);
        return [...seen].sort();
      };
      expect(await served()).toEqual(['v1', 'v2']); // the 50% canary

      expect(await mlpipe('models', 'promote', 'iris', '--db', db.url)).toBe(0);
      await waitRevision(base, 'iris', 3);
      expect(await served()).toEqual(['v2']);

      expect(await mlpipe('models', 'rollback', 'iris', '--db', db.url)).toBe(0);
      await waitRevision(base, 'iris', 4);
      expect(await served()).toEqual(['v1']);
      expect((await registry.history('iris')).map((e) => `${e.event} ${e.version}`)).toEqual([
        'deployed (primary) v1',
        'deployed (canary) v2',
        'promoted v2',
        'rolledBack v1',
      ]);
    } finally {
      await server.stop();
    }
  }, 120_000);
});

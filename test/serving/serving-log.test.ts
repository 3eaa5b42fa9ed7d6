/**
 * Issue 13, operations: request metrics and the request log survive a server restart, through the
 * metadata database (migration 3), on SQLite and PostgreSQL. A second server on the same database
 * starts with the first one's per-version metrics (requests, errors, feedback accuracy) and rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCore } from '../../activities/deploy.ts';
import { closeDbs } from '../../src/db/index.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { BACKENDS, freshDb, type TestDb } from '../support/db.ts';
import { bearer, deployInput, get, irisArtifacts, post, waitRevision } from '../support/serving.ts';

const TOKEN = 'serving-log-test-token-0123456789';
let a: Awaited<ReturnType<typeof irisArtifacts>>;
const made: TestDb[] = [];

beforeAll(async () => {
  a = await irisArtifacts('serving-log/run-1');
}, 120_000);

afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
});

const ROWS = [
  { id: 'a', sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  { id: 'b', sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 },
];

describe.each(BACKENDS)('serving log on %s', (backend) => {
  it('a restarted server keeps the metrics and the request rows', async () => {
    const db = freshDb(backend);
    made.push(db);
    const registry = new Registry(registryDir(a.home), db.url);
    const model = await a.train();
    await deployCore(deployInput({ modelName: 'iris' }, { model, transform: a.transform }, a.workflowId, `deploy-${backend}`), a.env, {
      registry,
      autostart: false,
    });
    const first = new ModelServer({ registry, store: a.env.store, pollMs: 50, advertise: false, authToken: TOKEN });
    let url = await first.start();
    await waitRevision(url, 'iris', 1);
    for (let i = 0; i < 3; i++) expect((await post(`${url}/v1/models/iris:predict`, { instances: ROWS })).status).toBe(200);
    const labelled = await post(`${url}/v1/models/iris:predict`, { instances: [ROWS[0]], labels: ['setosa'] }, bearer(TOKEN));
    expect(labelled.status).toBe(200);
    const before = (await get(`${url}/v1/models/iris/metrics`)).versions.v1;
    expect(before).toMatchObject({ requests: 4, errors: 0, labelled: 1 });
    await first.stop();

    const second = new ModelServer({ registry, store: a.env.store, pollMs: 50, advertise: false, authToken: TOKEN });
    url = await second.start();
    try {
      const after = (await get(`${url}/v1/models/iris/metrics`)).versions.v1;
      expect(after).toEqual(before);
      const recent = await get(`${url}/v1/models/iris/recent?window=1h`, bearer(TOKEN));
      expect(recent.rows.map((r: { row: unknown }) => r.row)).toEqual([...ROWS, ...ROWS, ...ROWS, ROWS[0]]);
      expect(recent.rows.every((r: { version: string }) => r.version === 'v1')).toBe(true);
      // New requests add to what was restored.
      expect((await post(`${url}/v1/models/iris:predict`, { instances: [ROWS[1]] })).status).toBe(200);
      expect((await get(`${url}/v1/models/iris/metrics`)).versions.v1.requests).toBe(5);
    } finally {
      await second.stop();
    }
    const third = new ModelServer({ registry, store: a.env.store, pollMs: 50, advertise: false, persistLog: false });
    url = await third.start();
    try {
      expect((await get(`${url}/v1/models/iris/metrics`)).versions).toEqual({});
    } finally {
      await third.stop();
    }
  }, 120_000);
});

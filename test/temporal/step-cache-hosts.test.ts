/**
 * Issue 12: the step cache is shared by the hosts of a cluster. On the suite's dev server, two
 * workers, each with a home of its own (nothing on disk in common) but the same metadata
 * database (a PostgreSQL schema of the test's own) and artifact store, run the same pipeline one
 * after the other: the second host's run takes every stage from the cache the first one wrote.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import { closeDbs, openDb } from '../../src/db/index.ts';
import { tempDir } from '../support/data.ts';
import { freshDb } from '../support/db.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const db = freshDb('postgres');
const saved = { MLPIPE_STORE: process.env.MLPIPE_STORE, MLPIPE_DB: process.env.MLPIPE_DB };
let hosts: TestEnv[] = [];
beforeAll(async () => {
  // What each host's `mlpipe worker` would be given (the workers here share one process).
  process.env.MLPIPE_STORE = join(tempDir('mlpipe-shared-store-'), 'artifacts');
  process.env.MLPIPE_DB = db.url;
  hosts = [await testEnv('cache-host-a'), await testEnv('cache-host-b')];
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await closeDbs();
  await db.drop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const SPEC = `apiVersion: mlpipe/v1
metadata: { name: cache-hosts }
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 100, features: 3, classes: 2, seed: 7 }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: standardize }, { type: split, train: 0.8, test: 0.2, seed: 1 }]
`;

describe('the step cache across hosts', () => {
  it('a run on host B hits the cache host A wrote: same database and store, different homes', async () => {
    const file = join(tempDir('mlpipe-cache-hosts-'), 'p.yaml');
    writeFileSync(file, SPEC);
    const { plan } = await compileFile(file);
    const [a, b] = hosts as [TestEnv, TestEnv];
    expect(a.home).not.toBe(b.home);

    const first = await (await a.start(plan)).result();
    expect(first.stages.data!.cached).toBeFalsy();
    expect(first.stages.prep!.cached).toBeFalsy();

    const rows = await (await openDb(db.url)).all<{ stage: string }>('SELECT stage FROM step_cache ORDER BY stage');
    expect(rows.map((r) => r.stage)).toEqual(['data', 'prep']); // in the shared database

    const second = await (await b.start(plan)).result();
    expect(second.stages.data!.cached).toBe(true);
    expect(second.stages.prep!.cached).toBe(true);
    expect(second.stages.prep!.outputs).toEqual(first.stages.prep!.outputs);
    for (const h of hosts) {
      expect(existsSync(join(h.home, 'cache', 'steps'))).toBe(false);
      expect(existsSync(join(h.home, 'metadata.db'))).toBe(false);
    }
  });
});

// The step cache in the metadata database, on both backends (a temp SQLite file; a PostgreSQL
// schema of the test's own): what one "host" (its own MLPIPE_HOME) stores is a hit for another
// with another home and the same database and artifact store, concurrent stores of one key from
// one process and from several all succeed, TTL and the hit-time integrity check still hold, and
// an older mlpipe's JSON entries in `<home>/cache/steps/` are not read.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/index.ts';
import type { CacheLookupInput } from '../../src/core/activities.ts';
import type { JsonValue } from '../../src/core/plan.ts';
import { closeDbs, openDb } from '../../src/db/index.ts';
import { cacheKey, createStepCacheActivities } from '../../src/temporal/step-cache.ts';
import { tempDir } from '../support/data.ts';
import { BACKENDS, freshDb, type TestDb } from '../support/db.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const writer = fileURLToPath(new URL('./fixtures/step-cache-writer.ts', import.meta.url));
const run = promisify(execFile);

const made: TestDb[] = [];
afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
});

const lineage = { workflowId: 'p/r', runId: 'r', pipeline: 'p', stage: 'prep', attempt: 1, planHash: 'h', inputs: {} };
const input = (seed: number): CacheLookupInput => ({
  kind: 'preprocess',
  config: { seed },
  inputDigests: { dataset: `sha256:${'a'.repeat(64)}` },
});

/** Two hosts: their own homes, one database, one artifact store (a directory both reach). */
async function cluster(db: TestDb) {
  const store = new LocalArtifactStore(join(tempDir('mlpipe-cache-store-'), 'artifacts'));
  const ref = await store.put(new TextEncoder().encode('a dataset'), { kind: 'dataset', lineage });
  const outputs: Record<string, JsonValue> = { dataset: ref as unknown as JsonValue, rows: 42 };
  const homes = [tempDir('mlpipe-host-a-'), tempDir('mlpipe-host-b-')];
  const [a, b] = homes.map((h) => createStepCacheActivities(h, db.url)) as [
    ReturnType<typeof createStepCacheActivities>,
    ReturnType<typeof createStepCacheActivities>,
  ];
  return { a, b, homes, outputs, blob: fileURLToPath(ref.uri) };
}

describe.each(BACKENDS)('step cache in the metadata database (%s)', (backend) => {
  const db = freshDb(backend);
  made.push(db);

  it('an entry one host stores is a hit for another host with another home', async () => {
    const { a, b, homes, outputs } = await cluster(db);
    const miss = await b.lookup(input(1));
    expect(miss).toEqual({ key: cacheKey(input(1)) });
    await a.store({ key: miss.key, stage: 'prep', outputs });
    expect(await b.lookup(input(1))).toEqual({ key: miss.key, outputs });
    expect(await a.lookup(input(2))).toEqual({ key: cacheKey(input(2)) }); // another config: another key
    for (const h of homes) {
      expect(existsSync(join(h, 'cache', 'steps'))).toBe(false); // nothing on either host's disk
      expect(existsSync(join(h, 'metadata.db'))).toBe(false); // the database given, not the home's
    }
  });

  it('concurrent stores of one key, in one process and from three more, all succeed; the entry is whole', async () => {
    const { a, b, homes, outputs } = await cluster(db);
    const key = cacheKey(input(3));
    const json = JSON.stringify(outputs);
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).store({ key, stage: `prep-${i}`, outputs })),
      ...homes
        .concat(tempDir('mlpipe-host-c-'))
        .map((h) => run(process.execPath, ['--import', 'tsx', writer, db.url, h, json, key], { cwd: root, timeout: 60_000 })),
    ]);
    expect(await a.lookup(input(3))).toEqual({ key, outputs });
    const rows = await (await openDb(db.url)).all<{ n: number }>('SELECT COUNT(*) AS n FROM step_cache WHERE key = $1', [key]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('TTL counts from the latest store; a missing artifact is a miss on the other host', async () => {
    const { a, b, outputs, blob } = await cluster(db);
    const key = cacheKey(input(4));
    const hour = { ...input(4), ttlMs: 3_600_000 };
    await a.store({ key, stage: 'prep', outputs });
    expect((await b.lookup(hour)).outputs).toEqual(outputs);
    const twoHoursAgo = new Date(Date.now() - 7_200_000).toISOString();
    await (await openDb(db.url)).run('UPDATE step_cache SET stored_at = $1 WHERE key = $2', [twoHoursAgo, key]);
    expect(await b.lookup(hour)).toEqual({ key }); // too old
    expect((await b.lookup(input(4))).outputs).toEqual(outputs); // no TTL: any age
    await b.store({ key, stage: 'prep', outputs }); // stored again: young again
    expect((await a.lookup(hour)).outputs).toEqual(outputs);
    rmSync(blob);
    expect(await b.lookup(input(4))).toEqual({ key }); // checked at the hit, as before
  });
});

describe('step cache: which database', () => {
  it('without MLPIPE_DB: SQLite in the home; JSON entries of an older mlpipe are not read', async () => {
    const saved = process.env.MLPIPE_DB;
    delete process.env.MLPIPE_DB;
    try {
      const home = tempDir('mlpipe-cache-home-');
      const cache = createStepCacheActivities(home);
      const key = cacheKey(input(5));
      mkdirSync(join(home, 'cache', 'steps'), { recursive: true });
      writeFileSync(
        join(home, 'cache', 'steps', `${key}.json`),
        JSON.stringify({ key, stage: 'prep', storedAt: new Date().toISOString(), outputs: { rows: 1 } }),
      );
      expect(await cache.lookup(input(5))).toEqual({ key }); // cold after the upgrade
      await cache.store({ key, stage: 'prep', outputs: { rows: 2 } });
      const rows = await (await openDb(`sqlite://${join(home, 'metadata.db')}`)).all<{ stage: string; outputs: string }>(
        'SELECT stage, outputs FROM step_cache',
      );
      expect(rows).toEqual([{ stage: 'prep', outputs: '{"rows":2}' }]);
      expect((await cache.lookup(input(5))).outputs).toEqual({ rows: 2 });
    } finally {
      if (saved !== undefined) process.env.MLPIPE_DB = saved;
    }
  });
});

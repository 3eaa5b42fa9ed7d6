// The model registry on both database backends, for real (a temp SQLite file; a PostgreSQL
// schema of the test's own): concurrent writers in one process and in several, the whole history,
// the traffic timeline, withdrawn versions, and the import of an older mlpipe's JSON entries.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { closeDbs } from '../../src/db/index.ts';
import { nextVersion, Registry, registryDir, settleCandidate, withdrawVersion, type RegistryEntry } from '../../src/serving/registry.ts';
import { tempDir } from '../support/data.ts';
import { BACKENDS, freshDb, type Backend, type TestDb } from '../support/db.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const writer = fileURLToPath(new URL('./fixtures/registry-writer.ts', import.meta.url));
const run = promisify(execFile);

const ref = (n: number): ArtifactRef => ({
  kind: 'model',
  uri: `file:///m/${n}`,
  digest: `sha256:${String(n).padStart(64, '0')}`,
  sizeBytes: n,
});
const source = { workflowId: 'p/r', runId: 'r', pipeline: 'p', stage: 'deploy' };

function addVersion(e: RegistryEntry, i: number, at = new Date()): RegistryEntry {
  const version = nextVersion(e, 'increment');
  e.versions.push({ version, model: ref(i), createdAt: at.toISOString(), source });
  e.traffic = { primary: version };
  e.events.push({ at: at.toISOString(), event: 'deployed (primary)', version });
  return e;
}

const made: TestDb[] = [];
afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
});

/** A registry on a fresh database of `backend`, its dir in a fresh temp home. */
function fresh(backend: Backend): { reg: Registry; url: string } {
  const db = freshDb(backend);
  made.push(db);
  return { reg: new Registry(join(tempDir('mlpipe-reg-'), 'registry'), db.url), url: db.url };
}

describe.each(BACKENDS)('model registry on %s', (backend) => {
  it('concurrent writers lose no update and readers never see a partial entry', async () => {
    const { reg } = fresh(backend);
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const e = await reg.get('churn');
        if (e) {
          expect(e.versions.length).toBe(e.revision);
          reads++;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        reg.update('churn', async (e) => {
          await new Promise((r) => setTimeout(r, Math.random() * 3)); // widen the race window
          return addVersion(e, i);
        }),
      ),
    );
    stop = true;
    await reader;
    const e = (await reg.get('churn'))!;
    expect(e.revision).toBe(40);
    expect(new Set(e.versions.map((v) => v.version)).size).toBe(40);
    expect(e.versions.map((v) => v.version).at(-1)).toBe('v40');
    expect(reads).toBeGreaterThan(0);
    expect(await reg.names()).toEqual(['churn']);
  });

  it('300 writes from several processes at once: no version lost or registered twice', async () => {
    const { reg, url } = fresh(backend);
    const outs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', writer, reg.dir, url, '75'], { cwd: root, timeout: 150_000 }),
      ),
    );
    expect(outs.map((o) => o.stdout.trim())).toEqual(['done', 'done', 'done', 'done']);
    const e = (await reg.get('churn'))!;
    expect(e.revision).toBe(300);
    expect(e.versions.map((v) => v.version)).toEqual(Array.from({ length: 300 }, (_, i) => `v${i + 1}`));
    expect(new Set(e.versions.map((v) => v.source.workflowId)).size).toBe(4); // every process wrote
    expect(e.traffic).toEqual({ primary: 'v300' });
    expect(await reg.history('churn')).toHaveLength(300);
    expect((await reg.trafficHistory('churn')).map((t) => t.revision)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  }, 180_000);

  it('a failing update leaves the entry as it was', async () => {
    const { reg } = fresh(backend);
    await reg.update('m', (e) => addVersion(e, 1));
    const before = await reg.get('m');
    await expect(
      reg.update('m', (e) => {
        addVersion(e, 2);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await reg.get('m')).toEqual(before);
    await reg.update('m', (e) => addVersion(e, 2)); // nothing left locked
    expect((await reg.get('m'))!.versions.map((v) => v.version)).toEqual(['v1', 'v2']);
    expect(await reg.get('never-deployed')).toBeUndefined();
  });

  it('keeps the whole history: the entry carries the newest 100 events, history() all of them', async () => {
    const { reg } = fresh(backend);
    for (let i = 0; i < 130; i++) await reg.update('m', (e) => addVersion(e, i));
    const e = (await reg.get('m'))!;
    expect(e.events).toHaveLength(100);
    expect(e.events.at(-1)).toMatchObject({ version: 'v130' });
    const all = await reg.history('m');
    expect(all).toHaveLength(130);
    expect(all.map((x) => x.version)).toEqual(Array.from({ length: 130 }, (_, i) => `v${i + 1}`));
    expect(all[0]).toMatchObject({ event: 'deployed (primary)', version: 'v1', revision: 1 });
    expect((await reg.history('m', { limit: 3 })).map((x) => x.version)).toEqual(['v128', 'v129', 'v130']);
  });

  it('answers which version served at a given time', async () => {
    const { reg } = fresh(backend);
    const t0 = new Date();
    await reg.update('m', (e) => addVersion(e, 1));
    await new Promise((r) => setTimeout(r, 20));
    const t1 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await reg.update('m', (e) => {
      addVersion(e, 2);
      e.traffic = { primary: 'v1', candidate: { version: 'v2', mode: 'canary', weight: 10, startedAt: new Date().toISOString() } };
      return e;
    });
    await new Promise((r) => setTimeout(r, 20));
    const t2 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await reg.update('m', (e) => settleCandidate(e, 'promote', 'healthy'));
    await reg.update('m', (e) => e); // a write that leaves the traffic alone adds no change
    await new Promise((r) => setTimeout(r, 20));
    const t3 = new Date();

    expect(await reg.servedAt('m', new Date(t0.getTime() - 1000))).toBeUndefined();
    expect((await reg.servedAt('m', t1))!.traffic).toEqual({ primary: 'v1' });
    expect((await reg.servedAt('m', t2))!.traffic).toMatchObject({ primary: 'v1', candidate: { version: 'v2', weight: 10 } });
    expect(await reg.servedAt('m', t3)).toMatchObject({ revision: 3, traffic: { primary: 'v2' } });
    expect((await reg.trafficHistory('m')).map((c) => c.revision)).toEqual([1, 2, 3]);
  });

  it('a writer whose clock is an hour behind does not put its change before the previous one', async () => {
    const { reg } = fresh(backend);
    await reg.update('m', (e) => addVersion(e, 1));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 3_600_000);
    try {
      await reg.update('m', (e) => addVersion(e, 2));
    } finally {
      vi.useRealTimers();
    }
    const [first, second] = await reg.trafficHistory('m');
    expect(second!.at >= first!.at).toBe(true);
    expect((await reg.servedAt('m', new Date()))!.traffic).toEqual({ primary: 'v2' });
  });

  it('a withdrawn version is kept (marked) and its name can be registered again', async () => {
    const { reg } = fresh(backend);
    await reg.update('m', (e) => addVersion(e, 1));
    await reg.update('m', (e) => {
      addVersion(e, 2);
      e.versions.at(-1)!.previous = { primary: 'v1' };
      return e;
    });
    await reg.update('m', (e) => withdrawVersion(e, 'v2', 'server did not start'));
    expect((await reg.get('m'))!.versions.map((v) => v.version)).toEqual(['v1']);
    expect((await reg.get('m'))!.traffic).toEqual({ primary: 'v1' });
    await reg.update('m', (e) => addVersion(e, 3)); // the retry: v2 again
    const all = await reg.versions('m', { withdrawn: true });
    expect(all.map((v) => [v.version, v.model.sizeBytes, !!v.withdrawnAt])).toEqual([
      ['v1', 1, false],
      ['v2', 2, true],
      ['v2', 3, false],
    ]);
    expect((await reg.versions('m')).map((v) => v.version)).toEqual(['v1', 'v2']);
  });

  it('imports the JSON entries an older mlpipe left in the registry dir, once', async () => {
    const dir = join(tempDir('mlpipe-reg-'), 'registry');
    mkdirSync(dir);
    const old: RegistryEntry = addVersion(
      { format: 'mlpipe-registry/v1', name: 'old', revision: 0, versions: [], traffic: { primary: null }, events: [] },
      1,
      new Date('2026-01-02T03:04:05.000Z'),
    );
    old.revision = 7;
    writeFileSync(join(dir, 'old.json'), JSON.stringify(old));
    writeFileSync(join(dir, 'broken.json'), '{"format": "mlpipe-registry/v1", "na');
    writeFileSync(join(dir, '_server.json'), '{}'); // not an entry
    const db = freshDb(backend);
    made.push(db);
    // Two processes open the registry of that home at once (a worker and `mlpipe serve`): the
    // entry is imported once, the file renamed once.
    const outs = await Promise.all(
      [0, 1].map(() =>
        run(
          process.execPath,
          [
            '--import',
            'tsx',
            '-e',
            `import { Registry } from './src/serving/registry.ts'; console.log((await new Registry(` +
              `${JSON.stringify(dir)}, ${JSON.stringify(db.url)}).names()).join(','));`,
            '--input-type=module',
          ],
          { cwd: root, timeout: 60_000 },
        ),
      ),
    );
    expect(outs.map((o) => o.stdout.trim())).toEqual(['old', 'old']);
    const said = outs.map((o) => o.stderr).join('');
    expect(said).toMatch(
      new RegExp(
        `model registry entry ${join(dir, 'broken.json')} is not valid JSON .*restore it from a backup, or ` +
          'move it away to start model "broken" afresh',
      ),
    );
    expect(said.match(/model registry: imported /g)).toHaveLength(1);
    expect(existsSync(join(dir, 'old.json'))).toBe(false);
    expect(existsSync(join(dir, 'old.json.imported'))).toBe(true);
    expect(existsSync(join(dir, 'broken.json'))).toBe(true); // left for the user
    const reg = new Registry(dir, db.url);
    const e = (await reg.get('old'))!;
    expect(e).toMatchObject({
      revision: 7,
      traffic: { primary: 'v1' },
      versions: [{ version: 'v1' }],
      events: [{ version: 'v1', at: '2026-01-02T03:04:05.000Z' }],
    });
    expect((await reg.servedAt('old', new Date('2026-01-02T03:04:06Z')))!.traffic).toEqual({ primary: 'v1' });
    expect(await reg.names()).toEqual(['old']);
  });

  it('rejects a model name that is not one', async () => {
    const { reg } = fresh(backend);
    await expect(reg.get('../etc')).rejects.toThrow(/bad model name/);
    await expect(reg.update('Bad Name', (e) => e)).rejects.toThrow(/bad model name/);
  });
});

describe('which database', () => {
  it('without MLPIPE_DB: SQLite in the home the registry dir is in; with it: that one', async () => {
    const home = tempDir('mlpipe-home-');
    const saved = process.env.MLPIPE_DB;
    delete process.env.MLPIPE_DB;
    try {
      expect((await new Registry(registryDir(home)).database()).where).toBe(`sqlite://${join(home, 'metadata.db')}`);
      const other = freshDb('sqlite');
      process.env.MLPIPE_DB = other.url;
      expect((await new Registry(registryDir(home)).database()).where).toBe(other.url);
    } finally {
      if (saved === undefined) delete process.env.MLPIPE_DB;
      else process.env.MLPIPE_DB = saved;
    }
  });
});

describe('registry rules', () => {
  it('version policies: increment, gitSha (suffix on a repeat), timestamp', () => {
    const e = (versions: string[]): RegistryEntry => ({
      format: 'mlpipe-registry/v1',
      name: 'm',
      revision: 1,
      events: [],
      traffic: { primary: null },
      versions: versions.map((version, i) => ({ version, model: ref(i), createdAt: '', source })),
    });
    expect(nextVersion(undefined, 'increment')).toBe('v1');
    expect(nextVersion(e(['v1', 'v9', 'abc', 'v3']), 'increment')).toBe('v10');
    expect(nextVersion(undefined, 'gitSha', { gitSha: '0123456789abcdef0123' })).toBe('0123456789ab');
    expect(nextVersion(e(['0123456789ab']), 'gitSha', { gitSha: '0123456789abcdef' })).toBe('0123456789ab-2');
    expect(nextVersion(e(['0123456789ab', '0123456789ab-2']), 'gitSha', { gitSha: '0123456789abcdef' })).toBe('0123456789ab-3');
    expect(() => nextVersion(undefined, 'gitSha', {})).toThrow(/git commit/);
    const now = new Date('2026-03-04T05:06:07.089Z');
    expect(nextVersion(undefined, 'timestamp', { now })).toBe('20260304T050607089Z');
    expect(nextVersion(e(['20260304T050607089Z']), 'timestamp', { now })).toBe('20260304T050607089Z-2');
  });

  it('settling a candidate promotes it or keeps the primary, with an event', () => {
    const base = (): RegistryEntry => ({
      format: 'mlpipe-registry/v1',
      name: 'm',
      revision: 1,
      events: [],
      versions: [],
      traffic: { primary: 'v1', candidate: { version: 'v2', mode: 'canary', weight: 10, startedAt: '' } },
    });
    expect(settleCandidate(base(), 'promote', 'ok').traffic).toEqual({ primary: 'v2' });
    const r = settleCandidate(base(), 'rollback', 'error rate');
    expect(r.traffic).toEqual({ primary: 'v1' });
    expect(r.events.at(-1)).toMatchObject({ event: 'rolledBack', version: 'v2', reason: 'error rate' });
  });
});

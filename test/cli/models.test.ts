// `mlpipe models …` on a real registry in a real database, both backends: what deploys wrote is
// listed, shown and its history told; promote and rollback change what serves.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mlpipeInProcess } from '../support/cli-in-process.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { closeDbs } from '../../src/db/index.ts';
import { nextVersion, Registry, type RegistryEntry, type Traffic } from '../../src/serving/registry.ts';
import { tempDir } from '../support/data.ts';
import { BACKENDS, freshDb, type Backend, type TestDb } from '../support/db.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const made: TestDb[] = [];
afterEach(() => closeDbs());
afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
  delete process.env.MLPIPE_DB;
  delete process.env.MLPIPE_HOME;
});

const ref = (n: number): ArtifactRef => ({
  kind: 'model',
  uri: `file:///m/${n}`,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  sizeBytes: n,
});

/** A deploy as activities/deploy.ts records one: a version, the traffic it sets, an event. */
function deployed(e: RegistryEntry, n: number, traffic: (v: string) => Traffic): RegistryEntry {
  const version = nextVersion(e, 'increment');
  const at = new Date().toISOString();
  e.versions.push({
    version,
    model: ref(n),
    createdAt: at,
    source: { workflowId: `churn/run-${n}`, runId: 'r', pipeline: 'churn', stage: 'deploy' },
  });
  e.traffic = traffic(version);
  e.events.push({ at, event: `deployed (${e.traffic.primary === version ? 'primary' : 'canary'})`, version });
  return e;
}

const mlpipe = mlpipeInProcess;

async function setup(backend: Backend): Promise<{ url: string; reg: Registry; t1: Date }> {
  const db = freshDb(backend);
  made.push(db);
  const reg = new Registry(join(tempDir('mlpipe-models-'), 'registry'), db.url);
  await reg.update('churn', (e) => deployed(e, 1, (v) => ({ primary: v })));
  await new Promise((r) => setTimeout(r, 20));
  const t1 = new Date();
  await new Promise((r) => setTimeout(r, 20));
  await reg.update('churn', (e) =>
    deployed(e, 2, (v) => ({ primary: 'v1', candidate: { version: v, mode: 'canary', weight: 10, startedAt: new Date().toISOString() } })),
  );
  await reg.update('iris', (e) => deployed(e, 3, (v) => ({ primary: v })));
  return { url: db.url, reg, t1 };
}

describe.each(BACKENDS)('mlpipe models on %s', (backend) => {
  it('list, show (also at a past time) and history, as text and JSON', async () => {
    const { url, t1 } = await setup(backend);
    const list = await mlpipe('models', 'list', '--db', url);
    expect(list).toMatchObject({ code: 0, err: '' });
    expect(list.out.split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['MODEL', 'PRIMARY', 'CANDIDATE', 'VERSIONS', 'REVISION'],
      ['churn', 'v1', 'v2 (canary 10%)', '2', '2'],
      ['iris', 'v1', '-', '1', '1'],
      [''],
    ]);
    expect(JSON.parse((await mlpipe('models', 'list', '--json', '--db', url)).out)).toEqual([
      {
        name: 'churn',
        revision: 2,
        traffic: { primary: 'v1', candidate: expect.objectContaining({ version: 'v2', weight: 10 }) },
        versions: ['v1', 'v2'],
      },
      { name: 'iris', revision: 1, traffic: { primary: 'v1' }, versions: ['v1'] },
    ]);

    const show = await mlpipe('models', 'show', 'churn', '--db', url);
    expect(show.code).toBe(0);
    expect(show.out).toContain('traffic: primary v1; candidate v2 (canary 10%, since');
    expect(show.out).toMatch(/^ {2}v2 .* churn\/run-2 \(deploy\) +sha256:222222222222$/m);
    expect(show.out).toMatch(/deployed \(canary\) v2$/m);
    const json = JSON.parse((await mlpipe('models', 'show', 'churn', '--json', '--db', url)).out);
    expect(json).toMatchObject({ name: 'churn', revision: 2, versions: [{ version: 'v1' }, { version: 'v2' }] });
    const past = await mlpipe('models', 'show', 'churn', '--at', t1.toISOString(), '--db', url);
    expect(past.out).toMatch(/^churn at .*: primary v1 \(revision 1, since .*\)\n$/);

    const history = await mlpipe('models', 'history', 'churn', '--db', url);
    expect(
      history.out
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s{2,}/).slice(1)),
    ).toEqual([
      ['1', 'deployed (primary)', 'v1'],
      ['2', 'deployed (canary)', 'v2'],
    ]);
    expect(JSON.parse((await mlpipe('models', 'history', 'churn', '--limit', '1', '--json', '--db', url)).out)).toEqual([
      expect.objectContaining({ event: 'deployed (canary)', version: 'v2', revision: 2 }),
    ]);
  });

  it('promote and rollback change what serves, with events', async () => {
    const { url, reg } = await setup(backend);
    const p = await mlpipe('models', 'promote', 'churn', '--reason', 'looks good', '--db', url);
    expect(p).toMatchObject({ code: 0, out: 'churn: primary v2 (revision 3)\n' });
    expect((await reg.get('churn'))!.events.at(-1)).toMatchObject({ event: 'promoted', version: 'v2', reason: 'looks good' });

    // No candidate now: rollback goes back to the primary before.
    expect((await mlpipe('models', 'rollback', 'churn', '--db', url)).out).toBe('churn: primary v1 (revision 4)\n');
    expect((await reg.get('churn'))!.traffic).toEqual({ primary: 'v1' });
    expect((await mlpipe('models', 'promote', 'churn', 'v2', '--db', url)).out).toBe('churn: primary v2 (revision 5)\n');
    expect((await reg.history('churn')).map((e) => `${e.event} ${e.version}`)).toEqual([
      'deployed (primary) v1',
      'deployed (canary) v2',
      'promoted v2',
      'rolledBack v1',
      'promoted v2',
    ]);

    const none = await mlpipe('models', 'promote', 'iris', '--db', url);
    expect(none).toMatchObject({
      code: 2,
      err: expect.stringContaining(
        'model "iris" has no candidate to promote (primary v1); name a version: mlpipe models promote iris <version>',
      ),
    });
    const back = await mlpipe('models', 'rollback', 'iris', '--db', url);
    expect(back).toMatchObject({
      code: 2,
      err: expect.stringContaining('model "iris" has no candidate and no earlier primary to roll back to'),
    });
    const missing = await mlpipe('models', 'promote', 'churn', 'v9', '--db', url);
    expect(missing).toMatchObject({ code: 1, err: 'mlpipe: model "churn" has no version "v9"; it has v1, v2\n' });
    expect((await reg.get('iris'))!.revision).toBe(1); // the refused changes wrote nothing
  });

  it('names an unknown model and the database it looked in', async () => {
    const { url } = await setup(backend);
    const r = await mlpipe('models', 'show', 'nope', '--db', url);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^mlpipe: no model "nope" in the registry at .* \(models: churn, iris\); check the name, or MLPIPE_DB \(or --db\)\n$/,
    );
  });
});

describe('mlpipe models settings', () => {
  it('a bad --db is a usage error naming MLPIPE_DB, without the password', async () => {
    const r = await mlpipe('models', 'list', '--db', 'mysql://root:hunter2@db/x');
    expect(r.code).toBe(2);
    expect(r.err).toContain('MLPIPE_DB (or --db) "mysql://root:***@db/x" has an unknown scheme');
    expect(r.err).not.toContain('hunter2');
  });

  it('mlpipe serve fails at start on a database it cannot reach, naming the setting', async () => {
    process.env.MLPIPE_HOME = tempDir('mlpipe-models-home-');
    const r = await mlpipe('serve', '--port', '0', '--db', 'postgres://postgres:hunter2@127.0.0.1:1/test');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^mlpipe: cannot reach the PostgreSQL server of postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test .*fix the host and port in MLPIPE_DB \(or --db\)\n$/,
    );
    expect((await mlpipe('serve', '--db', 'sqlite://')).code).toBe(2);
  });

  it('the real binary lists the models of MLPIPE_DB', async () => {
    const { url } = await setup('sqlite');
    const r = spawnSync(process.execPath, ['bin/mlpipe.js', 'models', 'list'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, MLPIPE_DB: url },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^churn +v1 +v2 \(canary 10%\)/m);
  });
});

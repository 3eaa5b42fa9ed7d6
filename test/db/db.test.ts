// The metadata database on both backends, for real: migrations (once, idempotent, safe with
// several processes starting at once), transactions, and errors that name the setting to fix.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeDbs, openDb, parseDbUrl, redactUrl } from '../../src/db/index.ts';
import { LATEST, MIGRATIONS } from '../../src/db/migrations.ts';
import { secretsInUse } from '../../src/redaction.ts';
import { tempDir } from '../support/data.ts';
import { BACKENDS, freshDb, PG_URL, type TestDb } from '../support/db.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const opener = fileURLToPath(new URL('./fixtures/open-db.ts', import.meta.url));
const run = promisify(execFile);

const made: TestDb[] = [];
const fresh = (b: (typeof BACKENDS)[number]) => {
  const d = freshDb(b);
  made.push(d);
  return d;
};
afterEach(() => closeDbs());
afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
});

describe.each(BACKENDS)('metadata database on %s', (backend) => {
  it('applies every migration once, and opening again applies nothing', async () => {
    const { url } = fresh(backend);
    const db = await openDb(url);
    expect(db.kind).toBe(backend);
    expect(await db.schemaVersion()).toBe(LATEST);
    await closeDbs();
    const again = await openDb(url);
    const rows = await again.all<{ version: number }>('SELECT version FROM mlpipe_migrations ORDER BY version');
    expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('several processes starting at once migrate it exactly once', async () => {
    const { url } = fresh(backend);
    const outs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ['--import', 'tsx', opener, url], { cwd: root, timeout: 60_000 })),
    );
    expect(outs.map((o) => o.stdout.trim())).toEqual(Array(4).fill(String(LATEST)));
    const db = await openDb(url);
    const rows = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM mlpipe_migrations');
    expect(Number(rows[0]!.n)).toBe(MIGRATIONS.length);
  }, 90_000);

  it('a write that throws leaves nothing behind; one that returns is committed', async () => {
    const db = await openDb(fresh(backend).url);
    const now = new Date().toISOString();
    await expect(
      db.write(async (tx) => {
        await tx.run('INSERT INTO models (name, revision, traffic, created_at, updated_at) VALUES ($1, 1, $2, $3, $3)', ['a', '{}', now]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.all('SELECT name FROM models')).toEqual([]);
    await db.write((tx) =>
      tx.run('INSERT INTO models (name, revision, traffic, created_at, updated_at) VALUES ($1, 1, $2, $3, $3)', ['b', '{}', now]),
    );
    expect(await db.all('SELECT name FROM models')).toEqual([{ name: 'b' }]);
  });

  it('refuses a database migrated by a newer mlpipe, naming what to do', async () => {
    const { url } = fresh(backend);
    const db = await openDb(url);
    await db.run('INSERT INTO mlpipe_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
      LATEST + 1,
      'future',
      new Date().toISOString(),
    ]);
    await closeDbs();
    await expect(openDb(url)).rejects.toThrow(`has schema version ${LATEST + 1}, newer than this mlpipe knows (${LATEST}): upgrade mlpipe`);
  });
});

describe('database settings', () => {
  it('a bad URL names MLPIPE_DB and the forms it takes, without the password', () => {
    expect(() => parseDbUrl('mysql://root:hunter2@db/x')).toThrow(
      /^MLPIPE_DB \(or --db\) "mysql:\/\/root:\*\*\*@db\/x" has an unknown scheme "mysql:": use sqlite:\/\/<path>/,
    );
    expect(() => parseDbUrl('sqlite://')).toThrow(/names no file/);
    expect(() => parseDbUrl('metadata.db')).toThrow(/is not a database URL/);
    expect(() => parseDbUrl('postgres://u@h/db?schema=Bad-Name')).toThrow(/bad schema "Bad-Name"/);
    expect(redactUrl('postgres://u:p%40ss@h:5/db')).toBe('postgres://u:***@h:5/db');
    expect(parseDbUrl('sqlite://rel/m.db')).toMatchObject({ kind: 'sqlite', path: expect.stringMatching(/^\/.*\/rel\/m\.db$/) });
  });

  it('an unreachable server is named, with the setting to fix and no password', async () => {
    const err = await openDb('postgres://postgres:s3cret@127.0.0.1:1/test').catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /^cannot reach the PostgreSQL server of postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test \(.*ECONNREFUSED.*\): start it, or fix the host and port in MLPIPE_DB \(or --db\)$/,
    );
    expect((err as Error).message).not.toContain('s3cret');
    expect(secretsInUse()).toContain('s3cret'); // redacted from whatever this process lets out
  });

  it('a login the server refuses, and a missing database, say what to fix', async () => {
    const u = new URL(PG_URL);
    u.username = 'mlpipe_no_such_user';
    u.password = 's3cret';
    const login = await openDb(u.toString()).catch((e: Error) => e);
    expect((login as Error).message).toMatch(
      /^PostgreSQL refused the login to .*mlpipe_no_such_user:\*\*\*@.*role "mlpipe_no_such_user" does not exist.*fix the user or password in MLPIPE_DB \(or --db\)$/,
    );
    expect((login as Error).message).not.toContain('s3cret');
    const db = new URL(PG_URL);
    db.pathname = '/mlpipe_no_such_database';
    await expect(openDb(db.toString())).rejects.toThrow(
      /database "mlpipe_no_such_database" does not exist .*create it, or fix the database name in MLPIPE_DB \(or --db\)/,
    );
  });

  it('an SQLite path that cannot be a database file says so', async () => {
    const file = join(tempDir('mlpipe-db-'), 'a-file');
    writeFileSync(file, '');
    const path = join(file, 'metadata.db'); // under a file: no directory can be made there
    await expect(openDb(`sqlite://${path}`)).rejects.toThrow(`cannot open the SQLite database ${path} (from MLPIPE_DB (or --db)): EEXIST`);
    writeFileSync(join(file, '..', 'junk.db'), 'not a database, just text that is long enough to look like a header..........');
    await expect(openDb(`sqlite://${join(file, '..', 'junk.db')}`)).rejects.toThrow(
      /is not a usable SQLite database .*restore it from a backup, or point MLPIPE_DB \(or --db\) elsewhere/,
    );
  });
});

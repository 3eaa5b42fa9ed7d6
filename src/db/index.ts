// mlpipe's metadata database (docs/metadata.md): SQLite in the home by default, PostgreSQL for a
// cluster, chosen by `--db` / MLPIPE_DB. Opening one applies its pending migrations. A process
// shares one handle per URL (a pool on PostgreSQL), opened on first use; the driver is loaded
// only then, so commands that never touch metadata do not load it.
import { rememberSecrets } from '../redaction.ts';
import type { Db } from './types.ts';
import { parseDbUrl } from './url.ts';

export type { Db, Queryable, Row } from './types.ts';
export { DB_SETTING, dbUrl, DbConfigError, defaultDbUrl, parseDbUrl, redactUrl } from './url.ts';

const open = new Map<string, Promise<Db>>();

/** Opens (once per process and URL) and migrates the database at `url`. */
export function openDb(url: string): Promise<Db> {
  let p = open.get(url);
  if (!p) {
    p = connect(url);
    open.set(url, p);
    // A failed open is not remembered: the server may be up by the next call.
    p.catch(() => open.delete(url));
  }
  return p;
}

async function connect(url: string): Promise<Db> {
  const t = parseDbUrl(url);
  if (t.kind === 'sqlite') {
    const { openSqlite } = await import('./sqlite.ts');
    return openSqlite(t.path, t.where);
  }
  // Messages name the database by its redacted URL; the password is also one of the secrets a
  // worker keeps out of everything it lets go of (stage results, failures, its output).
  const password = new URL(t.url).password;
  if (password) rememberSecrets([password, decodeURIComponent(password)]);
  const { openPostgres } = await import('./postgres.ts');
  return openPostgres(t.url, t.schema, t.where);
}

/** Closes every database this process opened (tests; a CLI command before it returns). */
export async function closeDbs(): Promise<void> {
  const all = [...open.values()];
  open.clear();
  await Promise.all(
    all.map((p) =>
      p.then(
        (db) => db.close(),
        () => undefined,
      ),
    ),
  );
}

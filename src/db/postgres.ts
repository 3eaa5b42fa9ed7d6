// The cluster backend: PostgreSQL through a small `pg` pool. Writers serialise on the rows they
// lock (SELECT … FOR UPDATE); migrations on a transaction-scoped advisory lock, so any number of
// workers and servers may start at once. A `?schema=` in the URL keeps mlpipe's tables in that
// schema (created when missing): several installations, or test runs, share one database.
import pg from 'pg';
import { DB_SETTING } from './url.ts';
import type { Db, Queryable } from './types.ts';
import { migrate } from './migrations.ts';

/** Arbitrary: the first half of the advisory-lock key mlpipe's migrations take. */
const MIGRATION_LOCK = 727_001;
/**
 * A writer waits this long for a row another holds, and the server ends a session idle this long
 * inside a transaction (a process hung mid-write), so no writer waits forever behind a stuck one.
 */
const LOCK_WAIT_MS = 60_000;

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

/** A connection failure as what to fix, naming the setting; never with the password. */
function explain(e: unknown, where: string): Error {
  const err = e as Error & { code?: string };
  const msg = err.message || String(e);
  if ((err.code && UNREACHABLE.has(err.code)) || /timeout|terminated unexpectedly/i.test(msg)) {
    return new Error(`cannot reach the PostgreSQL server of ${where} (${msg}): start it, or fix the host and port in ${DB_SETTING}`);
  }
  if (err.code === '28P01' || err.code === '28000') {
    return new Error(`PostgreSQL refused the login to ${where} (${msg}): fix the user or password in ${DB_SETTING}`);
  }
  if (err.code === '55P03')
    return new Error(
      `another writer held the row for over ${LOCK_WAIT_MS / 1000} s on ${where} (${msg}); is a process stuck inside a transaction?`,
    );
  if (err.code === '3D000') return new Error(`${msg} on the server of ${where}: create it, or fix the database name in ${DB_SETTING}`);
  return err;
}

function queryable(c: pg.PoolClient | pg.Pool): Queryable {
  return {
    async all<T>(sql: string, params: unknown[] = []) {
      return (await c.query(sql, params)).rows as T[];
    },
    async run(sql: string, params: unknown[] = []) {
      return (await c.query(sql, params)).rowCount ?? 0;
    },
  };
}

export async function openPostgres(url: string, schema: string | undefined, where: string): Promise<Db> {
  const settings = [
    ...(schema ? [`-c search_path=${schema}`] : []),
    `-c lock_timeout=${LOCK_WAIT_MS}`,
    `-c idle_in_transaction_session_timeout=${LOCK_WAIT_MS}`,
    new URL(url).searchParams.get('options') ?? '', // the user's own, which ours would replace
  ];
  const pool = new pg.Pool({
    connectionString: url,
    options: settings.join(' ').trim(),
    max: 4,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 5_000,
    allowExitOnIdle: true, // an idle pool does not keep a CLI command alive
  });
  // An idle connection the server drops (restart, failover) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const transaction = async <T>(begin: string, fn: (t: Queryable) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw explain(e, where);
    }
    let broken: Error | undefined;
    // The server may end the session mid-transaction (restart, idle timeout): the query fails, and
    // the client's 'error' event, which nothing else listens to while it is checked out, must not
    // crash the process.
    const onError = (e: Error) => (broken = e);
    client.on('error', onError);
    try {
      await client.query(begin);
      const result = await fn(queryable(client));
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((r: Error) => (broken = r));
      throw explain(e, where);
    } finally {
      client.off('error', onError);
      client.release(broken); // a connection that failed or could not roll back is discarded
    }
  };
  const direct = queryable(pool);
  const handle: Db = {
    kind: 'postgres',
    where,
    forUpdate: ' FOR UPDATE',
    async all<T>(sql: string, params?: unknown[]) {
      try {
        return await direct.all<T>(sql, params);
      } catch (e) {
        throw explain(e, where);
      }
    },
    async run(sql: string, params?: unknown[]) {
      try {
        return await direct.run(sql, params);
      } catch (e) {
        throw explain(e, where);
      }
    },
    write: (fn) => transaction('BEGIN', fn),
    read: (fn) => transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn),
    async schemaVersion() {
      const rows = await handle.all<{ v: number | null }>('SELECT MAX(version) AS v FROM mlpipe_migrations');
      return Number(rows[0]?.v ?? 0);
    },
    close: () => pool.end(),
  };
  try {
    await handle.write(async (tx) => {
      await tx.run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schema ?? 'public']);
      if (schema) await tx.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`); // validated: [a-z_][a-z0-9_]*
      return migrate(tx, 'BIGSERIAL PRIMARY KEY', where);
    });
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return handle;
}

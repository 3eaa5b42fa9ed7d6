// The embedded backend: one SQLite file through better-sqlite3 (synchronous; version 12, as 13
// crashes on Node 20). WAL lets readers in other processes go on while one writes; writes take
// the database's write lock up front (BEGIN IMMEDIATE), so two processes' read-modify-writes
// queue instead of failing half-way. Waiting for that lock is an async retry loop, not SQLite's
// busy handler (which sleeps inside the call): a model server waiting behind a deploy in another
// process keeps answering requests. Within a process one connection serves everything, so its
// transactions (whose callbacks may await) are run one at a time by a queue.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DB_SETTING } from './url.ts';
import type { Db, Queryable } from './types.ts';
import { migrate } from './migrations.ts';

/** How long a writer waits for another process's write transaction (they last milliseconds). */
const BUSY_MS = 60_000;
/** SQLite's own blocking wait, for the brief locks outside BEGIN IMMEDIATE (WAL checkpoints). */
const SYNC_BUSY_MS = 100;

/** `$1`-style SQL to SQLite's `?`, with the parameters in the order they appear. */
function positional(sql: string, params: unknown[]): [string, unknown[]] {
  const out: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    const v = params[Number(n) - 1];
    out.push(v === undefined ? null : v);
    return '?';
  });
  return [text, out];
}

export async function openSqlite(path: string, where: string): Promise<Db> {
  const explain = (e: unknown): Error => {
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_BUSY')
      return new Error(
        `the SQLite database ${path} stayed locked by another writer for ${BUSY_MS / 1000} s; is a process stuck inside a transaction?`,
      );
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
      return new Error(
        `${path} is not a usable SQLite database (${(e as Error).message}); restore it from a backup, or point ${DB_SETTING} elsewhere`,
      );
    return e as Error;
  };
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: SYNC_BUSY_MS });
  } catch (e) {
    throw new Error(
      `cannot open the SQLite database ${path} (from ${DB_SETTING}): ${(e as Error).message}; fix the path or its permissions`,
    );
  }
  // Switching a new file to WAL takes a lock that processes starting at the same time contend for.
  for (let i = 0, deadline = Date.now() + BUSY_MS; ; i++) {
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL'); // a committed deploy survives a power cut too
      db.pragma('foreign_keys = ON');
      break;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_BUSY' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(50, 2 + i)));
        continue;
      }
      db.close();
      throw explain(e);
    }
  }
  const tx: Queryable = {
    async all<T>(sql: string, params: unknown[] = []) {
      const [text, args] = positional(sql, params);
      try {
        const stmt = db.prepare(text);
        if (stmt.reader) return stmt.all(args) as T[];
        stmt.run(args);
        return [];
      } catch (e) {
        throw explain(e);
      }
    },
    async run(sql: string, params: unknown[] = []) {
      const [text, args] = positional(sql, params);
      try {
        return db.prepare(text).run(args).changes;
      } catch (e) {
        throw explain(e);
      }
    },
  };
  let tail: Promise<unknown> = Promise.resolve();
  const queued = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = tail.then(fn);
    tail = p.catch(() => undefined);
    return p;
  };
  const transaction = <T>(begin: string, fn: (t: Queryable) => Promise<T>) =>
    queued(async () => {
      for (let i = 0, deadline = Date.now() + BUSY_MS; ; i++) {
        db.pragma('busy_timeout = 0'); // fail at once when another process writes; wait below, async
        try {
          db.exec(begin);
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw explain(e);
          await new Promise((r) => setTimeout(r, Math.min(50, 2 + i) * (0.5 + Math.random())));
        } finally {
          db.pragma(`busy_timeout = ${SYNC_BUSY_MS}`);
        }
      }
      try {
        const result = await fn(tx);
        db.exec('COMMIT');
        return result;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw explain(e);
      }
    });
  const handle: Db = {
    kind: 'sqlite',
    where,
    forUpdate: '',
    all: (sql, params) => queued(() => tx.all(sql, params)),
    run: (sql, params) => queued(() => tx.run(sql, params)),
    write: (fn) => transaction('BEGIN IMMEDIATE', fn),
    read: (fn) => transaction('BEGIN', fn),
    async schemaVersion() {
      const rows = await handle.all<{ v: number | null }>('SELECT MAX(version) AS v FROM mlpipe_migrations');
      return Number(rows[0]?.v ?? 0);
    },
    async close() {
      await queued(async () => db.close());
    },
  };
  try {
    await handle.write((t) => migrate(t, 'INTEGER PRIMARY KEY AUTOINCREMENT', where));
  } catch (e) {
    db.close();
    throw e;
  }
  return handle;
}

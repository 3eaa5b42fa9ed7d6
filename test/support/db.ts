// Real databases for tests, both backends: a temp SQLite file, or a fresh schema of its own in
// the PostgreSQL that runs here and in CI (127.0.0.1:5432, trust auth, database `test`; override
// with MLPIPE_TEST_PG), dropped afterwards, so parallel runs never share tables.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { tempDir } from './data.ts';

export type Backend = 'sqlite' | 'postgres';
export const BACKENDS: Backend[] = ['sqlite', 'postgres'];

export const PG_URL = process.env.MLPIPE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDb {
  /** The MLPIPE_DB value that reaches it. */
  url: string;
  drop(): Promise<void>;
}

/** An empty database of `backend`, created on first open by mlpipe itself (as a user's would be). */
export function freshDb(backend: Backend): TestDb {
  if (backend === 'sqlite') return { url: `sqlite://${join(tempDir('mlpipe-db-'), 'metadata.db')}`, drop: async () => undefined };
  const schema = `mlpipe_test_${randomBytes(6).toString('hex')}`;
  return {
    url: `${PG_URL}?schema=${schema}`,
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

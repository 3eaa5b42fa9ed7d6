// Versioned schema migrations, applied when a database is opened (src/db/index.ts). Each runs
// once, inside the same transaction that records it in `mlpipe_migrations`, so a crash leaves a
// migration applied and recorded or neither. Never edit a released migration: add the next one.
import type { Queryable } from './types.ts';

export interface Migration {
  version: number;
  name: string;
  /** SQL statements; `{{id}}` becomes each backend's auto-increment primary key. */
  up: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'model registry',
    up: [
      // One row per model: its traffic now and a revision bumped on every write (servers poll it).
      `CREATE TABLE models (
        name TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        traffic TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      // Every version ever registered; a withdrawn one stays, marked, and its name may be reused.
      `CREATE TABLE model_versions (
        id {{id}},
        model TEXT NOT NULL REFERENCES models (name),
        version TEXT NOT NULL,
        doc TEXT NOT NULL,
        created_at TEXT NOT NULL,
        withdrawn_at TEXT
      )`,
      // The database itself refuses two live versions of one name, whatever a writer does.
      'CREATE UNIQUE INDEX model_versions_live ON model_versions (model, version) WHERE withdrawn_at IS NULL',
      // The whole event history (deploys, promotions, rollbacks, withdrawals), never capped.
      `CREATE TABLE model_events (
        id {{id}},
        model TEXT NOT NULL REFERENCES models (name),
        revision INTEGER NOT NULL,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        version TEXT NOT NULL,
        reason TEXT
      )`,
      'CREATE INDEX model_events_model ON model_events (model, id)',
      // Each traffic split with the time it took effect: answers "which version served at T".
      `CREATE TABLE model_traffic (
        model TEXT NOT NULL REFERENCES models (name),
        revision INTEGER NOT NULL,
        at TEXT NOT NULL,
        traffic TEXT NOT NULL,
        PRIMARY KEY (model, revision)
      )`,
    ],
  },
  {
    version: 2,
    name: 'step cache',
    up: [
      // One row per cache key (src/temporal/step-cache.ts), shared by every worker of the
      // database: a hit on any host for what another stored. `outputs` is the JSON text the
      // writer made (TEXT on both backends, as model_versions.doc: read back byte for byte).
      `CREATE TABLE step_cache (
        key TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        outputs TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    name: 'serving log',
    up: [
      // Each request a model server answered (src/serving/serving-log.ts): what the per-version
      // metrics and the canary's rollback rule are computed from, kept across server restarts.
      // `t` is epoch milliseconds; `shadow` 1 for a shadow copy.
      `CREATE TABLE serving_requests (
        id {{id}},
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        t BIGINT NOT NULL,
        ok INTEGER NOT NULL,
        ms DOUBLE PRECISION NOT NULL,
        hits INTEGER,
        labelled INTEGER,
        shadow INTEGER NOT NULL
      )`,
      'CREATE INDEX serving_requests_model ON serving_requests (model, t)',
      // The raw rows clients sent (JSON text), for drift monitoring (/recent).
      `CREATE TABLE serving_rows (
        id {{id}},
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        t BIGINT NOT NULL,
        row TEXT NOT NULL
      )`,
      'CREATE INDEX serving_rows_model ON serving_rows (model, t)',
    ],
  },
];

export const LATEST = MIGRATIONS.at(-1)!.version;

const TABLE = `CREATE TABLE IF NOT EXISTS mlpipe_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/**
 * Applies what `tx` lacks. The caller holds the database's migration lock (SQLite: BEGIN
 * IMMEDIATE; PostgreSQL: an advisory lock), so concurrent starters apply each migration once.
 */
export async function migrate(tx: Queryable, id: string, where: string): Promise<number[]> {
  await tx.run(TABLE);
  const done = new Set((await tx.all<{ version: number }>('SELECT version FROM mlpipe_migrations')).map((r) => Number(r.version)));
  const newest = Math.max(0, ...done);
  if (newest > LATEST) {
    throw new Error(
      `the database ${where} has schema version ${newest}, newer than this mlpipe knows (${LATEST}): ` +
        'upgrade mlpipe, or point MLPIPE_DB (or --db) at another database',
    );
  }
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const sql of m.up) await tx.run(sql.replaceAll('{{id}}', id));
    await tx.run('INSERT INTO mlpipe_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
      m.version,
      m.name,
      new Date().toISOString(),
    ]);
    applied.push(m.version);
  }
  return applied;
}

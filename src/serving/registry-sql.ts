// The registry's tables (src/db/migrations.ts, version 1) read and written inside the caller's
// transaction. An entry is stored as its parts: the model row (revision, traffic now), one row per
// version ever registered, every event, and every traffic split with the time it took effect.
import type { Queryable } from '../db/index.ts';
import type { ModelVersion, RegistryEntry, RegistryEvent, Traffic, TrafficChange } from './registry.ts';

/** Events an entry carries (the newest); `Registry.history` has them all. */
export const ENTRY_EVENTS = 100;

export function emptyEntry(name: string): RegistryEntry {
  return { format: 'mlpipe-registry/v1', name, revision: 0, versions: [], traffic: { primary: null }, events: [] };
}

interface ModelRow {
  revision: number;
  traffic: string;
}

interface EventRow {
  at: string;
  event: string;
  version: string;
  reason: string | null;
  revision: number;
}

const toEvent = (r: EventRow): RegistryEvent & { revision: number } => ({
  at: r.at,
  event: r.event,
  version: r.version,
  ...(r.reason !== null ? { reason: r.reason } : {}),
  revision: Number(r.revision),
});

/** The entry of `name`, or undefined; `forUpdate` locks its row until the transaction ends. */
export async function loadEntry(tx: Queryable, name: string, forUpdate = ''): Promise<RegistryEntry | undefined> {
  const [m] = await tx.all<ModelRow>(`SELECT revision, traffic FROM models WHERE name = $1${forUpdate}`, [name]);
  if (!m) return undefined;
  const versions = await tx.all<{ doc: string }>('SELECT doc FROM model_versions WHERE model = $1 AND withdrawn_at IS NULL ORDER BY id', [
    name,
  ]);
  const events = await tx.all<EventRow>(
    'SELECT at, event, version, reason, revision FROM model_events WHERE model = $1 ORDER BY id DESC LIMIT $2',
    [name, ENTRY_EVENTS],
  );
  return {
    format: 'mlpipe-registry/v1',
    name,
    revision: Number(m.revision),
    versions: versions.map((v) => JSON.parse(v.doc) as ModelVersion),
    traffic: JSON.parse(m.traffic) as Traffic,
    events: events
      .reverse()
      .map((r) => ({ at: r.at, event: r.event, version: r.version, ...(r.reason !== null ? { reason: r.reason } : {}) })),
  };
}

/**
 * Writes `next` over `cur` (as loaded in this transaction) as revision `cur.revision + 1`: new
 * versions inserted, dropped ones marked withdrawn (kept), appended events and a changed traffic
 * split recorded with the time `now`.
 */
export async function saveEntry(tx: Queryable, cur: RegistryEntry, next: RegistryEntry, now: string): Promise<RegistryEntry> {
  const name = cur.name;
  const revision = cur.revision + 1;
  const before = new Map(cur.versions.map((v) => [v.version, v]));
  const after = new Map(next.versions.map((v) => [v.version, v]));
  if (after.size !== next.versions.length) throw new Error(`model "${name}": the update lists a version twice`);
  for (const v of before.keys()) {
    if (!after.has(v))
      await tx.run('UPDATE model_versions SET withdrawn_at = $3 WHERE model = $1 AND version = $2 AND withdrawn_at IS NULL', [
        name,
        v,
        now,
      ]);
  }
  for (const [v, doc] of after) {
    const old = before.get(v);
    if (!old) {
      await tx.run('INSERT INTO model_versions (model, version, doc, created_at) VALUES ($1, $2, $3, $4)', [
        name,
        v,
        JSON.stringify(doc),
        doc.createdAt || now,
      ]);
    } else if (JSON.stringify(old) !== JSON.stringify(doc)) {
      await tx.run('UPDATE model_versions SET doc = $3 WHERE model = $1 AND version = $2 AND withdrawn_at IS NULL', [
        name,
        v,
        JSON.stringify(doc),
      ]);
    }
  }
  // Events are append-only: the ones past what the update was given are new.
  const events = next.events ?? []; // an update that built a new entry may leave them out
  for (const e of events.slice(cur.events.length)) {
    await tx.run('INSERT INTO model_events (model, revision, at, event, version, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
      name,
      revision,
      e.at || now,
      e.event,
      e.version,
      e.reason ?? null,
    ]);
  }
  const traffic = JSON.stringify(next.traffic);
  if (traffic !== JSON.stringify(cur.traffic)) {
    // Never before the previous change: writers on hosts whose clocks disagree still leave a
    // timeline in revision order, so "what served at T" has one answer.
    const [last] = await tx.all<{ at: string | null }>('SELECT MAX(at) AS at FROM model_traffic WHERE model = $1', [name]);
    const at = last?.at && last.at > now ? last.at : now;
    await tx.run('INSERT INTO model_traffic (model, revision, at, traffic) VALUES ($1, $2, $3, $4)', [name, revision, at, traffic]);
  }
  await tx.run('UPDATE models SET revision = $2, traffic = $3, updated_at = $4 WHERE name = $1', [name, revision, traffic, now]);
  return { ...next, format: 'mlpipe-registry/v1', name, revision, events: events.slice(-ENTRY_EVENTS) };
}

/** Makes sure `name` has a row (revision 0 until the transaction writes it), so it can be locked. */
export async function ensureModelRow(tx: Queryable, name: string, now: string): Promise<void> {
  await tx.run(
    'INSERT INTO models (name, revision, traffic, created_at, updated_at) VALUES ($1, 0, $2, $3, $3) ON CONFLICT (name) DO NOTHING',
    [name, JSON.stringify({ primary: null }), now],
  );
}

/** Every event of `name`, oldest first (or the newest `limit`), with the revision that made it. */
export async function eventsOf(q: Queryable, name: string, limit?: number): Promise<(RegistryEvent & { revision: number })[]> {
  const rows = await q.all<EventRow>(
    `SELECT at, event, version, reason, revision FROM model_events WHERE model = $1 ORDER BY id DESC${limit ? ' LIMIT $2' : ''}`,
    limit ? [name, limit] : [name],
  );
  return rows.reverse().map(toEvent);
}

interface TrafficRow {
  revision: number;
  at: string;
  traffic: string;
}

const toChange = (r: TrafficRow): TrafficChange => ({ revision: Number(r.revision), at: r.at, traffic: JSON.parse(r.traffic) as Traffic });

export async function trafficOf(q: Queryable, name: string): Promise<TrafficChange[]> {
  return (await q.all<TrafficRow>('SELECT revision, at, traffic FROM model_traffic WHERE model = $1 ORDER BY revision', [name])).map(
    toChange,
  );
}

/** The newest change at or before `at` (ISO times sort as text). */
export async function trafficAt(q: Queryable, name: string, at: Date): Promise<TrafficChange | undefined> {
  const [r] = await q.all<TrafficRow>(
    'SELECT revision, at, traffic FROM model_traffic WHERE model = $1 AND at <= $2 ORDER BY revision DESC LIMIT 1',
    [name, at.toISOString()],
  );
  return r && toChange(r);
}

export async function versionsOf(q: Queryable, name: string, withdrawn: boolean): Promise<(ModelVersion & { withdrawnAt?: string })[]> {
  const rows = await q.all<{ doc: string; withdrawn_at: string | null }>(
    `SELECT doc, withdrawn_at FROM model_versions WHERE model = $1${withdrawn ? '' : ' AND withdrawn_at IS NULL'} ORDER BY id`,
    [name],
  );
  return rows.map((r) => ({ ...(JSON.parse(r.doc) as ModelVersion), ...(r.withdrawn_at ? { withdrawnAt: r.withdrawn_at } : {}) }));
}

// The model server's request metrics and prediction log, persisted through the metadata database
// (migration 3: serving_requests, serving_rows) so that a restarted server, and the monitor
// stages and rollback rules that read it, still have the last window. Writes are buffered and
// flushed in one transaction per registry poll (and on stop): one database write per request
// would cost more than the request. Kept for `retentionMs` (default 24 h), then deleted.
import type { Db } from '../db/types.ts';
import type { LoggedRow, MetricEvent } from './metrics.ts';

export interface StoredEvent {
  version: string;
  e: MetricEvent;
  shadow: boolean;
}

const DAY = 24 * 3600 * 1000;
/** While the database cannot be written, at most this many requests and rows wait (the oldest go). */
const MAX_BUFFER = 100_000;

export class ServingLog {
  private events: { model: string; version: string; e: MetricEvent; shadow: boolean }[] = [];
  private rows: { model: string; version: string; t: number; row: Record<string, unknown> }[] = [];
  private lastPrune = 0;

  constructor(
    private readonly db: () => Promise<Db>,
    readonly retentionMs = DAY,
  ) {}

  event(model: string, version: string, e: MetricEvent, shadow = false): void {
    this.events.push({ model, version, e, shadow });
    if (this.events.length > MAX_BUFFER * 1.5) this.events.splice(0, this.events.length - MAX_BUFFER);
  }

  requestRows(model: string, version: string, rows: Record<string, unknown>[], t: number): void {
    for (const row of rows) this.rows.push({ model, version, t, row });
    if (this.rows.length > MAX_BUFFER * 1.5) this.rows.splice(0, this.rows.length - MAX_BUFFER);
  }

  /** Writes what is buffered; a failure keeps it for the next try (the server logs why). */
  async flush(now = Date.now()): Promise<void> {
    const events = this.events;
    const rows = this.rows;
    const prune = now - this.lastPrune > 60_000;
    if (!events.length && !rows.length && !prune) return;
    this.events = [];
    this.rows = [];
    const db = await this.db();
    try {
      await db.write(async (tx) => {
        for (const x of events) {
          await tx.run(
            'INSERT INTO serving_requests (model, version, t, ok, ms, hits, labelled, shadow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
            [x.model, x.version, x.e.t, x.e.ok ? 1 : 0, x.e.ms, x.e.hits ?? null, x.e.labelled ?? null, x.shadow ? 1 : 0],
          );
        }
        for (const r of rows)
          await tx.run('INSERT INTO serving_rows (model, version, t, row) VALUES ($1, $2, $3, $4)', [
            r.model,
            r.version,
            r.t,
            JSON.stringify(r.row),
          ]);
        if (prune) {
          await tx.run('DELETE FROM serving_requests WHERE t < $1', [now - this.retentionMs]);
          await tx.run('DELETE FROM serving_rows WHERE t < $1', [now - this.retentionMs]);
        }
      });
      if (prune) this.lastPrune = now;
    } catch (e) {
      this.events = [...events, ...this.events];
      this.rows = [...rows, ...this.rows];
      throw e;
    }
  }

  /** A model's newest requests (at most `maxEvents` per version) and rows (`maxRows`), oldest first. */
  async load(model: string, maxEvents: number, maxRows: number, now = Date.now()): Promise<{ events: StoredEvent[]; rows: LoggedRow[] }> {
    const db = await this.db();
    const since = now - this.retentionMs;
    return db.read(async (tx) => {
      const versions = await tx.all<{ version: string }>('SELECT DISTINCT version FROM serving_requests WHERE model = $1 AND t >= $2', [
        model,
        since,
      ]);
      const events: StoredEvent[] = [];
      for (const { version } of versions) {
        const got = await tx.all<{ t: unknown; ok: unknown; ms: unknown; hits: unknown; labelled: unknown; shadow: unknown }>(
          'SELECT t, ok, ms, hits, labelled, shadow FROM serving_requests WHERE model = $1 AND version = $2 ' +
            'AND t >= $3 ORDER BY id DESC LIMIT $4',
          [model, version, since, maxEvents],
        );
        for (const r of got.reverse()) {
          const e: MetricEvent = { t: Number(r.t), ok: Number(r.ok) === 1, ms: Number(r.ms) };
          if (r.hits !== null) e.hits = Number(r.hits);
          if (r.labelled !== null) e.labelled = Number(r.labelled);
          events.push({ version, e, shadow: Number(r.shadow) === 1 });
        }
      }
      const got = await tx.all<{ t: unknown; version: string; row: string }>(
        'SELECT t, version, row FROM serving_rows WHERE model = $1 AND t >= $2 ORDER BY id DESC LIMIT $3',
        [model, since, maxRows],
      );
      const rows = got.reverse().map((r) => ({ t: Number(r.t), version: r.version, row: JSON.parse(r.row) as Record<string, unknown> }));
      return { events, rows };
    });
  }
}

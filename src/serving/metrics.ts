// Per-version serving metrics and the recent-features log, both bounded in memory. Windows are
// by time (`sinceMs`) so monitor compares "the last hour" rather than "the last N requests".
import { quantile } from '../ml/data/dataset-stats.ts';
import type { RollbackRule } from './registry.ts';

export interface VersionMetrics {
  requests: number;
  errors: number;
  errorRate: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  /** Rows answered with feedback labels, and the share predicted right. */
  labelled: number;
  accuracy: number | null;
  shadow: boolean;
}

export interface MetricEvent {
  t: number;
  ok: boolean;
  ms: number;
  /** Correct prediction for a labelled row, per row. */
  hits?: number;
  labelled?: number;
}

export const MAX_EVENTS = 20_000;

export class MetricsBook {
  private events = new Map<string, MetricEvent[]>();
  private shadows = new Set<string>();

  record(version: string, e: MetricEvent, shadow = false): void {
    let list = this.events.get(version);
    if (!list) this.events.set(version, (list = []));
    list.push(e);
    // Trimmed in chunks: a splice of 20,000 entries on every request costs more than the request.
    if (list.length > 2 * MAX_EVENTS) list.splice(0, list.length - MAX_EVENTS);
    if (shadow) this.shadows.add(version);
  }

  summary(sinceMs = Infinity, now = Date.now()): Record<string, VersionMetrics> {
    const out: Record<string, VersionMetrics> = {};
    for (const [v, list] of this.events) {
      const es = list.slice(-MAX_EVENTS).filter((e) => now - e.t <= sinceMs);
      const lat = Float64Array.from(es.map((e) => e.ms)).sort();
      const errors = es.filter((e) => !e.ok).length;
      const labelled = es.reduce((a, e) => a + (e.labelled ?? 0), 0);
      const hits = es.reduce((a, e) => a + (e.hits ?? 0), 0);
      out[v] = {
        requests: es.length,
        errors,
        errorRate: es.length ? errors / es.length : 0,
        latencyP50Ms: lat.length ? quantile(lat, 0.5) : null,
        latencyP95Ms: lat.length ? quantile(lat, 0.95) : null,
        labelled,
        accuracy: labelled ? hits / labelled : null,
        shadow: this.shadows.has(v),
      };
    }
    return out;
  }
}

export interface LoggedRow {
  t: number;
  version: string;
  row: Record<string, unknown>;
}

/** The last `max` request rows of a model (raw features, as sent), for drift monitoring. */
export const FEATURE_ROWS = 5_000;

export class FeatureLog {
  private rows: LoggedRow[] = [];
  constructor(private readonly max = FEATURE_ROWS) {}
  add(version: string, rows: Record<string, unknown>[], t = Date.now()): void {
    for (const row of rows) this.rows.push({ t, version, row });
    // Trimmed in chunks (see MetricsBook.record); readers see the newest `max` only.
    if (this.rows.length > 2 * this.max) this.rows.splice(0, this.rows.length - this.max);
  }
  since(sinceMs = Infinity, now = Date.now()): LoggedRow[] {
    return this.rows.slice(-this.max).filter((r) => now - r.t <= sinceMs);
  }
}

/** Why a version's metrics break the rollback rule (empty: they do not). */
export function ruleBreaches(m: VersionMetrics | undefined, rule: RollbackRule | undefined): string[] {
  if (!m || !rule) return [];
  const out: string[] = [];
  if (rule.errorRateAbove !== undefined && m.requests > 0 && m.errorRate > rule.errorRateAbove) {
    out.push(`error rate ${m.errorRate.toFixed(4)} > ${rule.errorRateAbove}`);
  }
  if (rule.latencyP95AboveMs !== undefined && m.latencyP95Ms !== null && m.latencyP95Ms > rule.latencyP95AboveMs) {
    out.push(`latency p95 ${m.latencyP95Ms.toFixed(1)} ms > ${rule.latencyP95AboveMs} ms`);
  }
  if (rule.accuracyBelow !== undefined && m.accuracy !== null && m.accuracy < rule.accuracyBelow) {
    out.push(`accuracy ${m.accuracy.toFixed(4)} < ${rule.accuracyBelow}`);
  }
  return out;
}

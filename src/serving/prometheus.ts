// The model server's Prometheus metrics (GET /metrics, text format 0.0.4), one prom-client
// registry per server so two servers in one process (tests) do not share counters. Labels stay
// bounded: `model` is a served model's name or "" (unknown names are never copied into a label),
// `route` one of a fixed set, `version` a loaded registry version or "".
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type RouteLabel =
  | 'mlpipe:predict'
  | 'mlpipe:model'
  | 'mlpipe:metrics'
  | 'mlpipe:recent'
  | 'tfserving:predict'
  | 'tfserving:status'
  | 'tfserving:metadata'
  | 'v2:server'
  | 'v2:health'
  | 'v2:model'
  | 'v2:ready'
  | 'v2:infer'
  | 'health'
  | 'metrics'
  | 'unknown';

/** What one request touched, filled in as it is handled. */
export interface RequestLabels {
  route: RouteLabel;
  model: string;
  version: string;
}

export class ServingMetrics {
  readonly registry = new Registry();
  /** The last split set per model, so versions that left it lose their gauge. */
  private readonly splits = new Map<string, Record<string, number>>();
  private readonly requests = new Counter({
    name: 'mlpipe_serving_requests_total',
    help: 'HTTP requests by route, model, version and status code',
    labelNames: ['route', 'model', 'version', 'code'] as const,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'mlpipe_serving_errors_total',
    help: 'Failed requests: kind "client" (4xx: bad input, unknown model) or "server" (5xx: the version failed)',
    labelNames: ['route', 'model', 'version', 'kind'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'mlpipe_serving_request_duration_seconds',
    help: 'Time from request to response',
    labelNames: ['route', 'model', 'version'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly rows = new Counter({
    name: 'mlpipe_serving_predicted_rows_total',
    help: 'Rows answered, by the version that answered (the realised canary split)',
    labelNames: ['model', 'version', 'shadow'] as const,
    registers: [this.registry],
  });
  private readonly loadSeconds = new Gauge({
    name: 'mlpipe_serving_model_load_seconds',
    help: 'How long the last load of a version took (fetch, decode, compile)',
    labelNames: ['model', 'version'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  private readonly loadFailures = new Counter({
    name: 'mlpipe_serving_model_load_failures_total',
    help: 'Versions that could not be loaded',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  private readonly weight = new Gauge({
    name: 'mlpipe_serving_traffic_weight_percent',
    help: "The registry's traffic split: percent of requests each live version is meant to get",
    labelNames: ['model', 'version'] as const,
    // With --workers N every worker holds the same split: one copy, not N times it.
    aggregator: 'first',
    registers: [this.registry],
  });
  private readonly batchRequests = new Histogram({
    name: 'mlpipe_serving_batch_requests',
    help: 'Requests scored together in one pass of the model (micro-batching: above 1 when concurrent requests were batched)',
    labelNames: ['model', 'version'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  private readonly batchRows = new Histogram({
    name: 'mlpipe_serving_batch_rows',
    help: 'Rows scored in one pass of the model (at most --max-batch, unless one request alone has more)',
    labelNames: ['model', 'version'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({
    name: 'mlpipe_serving_requests_in_flight',
    help: 'HTTP requests received (headers read) and not yet answered, this one included',
    registers: [this.registry],
  });
  private readonly ready = new Gauge({
    name: 'mlpipe_serving_ready',
    help: '1 when every registered model has a servable version (the readiness probe passes); with --workers, in every worker',
    aggregator: 'min',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mlpipe_serving_' });
  }

  /** A request has arrived; `request()` counts it once answered. */
  started(): void {
    this.inFlight.inc();
  }

  request(l: RequestLabels, code: number, seconds: number): void {
    this.inFlight.dec();
    this.requests.inc({ ...l, code: String(code) });
    this.latency.observe(l, seconds);
    if (code >= 400) this.errors.inc({ ...l, kind: code >= 500 ? 'server' : 'client' });
  }

  answered(model: string, version: string, rows: number, shadow = false): void {
    this.rows.inc({ model, version, shadow: String(shadow) }, rows);
  }

  batched(model: string, version: string, requests: number, rows: number): void {
    this.batchRequests.observe({ model, version }, requests);
    this.batchRows.observe({ model, version }, rows);
  }

  loaded(model: string, version: string, seconds: number): void {
    this.loadSeconds.set({ model, version }, seconds);
  }

  loadFailed(model: string, version: string): void {
    this.loadFailures.inc({ model, version });
  }

  /** The split of one model, replacing what it was. */
  traffic(model: string, split: Record<string, number>): void {
    for (const v of Object.keys(this.splits.get(model) ?? {})) if (!(v in split)) this.weight.remove({ model, version: v });
    for (const [v, w] of Object.entries(split)) this.weight.set({ model, version: v }, w);
    this.splits.set(model, split);
  }

  setReady(ok: boolean): void {
    this.ready.set(ok ? 1 : 0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

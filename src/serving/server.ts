// The model server: serves every model in the registry over HTTP (node:http) and follows the
// registry as deploys and rollbacks change it (polling each entry's revision, so it works the
// same on every file system). Routes (docs/serving.md):
//   POST /v1/models/<name>:predict   mlpipe's own: {"instances": [{col: value, ...}], "labels"?: [...]}
//                                    TF Serving's: any other body, or one with "signature_name"
//   POST /v1/models/<name>/versions/<n>:predict, /labels/<label>:predict   (TF Serving, pinned)
//   GET  /v1/models/<name>[/versions/<n>]   versions, the traffic split and TF Serving's model status
//   GET  /v1/models/<name>[/versions/<n>]/metadata   TF Serving's signature_def
//   GET  /v1/models/<name>/metrics?window=1h   per version: requests, errors, latency p50/p95
//   GET  /v1/models/<name>/recent?window=1h    recent request rows (drift monitoring)
//   /v2/...                          KServe Open Inference Protocol v2 (protocols/kserve-v2.ts)
//   GET  /healthz, /livez (liveness), /readyz (readiness), /metrics (Prometheus)
// Feedback (`labels`) and /recent need the bearer token (src/serving/auth.ts) and are off without one.
// Requests are turned into features by the version's saved transform (src/ml/data/preprocess.ts
// applyTransform: the exact fitted steps of training, so no training/serving skew), in
// score.ts, which the batch `predict` stage shares: served and batch predictions agree.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStore, type ArtifactStore } from '../artifacts/index.ts';
import { selectBackend } from '../ml/runtime/backend.ts';
import { Rng } from '../ml/data/rng.ts';
import { DataError } from '../ml/data/sources.ts';
import { parseDuration } from '../core/duration.ts';
// Scoring shared with the batch `predict` stage, so both give the same answer for a row.
import { checkFinite, disposeScoringModel, loadScoringModel, resultsOf, type ScoringModel } from './score.ts';
import { applyTransform } from '../ml/data/preprocess.ts';
import { DEFAULT_BATCH, MicroBatcher, type BatchOptions } from './micro-batch.ts';
import { bearerMatches, TOKEN_FILE_ENV } from './auth.ts';
import { FEATURE_ROWS, FeatureLog, MAX_EVENTS, MetricsBook, ruleBreaches, type MetricEvent } from './metrics.ts';
import { ServingLog } from './serving-log.ts';
import writeFileAtomic from 'write-file-atomic';
import { liveVersions, Registry, settleCandidate, type ModelVersion, type RegistryEntry } from './registry.ts';
import { ServingMetrics, type RequestLabels } from './prometheus.ts';
import type { RowResult, Signature } from './signature.ts';
import * as tfs from './protocols/tfserving.ts';
import * as v2 from './protocols/kserve-v2.ts';
import { labelsOf, resolveVersion, versionNumber } from './protocols/versions.ts';

export interface ServerOptions {
  registry?: Registry;
  store?: ArtifactStore;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Seed of canary routing (deterministic splits in tests); default random. */
  seed?: number;
  /** How often the registry is re-read (ms, default 500). */
  pollMs?: number;
  /** Write `<registry>/_server.json` so deploys find this server (default true). */
  advertise?: boolean;
  /** Serve HTTPS with this PEM certificate chain and key (mlpipe serve --tls-cert/--tls-key). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Limits, each answered with a 4xx and its reason: body bytes (413, default 10 MiB, also after
   *  gzip/deflate), rows per request (413, default 10,000), time to receive the body (408, default 30 s). */
  maxBodyBytes?: number;
  maxRows?: number;
  bodyTimeoutMs?: number;
  /** How long stop() lets requests in flight finish before cutting their connections (ms, default 10 s). */
  shutdownGraceMs?: number;
  /** Bearer token for feedback and the request log; without one both are off. */
  authToken?: string;
  /** Micro-batching of concurrent requests per version (micro-batch.ts): rows per pass, longest wait. */
  batch?: Partial<BatchOptions>;
  /** Persist request metrics and the request log in the metadata database (serving-log.ts; default true). */
  persistLog?: boolean;
  /** Set in a worker of `mlpipe serve --workers N` (cluster.ts): readiness and /metrics span every worker. */
  cluster?: ClusterHooks;
  log?: (line: string) => void;
}

interface Loaded extends ScoringModel {
  version: ModelVersion;
  batcher: MicroBatcher;
}

function unload(l: Loaded): void {
  // Requests already queued for this version are answered by it before it goes.
  l.batcher.flush();
  disposeScoringModel(l);
}

interface Served {
  entry: RegistryEntry;
  versions: Map<string, Loaded>;
  metrics: MetricsBook;
  features: FeatureLog;
  /** Live versions that failed to load, with why (model status, readiness). */
  failed: Map<string, string>;
}

export interface ClusterHooks {
  /** This worker's number (1…N). */
  id: number;
  /** Why the other workers are not ready (empty: all are). */
  reasons(): string[];
  /** Prometheus text summed over every worker. */
  metrics(): Promise<string>;
  /** This worker's own readiness, after every registry sync and on stop. */
  readiness(r: { ready: boolean; reasons: string[] }): void;
}

export interface Prediction {
  label?: string | number;
  probabilities?: number[];
  value?: number;
  /** Columns sent that the model does not use (an id), echoed back. */
  passthrough?: Record<string, unknown>;
}

const MAX_BODY = 10 * 1024 * 1024;
const MAX_ROWS = 10_000;
const BODY_TIMEOUT_MS = 30_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function serverFile(registry: Registry): string {
  return join(registry.dir, '_server.json');
}

export class ModelServer {
  readonly registry: Registry;
  private readonly store: ArtifactStore;
  private readonly models = new Map<string, Served>();
  private readonly rng: Rng;
  private http?: Server | TlsServer;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private synced = false;
  /** The registry's model names at the last sync (readiness is answered without a database read). */
  private registeredNames: string[] = [];
  private stopping = false;
  /** POST requests whose body is still being read: a batch waits for them (up to maxWait). */
  private receiving = 0;
  private readonly batch: BatchOptions;
  private readonly servingLog?: ServingLog;
  /** Prometheus metrics (GET /metrics). */
  readonly prom = new ServingMetrics();
  url = '';

  constructor(private readonly o: ServerOptions = {}) {
    this.registry = o.registry ?? new Registry();
    this.store = o.store ?? defaultStore();
    this.rng = new Rng(o.seed ?? Math.floor(Math.random() * 2 ** 31));
    this.batch = { ...DEFAULT_BATCH, ...o.batch };
    if (o.persistLog !== false) this.servingLog = new ServingLog(() => this.registry.database());
  }

  async start(): Promise<string> {
    selectBackend();
    await this.sync();
    this.synced = true;
    this.prom.setReady(this.ownReadiness().ready);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.http = this.o.tls ? createTlsServer({ cert: this.o.tls.cert, key: this.o.tls.key }, handler) : createServer(handler);
    const host = this.o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.o.port ?? 0, host, () => resolve());
    });
    const addr = this.http.address() as AddressInfo;
    this.url = `${this.o.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    this.o.cluster?.readiness(this.ownReadiness());
    if (this.o.advertise !== false) {
      mkdirSync(this.registry.dir, { recursive: true });
      const info = { url: this.url, pid: process.pid, startedAt: new Date().toISOString(), auth: !!this.o.authToken };
      writeFileAtomic.sync(serverFile(this.registry), JSON.stringify(info));
    }
    const tick = () => {
      this.polling = this.sync()
        .catch((e: Error) => this.o.log?.(`registry sync failed: ${e.message}`))
        .then(() => this.flushLog());
      void this.polling.then(() => {
        if (this.http) this.timer = setTimeout(tick, this.o.pollMs ?? 500);
      });
    };
    this.timer = setTimeout(tick, this.o.pollMs ?? 500);
    return this.url;
  }

  async stop(): Promise<void> {
    const http = this.http;
    this.http = undefined;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.polling;
    if (http) {
      // Graceful: no new connections, idle keep-alive ones closed now, requests in flight answered
      // (readiness already says "shutting down"); whatever is left after the grace is cut.
      this.prom.setReady(false);
      this.o.cluster?.readiness(this.ownReadiness());
      // A connection that answers its last request then idles closes at once, not after 5 s of keep-alive.
      http.keepAliveTimeout = 50;
      const closed = new Promise<void>((r) => http.close(() => r()));
      http.closeIdleConnections();
      const cut = setTimeout(() => http.closeAllConnections(), this.o.shutdownGraceMs ?? 10_000);
      await closed;
      clearTimeout(cut);
    }
    await this.flushLog();
    if (this.o.advertise !== false) rmSync(serverFile(this.registry), { force: true });
    for (const s of this.models.values()) for (const l of s.versions.values()) unload(l);
    this.models.clear();
  }

  private async flushLog(): Promise<void> {
    await this.servingLog?.flush().catch((e: Error) => this.o.log?.(`cannot write the serving log (kept for the next try): ${e.message}`));
  }

  /** Load what the registry says is live; drop what is no longer; settle canaries past their duration. */
  async sync(): Promise<void> {
    const names = await this.registry.names();
    this.registeredNames = names;
    for (const name of names) {
      let entry: RegistryEntry | undefined;
      try {
        entry = await this.registry.get(name);
      } catch (e) {
        this.o.log?.(`registry entry ${name}: ${(e as Error).message}`);
        continue;
      }
      if (!entry) continue;
      let s = this.models.get(name);
      if (s && s.entry.revision === entry.revision) {
        await this.settleIfDue(s);
        continue;
      }
      if (!s) {
        s = { entry, versions: new Map(), metrics: new MetricsBook(), features: new FeatureLog(), failed: new Map() };
        await this.restore(s);
      }
      const live = liveVersions(entry);
      const loaded = new Map<string, Loaded>();
      for (const v of live) {
        const have = s.versions.get(v);
        if (have) {
          loaded.set(v, have);
          continue;
        }
        const version = entry.versions.find((x) => x.version === v);
        if (!version) continue;
        const t0 = performance.now();
        try {
          loaded.set(v, await this.load(name, version));
          this.prom.loaded(name, v, (performance.now() - t0) / 1000);
          s.failed.delete(v);
          this.o.log?.(`${name} ${v}: loaded`);
        } catch (e) {
          this.prom.loadFailed(name, v);
          s.failed.set(v, (e as Error).message);
          this.o.log?.(`${name} ${v}: cannot load: ${(e as Error).message}`);
        }
      }
      for (const v of s.failed.keys()) if (!live.includes(v)) s.failed.delete(v);
      for (const [v, l] of s.versions) if (!loaded.has(v)) unload(l);
      s.versions = loaded;
      s.entry = entry;
      this.models.set(name, s);
      this.prom.traffic(name, split(entry));
      await this.settleIfDue(s);
    }
    const own = this.ownReadiness();
    this.prom.setReady(own.ready);
    if (this.http) this.o.cluster?.readiness(own);
  }

  /**
   * Ready: the first registry sync is done, not stopping, every model has a version to answer and,
   * with --workers N, every other worker is ready too (a load balancer may send the next request
   * to any of them).
   */
  readiness(): { ready: boolean; reasons: string[] } {
    const own = this.ownReadiness();
    const reasons = [...own.reasons, ...(this.o.cluster?.reasons() ?? [])];
    return { ready: reasons.length === 0, reasons };
  }

  private ownReadiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.synced) reasons.push('loading the registry');
    if (this.stopping) reasons.push('shutting down');
    for (const name of this.registeredNames) {
      const s = this.models.get(name);
      // A model with no live version (every one withdrawn) has nothing to load: not a reason.
      if (s && liveVersions(s.entry).length === 0) continue;
      if (!s || !this.route(s, true))
        reasons.push(
          `model ${name} has no loaded version${s?.failed.size ? ` (${[...s.failed].map(([v, e]) => `${v}: ${e}`).join('; ')})` : ''}`,
        );
    }
    return { ready: reasons.length === 0, reasons };
  }

  private async load(name: string, v: ModelVersion): Promise<Loaded> {
    const m = await loadScoringModel(this.store, v.model, v.transform);
    const batcher = new MicroBatcher(
      (x) => resultsOf(m, x, m.meta.classes ?? m.transform?.classes),
      this.batch,
      () => this.receiving > 0,
      (requests, rows) => this.prom.batched(name, v.version, requests, rows),
    );
    return { version: v, ...m, batcher };
  }

  /** A request has been read (or refused): batches that waited for it may go now. */
  private arrivedOne(): void {
    if (--this.receiving > 0) return;
    for (const s of this.models.values()) for (const l of s.versions.values()) l.batcher.arrived();
  }

  /** A canary observed for its whole duration is promoted, or rolled back if it breaks the rule. */
  private async settleIfDue(s: Served): Promise<void> {
    const c = s.entry.traffic.candidate;
    if (c?.mode !== 'canary' || c.durationMs === undefined) return;
    const started = Date.parse(c.startedAt);
    if (Date.now() - started < c.durationMs) return;
    const m = s.metrics.summary(Date.now() - started)[c.version];
    const why = ruleBreaches(m, c.rollback);
    const next = await this.registry.update(s.entry.name, (e) =>
      e.traffic.candidate?.version === c.version
        ? settleCandidate(
            e,
            why.length ? 'rollback' : 'promote',
            why.length ? why.join('; ') : `healthy for ${c.durationMs} ms (${m?.requests ?? 0} requests)`,
          )
        : e,
    );
    this.o.log?.(`${s.entry.name} ${c.version}: ${next.traffic.primary === c.version ? 'promoted' : 'rolled back'}`);
  }

  /** The version a request goes to: the canary gets `weight`% of requests. `peek`: no draw. */
  private route(s: Served, peek = false): string | undefined {
    const c = s.entry.traffic.candidate;
    if (!peek && c?.mode === 'canary' && s.versions.has(c.version) && this.rng.next() * 100 < c.weight) return c.version;
    const p = s.entry.traffic.primary;
    if (p && s.versions.has(p)) return p;
    return c?.mode === 'canary' && s.versions.has(c.version) ? c.version : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const at: RequestLabels = { route: 'unknown', model: '', version: '' };
    this.prom.started();
    // 'close' also fires when the client goes away mid-answer, which is worth counting too.
    res.once('close', () => this.prom.request(at, res.statusCode, (performance.now() - t0) / 1000));
    // Every POST is a prediction on its way: micro-batches wait for it until it is read (or refused).
    let reading = req.method === 'POST';
    if (reading) this.receiving++;
    const arrived = () => {
      if (!reading) return;
      reading = false;
      this.arrivedOne();
    };
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      if (path === '/metrics' || path === '/healthz' || path === '/livez' || path === '/readyz') {
        if (req.method !== 'GET') throw new HttpError(405, `${path} takes GET`);
        at.route = path === '/metrics' ? 'metrics' : 'health';
        if (path === '/metrics') return sendText(res, 200, await (this.o.cluster?.metrics() ?? this.prom.text()), this.prom.contentType);
        if (path === '/livez') return send(res, 200, { live: true });
        const r = this.readiness();
        if (path === '/readyz') return send(res, r.ready ? 200 : 503, r);
        const worker = this.o.cluster ? { worker: { id: this.o.cluster.id, pid: process.pid } } : {};
        return send(res, 200, { ok: true, ready: r.ready, models: [...this.models.keys()], ...worker });
      }
      if (path === '/v2' || path.startsWith('/v2/')) return await this.v2(req, res, path, at, arrived);
      const m =
        /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(:predict|:classify|:regress|\/metadata|\/metrics|\/recent)?$/.exec(
          path,
        );
      if (!m) throw new HttpError(404, `no route ${req.method} ${path}`);
      const [, name, number, label, op] = m;
      const s = this.served(name!);
      at.model = s.entry.name;
      const pinned = number !== undefined || label !== undefined ? this.pin(s, number, label) : undefined;
      if (op === ':classify' || op === ':regress') {
        at.route = 'tfserving:predict';
        throw new tfs.TfError(
          400,
          `${op.slice(1)} takes tf.Example inputs, which mlpipe models do not export; ` +
            `use ${path.replace(op, ':predict')} (signatures serving_default and predict)`,
        );
      }
      if (op === ':predict') {
        if (req.method !== 'POST') throw new HttpError(405, 'predict takes POST');
        const body = parseJson(await this.body(req));
        if (isMlpipeBody(body)) {
          at.route = 'mlpipe:predict';
          return send(res, 200, await this.predict(s, body, req, pinned, at, arrived));
        }
        at.route = 'tfserving:predict';
        const l = this.pick(s, pinned, at);
        const r = tfs.parsePredict(body, signature(l));
        return send(res, 200, tfs.predictResponse(r, await this.answer(s, l, r.rows, { pinned: !!pinned, arrived })));
      }
      if (req.method !== 'GET') throw new HttpError(405, `${path} takes GET`);
      if (op === '/metadata') {
        at.route = 'tfserving:metadata';
        const l = this.pick(s, pinned ?? this.route(s, true), at);
        return send(res, 200, tfs.metadataResponse(s.entry.name, versionNumber(l.version), signature(l)));
      }
      if (pinned) {
        at.route = 'tfserving:status';
        at.version = pinned;
        return send(res, 200, tfs.statusResponse([this.state(s, pinned)]));
      }
      const window = windowOf(url);
      if (op === '/metrics') {
        at.route = 'mlpipe:metrics';
        return send(res, 200, { model: s.entry.name, windowMs: window, versions: s.metrics.summary(window) });
      }
      if (op === '/recent') {
        at.route = 'mlpipe:recent';
        this.authorize(req, 'the request log (/recent: raw rows as sent)');
        return send(res, 200, { model: s.entry.name, windowMs: window, rows: s.features.since(window) });
      }
      at.route = 'mlpipe:model';
      // mlpipe's description and TF Serving's model status in one answer (their keys do not clash).
      return send(res, 200, {
        ...(describe(s) as object),
        ...(tfs.statusResponse(liveVersions(s.entry).map((v) => this.state(s, v))) as object),
      });
    } catch (e) {
      const status =
        e instanceof HttpError || e instanceof tfs.TfError || e instanceof v2.V2Error ? e.status : e instanceof DataError ? 400 : 500;
      send(res, status, { error: (e as Error).message }, e instanceof HttpError ? e.headers : {});
    } finally {
      arrived();
    }
  }

  /** KServe Open Inference Protocol v2 (protocols/kserve-v2.ts). */
  private async v2(req: IncomingMessage, res: ServerResponse, path: string, at: RequestLabels, arrived: () => void): Promise<void> {
    if (path === '/v2' || path === '/v2/health/live' || path === '/v2/health/ready') {
      if (req.method !== 'GET') throw new v2.V2Error(405, `${path} takes GET`);
      at.route = path === '/v2' ? 'v2:server' : 'v2:health';
      if (path === '/v2') return send(res, 200, v2.serverMetadata);
      if (path === '/v2/health/live') return send(res, 200, { live: true });
      const r = this.readiness();
      return send(res, r.ready ? 200 : 503, r.ready ? { ready: true } : { ready: false, error: r.reasons.join('; ') });
    }
    const m = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/.exec(path);
    if (!m) throw new v2.V2Error(404, `no route ${req.method} ${path}`);
    const [, name, version, op] = m;
    const s = this.served(decodePart(name!));
    at.model = s.entry.name;
    let pinned: string | undefined;
    if (version !== undefined) {
      pinned = resolveVersion(s.entry, { name: decodePart(version) });
      if (!pinned)
        throw new v2.V2Error(
          404,
          `model ${s.entry.name} has no version ${JSON.stringify(version)} ` +
            `(versions: ${s.entry.versions.map((x) => `${versionNumber(x)} (${x.version})`).join(', ')})`,
        );
    }
    if (op === '/infer') {
      if (req.method !== 'POST') throw new v2.V2Error(405, 'infer takes POST');
      at.route = 'v2:infer';
      const body = await this.body(req);
      const l = this.pick(s, pinned, at);
      const r = v2.parseInfer(body, header(req, 'inference-header-content-length'), signature(l));
      const out = v2.inferResponse(
        s.entry.name,
        String(versionNumber(l.version)),
        r,
        await this.answer(s, l, r.rows, { pinned: !!pinned, arrived }),
      );
      const headers: Record<string, string | number> = {
        'content-type': out.headerLength === undefined ? 'application/json' : 'application/octet-stream',
        'content-length': out.body.length,
      };
      if (out.headerLength !== undefined) headers['inference-header-content-length'] = out.headerLength;
      res.writeHead(200, headers);
      res.end(out.body);
      return;
    }
    if (req.method !== 'GET') throw new v2.V2Error(405, `${path} takes GET`);
    if (op === '/ready') {
      at.route = 'v2:ready';
      const l = this.pick(s, pinned ?? this.route(s, true), at);
      return send(res, 200, { name: s.entry.name, ready: true, version: String(versionNumber(l.version)) });
    }
    at.route = 'v2:model';
    const l = this.pick(s, pinned ?? this.route(s, true), at);
    const versions = pinned ? [l.version] : [...s.versions.values()].map((x) => x.version);
    return send(
      res,
      200,
      v2.modelMetadata(
        s.entry.name,
        versions.map((x) => String(versionNumber(x))),
        signature(l),
      ),
    );
  }

  /** The body within the size and time limits, inflated when sent gzip/deflate (tritonclient's request compression). */
  private body(req: IncomingMessage): Promise<Buffer> {
    const max = this.o.maxBodyBytes ?? MAX_BODY;
    const ms = this.o.bodyTimeoutMs ?? BODY_TIMEOUT_MS;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      const done = (e?: Error) => {
        clearTimeout(timer);
        req.removeListener('data', data);
        if (e) return reject(e);
        resolve(Buffer.concat(chunks));
      };
      // A client that never finishes its body would hold a connection (and shutdown) forever.
      // Refused before its end, the rest of the body is not read: the answer closes the connection.
      const close = { connection: 'close' };
      const timer = setTimeout(
        () => done(new HttpError(408, `the request body did not arrive within ${ms} ms (mlpipe serve --body-timeout)`, close)),
        ms,
      );
      const data = (c: Buffer) => {
        n += c.length;
        if (n > max) done(new HttpError(413, `request body over ${max} bytes (mlpipe serve --max-body)`, close));
        else chunks.push(c);
      };
      req.on('data', data);
      req.once('end', () => done());
      req.once('error', (e) => done(e));
    }).then((body) => {
      const enc = header(req, 'content-encoding');
      if (!enc || enc === 'identity') return body;
      if (enc !== 'gzip' && enc !== 'deflate') throw new HttpError(415, `content-encoding ${enc} is not supported (gzip, deflate)`);
      try {
        return enc === 'gzip' ? gunzipSync(body, { maxOutputLength: max }) : inflateSync(body, { maxOutputLength: max });
      } catch (e) {
        const over = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        throw new HttpError(
          over ? 413 : 400,
          over
            ? `request body over ${max} bytes once inflated (mlpipe serve --max-body)`
            : `cannot inflate the ${enc} body: ${(e as Error).message}`,
        );
      }
    });
  }

  private served(name: string): Served {
    const s = this.models.get(name);
    if (!s)
      throw new HttpError(404, `no model ${JSON.stringify(name)} is deployed (models: ${[...this.models.keys()].join(', ') || 'none'})`);
    return s;
  }

  /** The registry version a /versions/<n> or /labels/<label> path names (404 if none). */
  private pin(s: Served, number?: string, label?: string): string {
    const v = resolveVersion(s.entry, { number, label });
    if (v) return v;
    throw new HttpError(
      404,
      number !== undefined
        ? `Servable not found for request: Specific(${s.entry.name}, ${number}) ` +
            `(versions: ${s.entry.versions.map((x) => `${versionNumber(x)} (${x.version})`).join(', ')})`
        : `Unrecognized servable version label: ${label} (labels: stable, canary, or a version name ` +
            `like ${s.entry.versions.at(-1)?.version ?? 'v1'})`,
    );
  }

  /** The loaded version a request goes to: the pinned one, or the traffic split's pick. */
  private pick(s: Served, pinned: string | undefined, at: RequestLabels): Loaded {
    const version = pinned ?? this.route(s);
    if (!version) throw new HttpError(503, `model ${s.entry.name} has no loadable version`);
    const l = s.versions.get(version);
    if (!l) {
      const why = s.failed.get(version);
      if (why) throw new HttpError(503, `version ${version} of ${s.entry.name} failed to load: ${why}`);
      throw new HttpError(
        404,
        'Servable not found for request: ' +
          `Specific(${s.entry.name}, ${versionNumber(s.entry.versions.find((x) => x.version === version)!)}): ` +
          `version ${version} is not live (live: ${[...s.versions.keys()].join(', ') || 'none'})`,
      );
    }
    at.version = version;
    return l;
  }

  private state(s: Served, version: string): tfs.VersionState {
    const v = s.entry.versions.find((x) => x.version === version)!;
    const number = versionNumber(v);
    if (s.versions.has(version)) return { number, state: 'AVAILABLE' };
    const why = s.failed.get(version);
    if (why) return { number, state: 'END', error: why };
    return { number, state: liveVersions(s.entry).includes(version) ? 'LOADING' : 'END' };
  }

  /** Feedback and the request log: only with the server's token, and off when it has none. */
  private authorize(req: IncomingMessage, what: string): void {
    const token = this.o.authToken;
    if (!token) {
      throw new HttpError(
        403,
        `${what} is disabled: this server has no auth token; start it with --auth-token-file <file> (or ${TOKEN_FILE_ENV})`,
      );
    }
    if (!bearerMatches(token, req.headers.authorization)) {
      throw new HttpError(401, `${what} needs the header "Authorization: Bearer <token>" with this server's token`, {
        'www-authenticate': 'Bearer realm="mlpipe"',
      });
    }
  }

  /** mlpipe's own route: labels, probabilities, pass-through columns, the version that answered. */
  private async predict(
    s: Served,
    body: unknown,
    req: IncomingMessage,
    pinned: string | undefined,
    at: RequestLabels,
    arrived: () => void,
  ): Promise<unknown> {
    const b = body as { instances?: unknown; labels?: unknown };
    if (
      !b ||
      typeof b !== 'object' ||
      !Array.isArray(b.instances) ||
      b.instances.some((r) => !r || typeof r !== 'object' || Array.isArray(r))
    ) {
      throw new HttpError(400, 'send {"instances": [{"<column>": value, ...}, ...]}');
    }
    const rows = b.instances as Record<string, unknown>[];
    let labels: unknown[] | undefined;
    if (b.labels !== undefined) {
      // Feedback moves accuracy, which can roll a canary back: only from who holds the token.
      this.authorize(req, 'feedback (`labels`)');
      if (!Array.isArray(b.labels) || b.labels.length !== rows.length) {
        throw new HttpError(400, `labels: send an array with one label per instance (${rows.length})`);
      }
      labels = b.labels;
    }
    const l = this.pick(s, pinned, at);
    const out = await this.answer(s, l, rows, { labels, pinned: !!pinned, arrived });
    const used = new Set(l.signature?.inputs.map((c) => c.name));
    const predictions: Prediction[] = out.map((r, i) => {
      const p: Prediction =
        r.value !== undefined ? { value: r.value } : { label: r.label, ...(r.probabilities ? { probabilities: r.probabilities } : {}) };
      const extra = Object.entries(rows[i]!).filter(([k]) => !used.has(k));
      if (extra.length) p.passthrough = Object.fromEntries(extra);
      return p;
    });
    return { model: s.entry.name, version: l.version.version, predictions };
  }

  /** Run `rows` on version `l` and record it (metrics, the feature log, a shadow copy), for every protocol. */
  private async answer(
    s: Served,
    l: Loaded,
    rows: Record<string, unknown>[],
    o: { labels?: unknown[]; pinned: boolean; arrived: () => void },
  ): Promise<RowResult[]> {
    const max = this.o.maxRows ?? MAX_ROWS;
    // One huge batch holds the (single) event loop for every other client: refuse it with the way out.
    if (rows.length > max)
      throw new HttpError(
        413,
        `${rows.length} rows in one request; the limit is ${max} (mlpipe serve --max-rows): send them in smaller requests`,
      );
    const version = l.version.version;
    const t0 = performance.now();
    let out: RowResult[];
    try {
      const x = this.features(l, rows);
      // Read and checked: a batch need not wait for this request any more.
      o.arrived();
      out = await l.batcher.submit(x);
      checkFinite(`version ${version}`, out);
    } catch (e) {
      // Bad input is the caller's error (400), not the version's; anything else counts against it.
      if (!(e instanceof DataError)) this.record(s, version, { t: Date.now(), ok: false, ms: performance.now() - t0 });
      throw e;
    }
    this.record(s, version, { t: Date.now(), ok: true, ms: performance.now() - t0, ...score(out, o.labels) });
    const now = Date.now();
    s.features.add(version, rows, now);
    this.servingLog?.requestRows(s.entry.name, version, rows, now);
    this.prom.answered(s.entry.name, version, rows.length);
    const c = s.entry.traffic.candidate;
    const shadow = c?.mode === 'shadow' ? s.versions.get(c.version) : undefined;
    // A pinned request asked for one version: it is not the traffic a shadow mirrors.
    // The shadow's copy is scored after the answer is sent; its result is only measured.
    if (!o.pinned && shadow) setImmediate(() => void this.shadow(s, shadow, rows, o.labels));
    return out;
  }

  private async shadow(s: Served, l: Loaded, rows: Record<string, unknown>[], labels?: unknown[]): Promise<void> {
    const version = l.version.version;
    const t1 = performance.now();
    try {
      // Still live? A sync may have unloaded it since the answer.
      if (s.versions.get(version) !== l) return;
      const so = await l.batcher.submit(this.features(l, rows));
      checkFinite(`version ${version}`, so);
      this.record(s, version, { t: Date.now(), ok: true, ms: performance.now() - t1, ...score(so, labels) }, true);
      this.prom.answered(s.entry.name, version, rows.length, true);
    } catch {
      this.record(s, version, { t: Date.now(), ok: false, ms: performance.now() - t1 }, true);
    }
  }

  /** A request in the in-memory metrics and, persisted at the next flush, the serving log. */
  private record(s: Served, version: string, e: MetricEvent, shadow = false): void {
    s.metrics.record(version, e, shadow);
    this.servingLog?.event(s.entry.name, version, e, shadow);
  }

  /** What an earlier server (or another worker) logged for this model: its metrics and rows. */
  private async restore(s: Served): Promise<void> {
    if (!this.servingLog) return;
    try {
      const { events, rows } = await this.servingLog.load(s.entry.name, MAX_EVENTS, FEATURE_ROWS);
      for (const x of events) s.metrics.record(x.version, x.e, x.shadow);
      for (const r of rows) s.features.add(r.version, [r.row], r.t);
    } catch (e) {
      this.o.log?.(`${s.entry.name}: cannot read the serving log: ${(e as Error).message}`);
    }
  }

  /** Raw rows → the version's features through its saved transform (DataError naming row and column). */
  private features(l: Loaded, rows: Record<string, unknown>[]): { data: Float32Array; shape: number[] } {
    const t = l.transform;
    if (!t) throw new HttpError(500, `version ${l.version.version} has no transform; deploy it with its preprocess stage's transform`);
    return applyTransform(t, rows);
  }
}

/** mlpipe's own body: rows as objects and no TF Serving `signature_name` (docs/serving.md). */
function isMlpipeBody(body: unknown): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  return (
    b.signature_name === undefined &&
    b.inputs === undefined &&
    Array.isArray(b.instances) &&
    b.instances.every((r) => !!r && typeof r === 'object' && !Array.isArray(r))
  );
}

function signature(l: Loaded): Signature {
  if (!l.signature)
    throw new HttpError(500, `version ${l.version.version} has no transform; deploy it with its preprocess stage's transform`);
  return l.signature;
}

function score(out: RowResult[], labels?: unknown[]): { hits?: number; labelled?: number } {
  if (!labels) return {};
  let hits = 0;
  out.forEach((p, i) => {
    if (p.label !== undefined && String(p.label) === String(labels[i])) hits++;
  });
  return { hits, labelled: labels.length };
}

/** Percent of requests per version, as the registry's traffic says. */
function split(e: RegistryEntry): Record<string, number> {
  const t = e.traffic;
  const out: Record<string, number> = {};
  if (t.primary) out[t.primary] = 100;
  if (t.candidate?.mode === 'canary') {
    if (t.primary) out[t.primary] = 100 - t.candidate.weight;
    out[t.candidate.version] = t.primary ? t.candidate.weight : 100;
  }
  return out;
}

function describe(s: Served): unknown {
  const t = s.entry.traffic;
  return {
    name: s.entry.name,
    revision: s.entry.revision,
    primary: t.primary,
    candidate: t.candidate ?? null,
    traffic: split(s.entry),
    shadow: t.candidate?.mode === 'shadow' ? t.candidate.version : null,
    loaded: [...s.versions.keys()],
    versions: s.entry.versions.map((v) => ({
      version: v.version,
      number: versionNumber(v),
      labels: labelsOf(s.entry, v.version),
      createdAt: v.createdAt,
      source: v.source,
      model: v.model.digest,
    })),
  };
}

function windowOf(url: URL): number {
  const w = url.searchParams.get('window');
  if (!w) return Infinity;
  try {
    return parseDuration(w);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
}

/** A percent-encoded path segment (tritonclient quotes model names); malformed is the caller's 400. */
function decodePart(x: string): string {
  try {
    return decodeURIComponent(x);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the path: ${x}`);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `request body is not JSON: ${(e as Error).message}`);
  }
}

function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

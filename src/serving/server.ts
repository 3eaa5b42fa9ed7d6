// The model server: serves every model in the registry over HTTP (node:http) and follows the
// registry as deploys and rollbacks change it (polling each entry's revision, so it works the
// same on every file system). Routes:
//   POST /v1/models/<name>:predict   {"instances": [{col: value, ...}], "labels"?: [...]}
//   GET  /v1/models/<name>            versions and the traffic split
//   GET  /v1/models/<name>/metrics?window=1h   per version: requests, errors, latency p50/p95
//   GET  /v1/models/<name>/recent?window=1h    recent request rows (drift monitoring)
//   GET  /healthz
// Feedback (`labels`) and /recent need the bearer token (src/serving/auth.ts) and are off without one.
// Requests are turned into features by the version's saved transform (src/ml/preprocess.ts
// applyTransform: the exact fitted steps of training, so no training/serving skew).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as TfModule from '@tensorflow/tfjs';
import { defaultStore, type ArtifactStore } from '../artifacts/index.ts';
import { getTf, selectBackend } from '../ml/backend.ts';
import { loadModel, type ModelMeta } from '../ml/checkpoint.ts';
import { Rng } from '../ml/data-rng.ts';
import { DataError } from '../ml/data-sources.ts';
import { applyTransform, type Transform } from '../ml/preprocess.ts';
import { parseDuration } from '../spec/duration.ts';
// The batch predictor evaluate uses (probabilities from logits, argmax): one definition of "predict".
import { predict } from '../ml/checkpoint.ts';
import { inferenceFn } from '../ml/graph/forward.ts';
import { bearerMatches, TOKEN_FILE_ENV } from './auth.ts';
import { FeatureLog, MetricsBook, ruleBreaches } from './metrics.ts';
import writeFileAtomic from 'write-file-atomic';
import { liveVersions, Registry, settleCandidate, type ModelVersion, type RegistryEntry } from './registry.ts';

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
  /** Bearer token for feedback and the request log; without one both are off. */
  authToken?: string;
  log?: (line: string) => void;
}

interface Loaded {
  version: ModelVersion;
  model: TfModule.LayersModel;
  meta: ModelMeta;
  /** The model's inference pass, compiled to one TensorFlow function when it can be. */
  inference: ReturnType<typeof inferenceFn>;
  transform?: Transform;
}

function unload(l: Loaded): void {
  l.inference.dispose();
  l.model.dispose();
}

interface Served {
  entry: RegistryEntry;
  versions: Map<string, Loaded>;
  metrics: MetricsBook;
  features: FeatureLog;
}

export interface Prediction {
  label?: string | number;
  probabilities?: number[];
  value?: number;
}

const MAX_BODY = 10 * 1024 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
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
  private http?: Server;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  url = '';

  constructor(private readonly o: ServerOptions = {}) {
    this.registry = o.registry ?? new Registry();
    this.store = o.store ?? defaultStore();
    this.rng = new Rng(o.seed ?? Math.floor(Math.random() * 2 ** 31));
  }

  async start(): Promise<string> {
    selectBackend();
    await this.sync();
    this.http = createServer((req, res) => void this.handle(req, res));
    const host = this.o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.o.port ?? 0, host, () => resolve());
    });
    const addr = this.http.address() as AddressInfo;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    if (this.o.advertise !== false) {
      mkdirSync(this.registry.dir, { recursive: true });
      const info = { url: this.url, pid: process.pid, startedAt: new Date().toISOString(), auth: !!this.o.authToken };
      writeFileAtomic.sync(serverFile(this.registry), JSON.stringify(info));
    }
    const tick = () => {
      this.polling = this.sync().catch((e: Error) => this.o.log?.(`registry sync failed: ${e.message}`));
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
    clearTimeout(this.timer);
    await this.polling;
    if (http) {
      http.closeAllConnections?.();
      await new Promise<void>((r) => http.close(() => r()));
    }
    if (this.o.advertise !== false) rmSync(serverFile(this.registry), { force: true });
    for (const s of this.models.values()) for (const l of s.versions.values()) unload(l);
    this.models.clear();
  }

  /** Load what the registry says is live; drop what is no longer; settle canaries past their duration. */
  async sync(): Promise<void> {
    for (const name of await this.registry.names()) {
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
      s ??= { entry, versions: new Map(), metrics: new MetricsBook(), features: new FeatureLog() };
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
        try {
          loaded.set(v, await this.load(version));
          this.o.log?.(`${name} ${v}: loaded`);
        } catch (e) {
          this.o.log?.(`${name} ${v}: cannot load: ${(e as Error).message}`);
        }
      }
      for (const [v, l] of s.versions) if (!loaded.has(v)) unload(l);
      s.versions = loaded;
      s.entry = entry;
      this.models.set(name, s);
      await this.settleIfDue(s);
    }
  }

  private async load(v: ModelVersion): Promise<Loaded> {
    const { model, meta } = await loadModel(await this.store.get(v.model));
    const transform = v.transform ? (JSON.parse((await this.store.get(v.transform)).toString('utf8')) as Transform) : undefined;
    return { version: v, model, meta, inference: inferenceFn(getTf(), model, meta.spec), transform };
  }

  /** A canary observed for its whole duration is promoted, or rolled back if it breaks the rule. */
  private async settleIfDue(s: Served): Promise<void> {
    const c = s.entry.traffic.candidate;
    if (!c || c.mode !== 'canary' || c.durationMs === undefined) return;
    const started = Date.parse(c.startedAt);
    if (Date.now() - started < c.durationMs) return;
    const m = s.metrics.summary(Date.now() - started)[c.version];
    const why = ruleBreaches(m, c.rollback);
    const next = await this.registry.update(s.entry.name, (e) =>
      e.traffic.candidate?.version === c.version
        ? settleCandidate(e, why.length ? 'rollback' : 'promote', why.length ? why.join('; ') : `healthy for ${c.durationMs} ms (${m?.requests ?? 0} requests)`)
        : e,
    );
    this.o.log?.(`${s.entry.name} ${c.version}: ${next.traffic.primary === c.version ? 'promoted' : 'rolled back'}`);
  }

  /** The version a request goes to: the canary gets `weight`% of requests. */
  private route(s: Served): string | undefined {
    const c = s.entry.traffic.candidate;
    if (c?.mode === 'canary' && s.versions.has(c.version) && this.rng.next() * 100 < c.weight) return c.version;
    const p = s.entry.traffic.primary;
    if (p && s.versions.has(p)) return p;
    return c?.mode === 'canary' && s.versions.has(c.version) ? c.version : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      if (path === '/healthz' && req.method === 'GET') return send(res, 200, { ok: true, models: [...this.models.keys()] });
      const m = /^\/v1\/models\/([a-z0-9-]+)(:predict|\/metrics|\/recent)?$/.exec(path);
      if (!m) throw new HttpError(404, `no route ${req.method} ${path}`);
      const s = this.models.get(m[1]!);
      if (!s) throw new HttpError(404, `no model ${JSON.stringify(m[1])} is deployed (models: ${[...this.models.keys()].join(', ') || 'none'})`);
      const window = windowOf(url);
      if (m[2] === ':predict') {
        if (req.method !== 'POST') throw new HttpError(405, 'predict takes POST');
        return send(res, 200, await this.predict(s, await readJson(req), req));
      }
      if (req.method !== 'GET') throw new HttpError(405, `${path} takes GET`);
      if (m[2] === '/metrics') return send(res, 200, { model: s.entry.name, windowMs: window, versions: s.metrics.summary(window) });
      if (m[2] === '/recent') {
        this.authorize(req, 'the request log (/recent: raw rows as sent)');
        return send(res, 200, { model: s.entry.name, windowMs: window, rows: s.features.since(window) });
      }
      return send(res, 200, describe(s));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : e instanceof DataError ? 400 : 500;
      send(res, status, { error: (e as Error).message }, e instanceof HttpError ? e.headers : {});
    }
  }

  /** Feedback and the request log: only with the server's token, and off when it has none. */
  private authorize(req: IncomingMessage, what: string): void {
    const token = this.o.authToken;
    if (!token) {
      throw new HttpError(403, `${what} is disabled: this server has no auth token; start it with --auth-token-file <file> (or ${TOKEN_FILE_ENV})`);
    }
    if (!bearerMatches(token, req.headers.authorization)) {
      throw new HttpError(401, `${what} needs the header "Authorization: Bearer <token>" with this server's token`, { 'www-authenticate': 'Bearer realm="mlpipe"' });
    }
  }

  private async predict(s: Served, body: unknown, req: IncomingMessage): Promise<unknown> {
    const b = body as { instances?: unknown; labels?: unknown };
    if (!b || typeof b !== 'object' || !Array.isArray(b.instances) || b.instances.some((r) => !r || typeof r !== 'object' || Array.isArray(r))) {
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
    const version = this.route(s);
    if (!version) throw new HttpError(503, `model ${s.entry.name} has no loadable version`);
    const t0 = performance.now();
    let out: Prediction[];
    try {
      out = this.run(s.versions.get(version)!, rows);
    } catch (e) {
      // Bad input is the caller's error (400), not the version's; anything else counts against it.
      if (!(e instanceof DataError)) s.metrics.record(version, { t: Date.now(), ok: false, ms: performance.now() - t0 });
      throw e;
    }
    s.metrics.record(version, { t: Date.now(), ok: true, ms: performance.now() - t0, ...score(out, labels) });
    s.features.add(version, rows);
    const c = s.entry.traffic.candidate;
    if (c?.mode === 'shadow' && s.versions.has(c.version)) {
      // A copy for the shadow after the answer is computed; its result is only measured.
      setImmediate(() => {
        const t1 = performance.now();
        try {
          const so = this.run(s.versions.get(c.version)!, rows);
          s.metrics.record(c.version, { t: Date.now(), ok: true, ms: performance.now() - t1, ...score(so, labels) }, true);
        } catch {
          s.metrics.record(c.version, { t: Date.now(), ok: false, ms: performance.now() - t1 }, true);
        }
      });
    }
    return { model: s.entry.name, version, predictions: out };
  }

  private run(l: Loaded, rows: Record<string, unknown>[]): Prediction[] {
    if (!l.transform) throw new HttpError(500, `version ${l.version.version} has no transform; deploy it with its preprocess stage's transform`);
    const x = applyTransform(l.transform, rows);
    const p = predict(l.model, l.meta, x, 512, l.inference.apply);
    checkFinite(l, p);
    const classes = l.meta.classes ?? l.transform.classes;
    if (l.meta.outputKind === 'values') return Array.from(p.yPred, (value) => ({ value }));
    return Array.from(p.yPred, (id, i) => {
      const sc = p.scores;
      const probabilities = Array.isArray(sc) ? sc[i]! : sc ? [1 - sc[i]!, sc[i]!] : undefined;
      return { label: classes?.[id] ?? id, ...(probabilities ? { probabilities } : {}) };
    });
  }
}

/** A NaN or infinite output is the model's failure (a 500 counted as an error), never an answer. */
function checkFinite(l: Loaded, p: ReturnType<typeof predict>): void {
  const n = p.yPred.length;
  for (let i = 0; i < n; i++) {
    const sc = p.scores;
    const row = l.meta.outputKind === 'values' ? [p.yPred[i]!] : Array.isArray(sc) ? sc[i]! : sc ? [sc[i]!] : [];
    if (row.some((v) => !Number.isFinite(v))) {
      throw new Error(`version ${l.version.version}: the model's output for row ${i + 1} is not a finite number (${row.join(', ')}); the input is far outside what it was trained on, or the model is broken`);
    }
  }
}

function score(out: Prediction[], labels?: unknown[]): { hits?: number; labelled?: number } {
  if (!labels) return {};
  let hits = 0;
  out.forEach((p, i) => {
    if (p.label !== undefined && String(p.label) === String(labels[i])) hits++;
  });
  return { hits, labelled: labels.length };
}

function describe(s: Served): unknown {
  const t = s.entry.traffic;
  const split: Record<string, number> = {};
  if (t.primary) split[t.primary] = 100;
  if (t.candidate?.mode === 'canary') {
    if (t.primary) split[t.primary] = 100 - t.candidate.weight;
    split[t.candidate.version] = t.primary ? t.candidate.weight : 100;
  }
  return {
    name: s.entry.name,
    revision: s.entry.revision,
    primary: t.primary,
    candidate: t.candidate ?? null,
    traffic: split,
    shadow: t.candidate?.mode === 'shadow' ? t.candidate.version : null,
    loaded: [...s.versions.keys()],
    versions: s.entry.versions.map((v) => ({ version: v.version, createdAt: v.createdAt, source: v.source, model: v.model.digest })),
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

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `request body is not JSON: ${(e as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

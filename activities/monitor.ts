// monitor: compares recent serving traffic with the training data (PSI / KS per feature,
// src/ml/eval/drift.ts), reads the server's per-version metrics, checks the deployment's rollback
// rule (rolling a breaking canary back in the registry), and on a breach alerts (log + optional
// webhook) or starts the pipeline again with trigger=drift through the worker's Temporal client.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { ArtifactRef, JsonValue, Plan, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { compileFile } from '../src/compiler/index.ts';
import type { ArtifactStore } from '../src/artifacts/index.ts';
import { column, isNumeric, splitIndices, type Dataset } from '../src/ml/data/dataset.ts';
import { driftStatistic, type DriftTest } from '../src/ml/eval/drift.ts';
import { applyTransform, type Transform } from '../src/ml/data/preprocess.ts';
import { clientToken, TOKEN_FILE_ENV } from '../src/serving/auth.ts';
import { findServer } from '../src/serving/local.ts';
import { ruleBreaches, type VersionMetrics } from '../src/serving/metrics.ts';
import { type ModelVersion, Registry, type RegistryEntry, settleCandidate } from '../src/serving/registry.ts';
import { parseDuration } from '../src/core/duration.ts';
import { connectClient, connectionConfig } from '../src/temporal/connection.ts';
import { runInput, startRun } from '../src/temporal/runs.ts';
import { activityContext, activityLog } from '../src/temporal/progress.ts';
import { redactValue, secretsInUse } from '../src/redaction.ts';
import type { Deployment } from './deploy.ts';
import { invalid, lineage, readDataset, requireInput, stageEnv, where, stageConfig, type StageEnv } from './lib/stage.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';

type MonitorMetric = 'latencyP50' | 'latencyP95' | 'errorRate' | 'requests' | 'accuracy';

export type MonitorConfig = StageConfig<'monitor'>;

export interface MonitorOptions {
  /** Fewest recent rows a drift test needs (default 50). */
  minSamples?: number;
  /** How long to wait for them (ms, default 60 s, at most the window). */
  waitMs?: number;
  pollMs?: number;
  /** Temporal client for retrain (default: the worker's, else MLPIPE_TEMPORAL_* env). */
  client?: Client;
}

interface LoggedRow {
  t: number;
  version: string;
  row: Record<string, unknown>;
}

export interface DriftResult {
  feature: string;
  test: DriftTest;
  threshold: number;
  value: number | null;
  drifted: boolean;
  /** `transformed`: both samples compared after the saved transform (the reference is a preprocessed dataset). */
  space: 'raw' | 'transformed';
  reference: number;
  current: number;
  note?: string;
}

async function getJson(url: string, token?: string): Promise<unknown> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  if (r.status === 401 || r.status === 403) {
    // The server's reason says what to change (no token configured, or another one).
    invalid(`GET ${url}: HTTP ${r.status} ${await r.text()}; monitor sends the token in ${TOKEN_FILE_ENV}, else <registry>/_auth-token`);
  }
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

/** Whether `dataset` was written by the stage that wrote `transform` (a preprocessed dataset). */
async function isTransformed(store: ArtifactStore, dataset: ArtifactRef, transform: ArtifactRef, runs: string[]): Promise<boolean> {
  for (const wf of new Set(runs)) {
    const recs = await store.list(wf).catch(() => []);
    const t = new Set(recs.filter((r) => r.ref.digest === transform.digest).map((r) => r.lineage.stage));
    if (recs.some((r) => r.ref.digest === dataset.digest && t.has(r.lineage.stage))) return true;
  }
  return false;
}

function referenceValues(ds: Dataset, feature: string): Float64Array {
  const c = column(ds, feature);
  if (!isNumeric(c) || c.shape.length > 0) throw new Error(`feature ${JSON.stringify(feature)} is not a numeric scalar column`);
  let idx: ArrayLike<number>;
  try {
    idx = splitIndices(ds, 'train');
  } catch {
    idx = splitIndices(ds, 'all');
  }
  return Float64Array.from(idx, (i) => c.data[i]!);
}

function currentValues(rows: LoggedRow[], feature: string, transform: Transform | undefined): Float64Array {
  if (!transform) return Float64Array.from(rows, (r) => Number(r.row[feature] ?? NaN));
  const j = transform.featureColumns.indexOf(feature);
  const width = transform.featureShape.reduce((a, b) => a * b, 1);
  if (j < 0 || width !== transform.featureColumns.length) {
    throw new Error(
      `feature ${JSON.stringify(feature)} is not a scalar column of the transformed features (${transform.featureColumns.join(', ')})`,
    );
  }
  const out = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    try {
      out[i] = applyTransform(transform, [r.row]).data[j]!;
    } catch {
      out[i] = NaN; // a row the server rejected too
    }
  });
  return out;
}

function pickMetrics(m: VersionMetrics | undefined, wanted: MonitorMetric[]): Record<string, number | null> {
  const all: Record<MonitorMetric, number | null> = {
    latencyP50: m?.latencyP50Ms ?? null,
    latencyP95: m?.latencyP95Ms ?? null,
    errorRate: m ? m.errorRate : null,
    requests: m ? m.requests : 0,
    accuracy: m?.accuracy ?? null,
  };
  return Object.fromEntries(wanted.map((k) => [k, all[k]]));
}

/** The same pipeline (or `pipeline`) again with `params`, trigger=drift, on the same task queues. */
async function retrain(
  input: StageActivityInput,
  cfg: NonNullable<MonitorConfig['onBreach']>,
  client: Client,
): Promise<{ workflowId: string; started: boolean }> {
  const old = await runInput(client, input.run.workflowId);
  const desc = await client.workflow.getHandle(input.run.workflowId).describe();
  const memoSpec = typeof desc.memo?.spec === 'string' ? desc.memo.spec : undefined;
  const overrides = cfg.params ?? {};
  let plan: Plan;
  const sameSpec = !cfg.pipeline || cfg.pipeline === old.plan.pipeline;
  const spec = sameSpec ? memoSpec : memoSpec && join(dirname(memoSpec), `${cfg.pipeline}.yaml`);
  if (spec && existsSync(spec)) {
    const params = Object.fromEntries(
      Object.entries({ ...(sameSpec ? old.plan.params : {}), ...overrides }).map(([k, v]) => [k, String(v)]),
    );
    plan = (await compileFile(spec, { params })).plan;
    // Run where the old run ran (its nodes' task queues), not where the spec alone would send it.
    const queues = new Map(old.plan.nodes.map((n) => [n.id, n.activity.taskQueue]));
    plan = {
      ...plan,
      nodes: plan.nodes.map((n) => (queues.has(n.id) ? { ...n, activity: { ...n.activity, taskQueue: queues.get(n.id)! } } : n)),
    };
  } else if (sameSpec) {
    // No spec file to recompile: the same plan with the params replaced (used by `when`).
    plan = { ...old.plan, params: { ...old.plan.params, ...overrides } };
  } else {
    return invalid(`${where(input)}: onBreach.pipeline ${cfg.pipeline}: no spec file ${spec ?? '(this run has no spec path in its memo)'}`);
  }
  // One retrain per monitor stage run: a retried attempt finds the run it already started.
  const runKey = `drift-${input.run.runId.slice(0, 8)}-${input.stage}`;
  try {
    const h = await startRun(client, {
      plan,
      runKey,
      trigger: 'drift',
      taskQueue: desc.taskQueue,
      ...(old.gitSha ? { source: { gitSha: old.gitSha } } : {}),
    });
    return { workflowId: h.workflowId, started: true };
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) return { workflowId: `${plan.pipeline}/${runKey}`, started: false };
    throw e;
  }
}

/** The worker's own client (same address, namespace, TLS), when running in a worker. */
function workerClient(): Client | undefined {
  try {
    return activityContext()?.client;
  } catch {
    return undefined; // a context without a client (direct calls, old SDKs)
  }
}

async function alert(webhook: string | undefined, payload: unknown): Promise<{ delivered: boolean; error?: string }> {
  activityLog.warn(`mlpipe monitor alert: ${JSON.stringify(payload)}`);
  if (!webhook) return { delivered: false };
  try {
    const r = await fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(5_000),
    });
    return r.ok ? { delivered: true } : { delivered: false, error: `HTTP ${r.status}` };
  } catch (e) {
    return { delivered: false, error: (e as Error).message };
  }
}

export async function monitorCore(input: StageActivityInput, env: StageEnv, o: MonitorOptions = {}): Promise<StageResult> {
  const at = where(input);
  const cfg = stageConfig(input, 'monitor');
  const depRef = requireInput(input, 'deployment', 'deployment');
  const dep = JSON.parse((await env.store.get(depRef)).toString('utf8')) as Deployment;
  const windowMs = parseDuration(cfg.window ?? '1h');
  const registry = new Registry(dep.registry);
  const endpoint = await liveEndpoint(at, dep, registry);
  const entry = await registry.get(dep.model);
  const version = entry?.versions.find((v) => v.version === dep.version);
  const transform = version?.transform ? (JSON.parse((await env.store.get(version.transform)).toString('utf8')) as Transform) : undefined;

  const tests = cfg.drift ?? [];
  const minSamples = o.minSamples ?? 50;
  const rows = tests.length ? await recentRows(at, endpoint, registry, windowMs, minSamples, env, o) : [];
  const drift = tests.length ? await driftResults(input, env, tests, rows, minSamples, version, transform) : [];
  const drifted = drift.some((d) => d.drifted);

  const served = ((await getJson(`${endpoint}/metrics?window=${windowMs}ms`)) as { versions: Record<string, VersionMetrics> }).versions;
  const wanted = cfg.metrics ?? ['latencyP95', 'errorRate', 'requests'];
  const metrics = Object.fromEntries(Object.entries(served).map(([v, m]) => [v, pickMetrics(m, wanted)]));
  const { ruleBroken, rolledBack } = await checkRollbackRule(registry, entry, dep, served[dep.version]);
  const breached = drifted || ruleBroken.length > 0;

  let action: Record<string, JsonValue> | undefined;
  if (breached && cfg.onBreach) {
    const summary = {
      model: dep.model,
      version: dep.version,
      run: input.run.workflowId,
      drift: drift.filter((d) => d.drifted).map((d) => `${d.feature} ${d.test}=${d.value?.toFixed(4)}`),
      rule: ruleBroken,
    };
    action = await actOnBreach(input, cfg.onBreach, summary, o);
  }

  const report = {
    model: dep.model,
    version: dep.version,
    endpoint,
    windowMs,
    ...(tests.length ? { samples: rows.length } : {}),
    drift,
    drifted,
    metrics,
    rollback: { rule: dep.rollback ?? null, breaches: ruleBroken, ...(rolledBack ? { rolledBack } : {}) },
    breached,
    ...(action ? { action } : {}),
  };
  // an alert's error can quote the webhook, a secret
  const ref = await env.store.put(Buffer.from(JSON.stringify(redactValue(report, secretsInUse()), null, 1)), {
    kind: 'metrics',
    lineage: lineage(input, env),
  });
  return { outputs: { report: { ...ref }, drifted, breached } };
}

/** The deploy's endpoint, else the server running now (it may have restarted on another port). */
async function liveEndpoint(at: string, dep: Deployment, registry: Registry): Promise<string> {
  const advertised = findServer(registry);
  const candidates = [dep.endpoint, advertised ? `${advertised.url}/v1/models/${dep.model}` : ''].filter((u) => u);
  for (const u of new Set(candidates)) {
    if (
      await getJson(u).then(
        () => true,
        () => false,
      )
    )
      return u;
  }
  // Retryable: the server may be starting.
  throw new Error(
    `${at}: no model server answers for ${dep.model} ` +
      `(tried: ${candidates.join(', ') || 'none advertised'}); start one with \`mlpipe serve\``,
  );
}

/**
 * Recent traffic, for the drift tests (the request log needs the server's token): waits,
 * heartbeating, for `minSamples` rows, at most `o.waitMs` (and never longer than the window).
 */
async function recentRows(
  at: string,
  endpoint: string,
  registry: Registry,
  windowMs: number,
  minSamples: number,
  env: StageEnv,
  o: MonitorOptions,
): Promise<LoggedRow[]> {
  const deadline = Date.now() + Math.min(o.waitMs ?? 60_000, windowMs);
  let token: string | undefined;
  try {
    token = clientToken(registry.dir);
  } catch (e) {
    return invalid(`${at}: ${(e as Error).message}`);
  }
  for (;;) {
    const rows = ((await getJson(`${endpoint}/recent?window=${windowMs}ms`, token)) as { rows: LoggedRow[] }).rows;
    env.heartbeat({ progress: { message: `waiting for traffic: ${rows.length}/${minSamples} rows` } });
    if (rows.length >= minSamples || Date.now() >= deadline) return rows;
    if (env.signal?.aborted) throw new Error(`${at}: cancelled`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
  }
}

/**
 * Each drift test on the recent rows against the training data. When the reference is a
 * preprocessed dataset, the rows go through the saved transform first, so both compare alike.
 */
async function driftResults(
  input: StageActivityInput,
  env: StageEnv,
  tests: NonNullable<MonitorConfig['drift']>,
  rows: LoggedRow[],
  minSamples: number,
  version: ModelVersion | undefined,
  transform: Transform | undefined,
): Promise<DriftResult[]> {
  const at = where(input);
  const dsRef = requireInput(input, 'dataset', 'dataset');
  const ds = await readDataset(env.store, dsRef);
  const transformed =
    !!version?.transform && (await isTransformed(env.store, dsRef, version.transform, [input.run.workflowId, version.source.workflowId]));
  const drift: DriftResult[] = [];
  for (const t of tests) {
    const base = {
      feature: t.feature,
      test: t.test,
      threshold: t.threshold,
      space: transformed ? ('transformed' as const) : ('raw' as const),
    };
    let ref: Float64Array;
    let cur: Float64Array;
    try {
      ref = referenceValues(ds, t.feature);
      cur = currentValues(rows, t.feature, transformed ? transform : undefined);
    } catch (e) {
      return invalid(`${at}: drift on ${t.feature}: ${(e as Error).message}`);
    }
    const n = cur.filter(Number.isFinite).length;
    if (n < minSamples) {
      drift.push({
        ...base,
        value: null,
        drifted: false,
        reference: ref.length,
        current: n,
        note: `only ${n} recent rows (needs ${minSamples})`,
      });
      continue;
    }
    const value = driftStatistic(t.test, ref, cur);
    drift.push({ ...base, value, drifted: value > t.threshold, reference: ref.length, current: n });
  }
  return drift;
}

/** The deployment's rollback rule on its version's serving metrics; a breaking canary is rolled back in the registry. */
async function checkRollbackRule(
  registry: Registry,
  entry: RegistryEntry | undefined,
  dep: Deployment,
  served: VersionMetrics | undefined,
) {
  const ruleBroken = ruleBreaches(served, dep.rollback);
  let rolledBack: string | undefined;
  if (ruleBroken.length && entry?.traffic.candidate?.version === dep.version) {
    await registry.update(dep.model, (e) =>
      e.traffic.candidate?.version === dep.version ? settleCandidate(e, 'rollback', `monitor: ${ruleBroken.join('; ')}`) : e,
    );
    rolledBack = dep.version;
  }
  return { ruleBroken, rolledBack };
}

/** What `onBreach` asks for: an alert, or a retrain (alerting too when it names a webhook). */
async function actOnBreach(
  input: StageActivityInput,
  cfg: NonNullable<MonitorConfig['onBreach']>,
  summary: Record<string, unknown>,
  o: MonitorOptions,
): Promise<Record<string, JsonValue>> {
  if (cfg.action === 'alert') return { action: 'alert', ...(await alert(cfg.webhook, summary)) };
  const client = o.client ?? workerClient() ?? (await connectClient(connectionConfig()));
  const r = await retrain(input, cfg, client);
  const action: Record<string, JsonValue> = { action: 'retrain', ...r };
  if (cfg.webhook) action.alert = await alert(cfg.webhook, { ...summary, retrain: r.workflowId });
  return action;
}

export async function monitor(input: StageActivityInput): Promise<StageResult> {
  return monitorCore(input, stageEnv());
}

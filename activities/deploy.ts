// deploy: registers a model version (model + transform artifacts) in the model registry and sets
// its traffic (replace, canary, shadow). It never runs a server itself: `mlpipe serve` follows
// the registry (docs/serving.md). In local mode, when no server is running, it starts one detached.
import type { JsonValue, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { mlpipeHome } from '../src/home.ts';
import { findServer, startDetachedServer } from '../src/serving/local.ts';
import { nextVersion, Registry, registryDir, withdrawVersion, type RollbackRule, type Traffic } from '../src/serving/registry.ts';
import { activityLog } from '../src/temporal/progress.ts';
import { parseDuration } from '../src/core/duration.ts';
import { invalid, lineage, requireInput, stageEnv, where, withHeartbeats, stageConfig, type StageEnv } from './lib/stage.ts';
import type { StageConfig } from '../src/spec/stages/descriptor.ts';

export type DeployConfig = StageConfig<'deploy'>;

export interface Deployment {
  format: 'mlpipe-deployment/v1';
  model: string;
  version: string;
  /** `<server>/v1/models/<name>`, or '' when no server is running. */
  endpoint: string;
  registry: string;
  strategy: string;
  traffic: Traffic;
  rollback?: RollbackRule;
  deployedAt: string;
}

export interface DeployOptions {
  registry?: Registry;
  home?: string;
  /** Start `mlpipe serve` when none runs (default: unless MLPIPE_SERVE_AUTOSTART=0). */
  autostart?: boolean;
}

export function rollbackRule(r: DeployConfig['rollback'], at: string): RollbackRule | undefined {
  if (!r) return undefined;
  try {
    return {
      ...(r.errorRateAbove !== undefined ? { errorRateAbove: r.errorRateAbove } : {}),
      ...(r.latencyP95Above !== undefined ? { latencyP95AboveMs: parseDuration(r.latencyP95Above) } : {}),
      ...(r.accuracyBelow !== undefined ? { accuracyBelow: r.accuracyBelow } : {}),
    };
  } catch (e) {
    return invalid(`${at}: rollback.latencyP95Above: ${(e as Error).message}`);
  }
}

export async function deployCore(input: StageActivityInput, env: StageEnv, o: DeployOptions = {}): Promise<StageResult> {
  const at = where(input);
  const cfg = stageConfig(input, 'deploy');
  if (typeof cfg.modelName !== 'string') invalid(`${at}: needs \`modelName\``);
  const model = requireInput(input, 'model', 'model');
  if (!input.inputs.transform) {
    invalid(
      `${at}: needs the preprocess stage's \`transform\` so the server turns requests into features ` +
        `exactly as in training; add that stage to \`needs\``,
    );
  }
  const transform = requireInput(input, 'transform', 'transform');
  const home = o.home ?? mlpipeHome();
  const registry = o.registry ?? new Registry(registryDir(home));
  const strategy = cfg.strategy ?? { type: 'replace' };
  const rollback = rollbackRule(cfg.rollback, at);
  let durationMs: number | undefined;
  if (strategy.type === 'canary' && strategy.duration) durationMs = parseDuration(strategy.duration);

  let version = '';
  let gitShaError: string | undefined;
  const entry = await registry.update(cfg.modelName, (e) => {
    const now = new Date();
    // A retried attempt finds the version its first attempt registered and changes nothing.
    const prior = e.versions.find(
      (v) => v.source.workflowId === input.run.workflowId && v.source.stage === input.stage && v.model.digest === model.digest,
    );
    if (prior) {
      version = prior.version;
      return e;
    }
    try {
      version = nextVersion(e, cfg.versionPolicy ?? 'increment', { gitSha: input.run.gitSha, now });
    } catch (err) {
      gitShaError = (err as Error).message;
      return e;
    }
    e.versions.push({
      version,
      model,
      transform,
      createdAt: now.toISOString(),
      source: {
        workflowId: input.run.workflowId,
        runId: input.run.runId,
        pipeline: input.run.pipeline,
        stage: input.stage,
        ...(input.run.gitSha ? { gitSha: input.run.gitSha } : {}),
      },
      previous: structuredClone(e.traffic),
    });
    if (strategy.type === 'replace' || !e.traffic.primary) {
      // Nothing to compare a canary or shadow with on a first deploy: it takes all traffic.
      e.traffic = { primary: version };
    } else {
      e.traffic = {
        primary: e.traffic.primary,
        candidate: {
          version,
          mode: strategy.type,
          weight: strategy.type === 'canary' ? strategy.weight : 0,
          startedAt: now.toISOString(),
          ...(durationMs !== undefined ? { durationMs } : {}),
          ...(rollback ? { rollback } : {}),
        },
      };
    }
    e.events.push({ at: now.toISOString(), event: `deployed (${e.traffic.primary === version ? 'primary' : strategy.type})`, version });
    return e;
  });
  if (gitShaError) invalid(`${at}: ${gitShaError}`);

  // All or nothing: a failure after registering withdraws this stage's version, so no version
  // takes traffic from a deploy that failed (a retry registers it again).
  try {
    return await finish(input, env, cfg, { registry, home, version, traffic: entry.traffic, rollback, autostart: o.autostart });
  } catch (e) {
    await registry
      .update(cfg.modelName, (cur) => withdrawVersion(cur, version, `${at}: ${(e as Error).message}`))
      .catch((u: unknown) => activityLog.warn(`${at}: could not withdraw version ${version} after the failure: ${(u as Error).message}`));
    throw e;
  }
}

async function finish(
  input: StageActivityInput,
  env: StageEnv,
  cfg: DeployConfig,
  d: { registry: Registry; home: string; version: string; traffic: Traffic; rollback?: RollbackRule; autostart?: boolean },
): Promise<StageResult> {
  const { registry, home, version, rollback } = d;
  const strategy = cfg.strategy ?? { type: 'replace' };
  let server = findServer(registry);
  const autostart = d.autostart ?? process.env.MLPIPE_SERVE_AUTOSTART !== '0';
  if (!server && autostart) {
    server = await startDetachedServer(registry, { home, host: cfg.server?.host, port: cfg.server?.port });
  }
  const endpoint = server ? `${server.url}/v1/models/${cfg.modelName}` : '';
  const doc: Deployment = {
    format: 'mlpipe-deployment/v1',
    model: cfg.modelName,
    version,
    endpoint,
    registry: registry.dir,
    strategy: strategy.type,
    traffic: d.traffic,
    ...(rollback ? { rollback } : {}),
    deployedAt: new Date().toISOString(),
  };
  const ref = await env.store.put(Buffer.from(JSON.stringify(doc, null, 1)), { kind: 'deployment', lineage: lineage(input, env) });
  const outputs: Record<string, JsonValue> = { deployment: { ...ref }, version, endpoint };
  return { outputs };
}

export async function deploy(input: StageActivityInput): Promise<StageResult> {
  const env = stageEnv();
  // A registry write queued behind another and a starting model server can take a while: keep heartbeating through them.
  return withHeartbeats(env, { progress: { stage: input.stage, phase: 'deploy' } }, () => deployCore(input, env));
}

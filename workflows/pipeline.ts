/**
 * The interpreter: runs a compiled plan as one durable workflow. Deterministic: no I/O, clocks or
 * randomness outside Temporal's APIs (new Date() is Temporal's replay-safe clock here).
 *
 * Changing this file while runs are in flight: wrap behaviour changes in `patched('<id>')`
 * (and later `deprecatePatch`) so histories recorded by the old code still replay. See
 * docs/runtime.md, "Changing the interpreter".
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  activityName,
  CACHE_LOOKUP,
  CACHE_STORE,
  type CacheLookupInput,
  type CacheLookupResult,
  type CacheStoreInput,
  type StageActivityResult,
} from '../src/core/activities.ts';
import { evaluateCondition, readsSecrets, resolveTemplates, type ExprContext, type ExprOptions } from '../src/core/expr.ts';
import {
  isArtifactRef,
  type ArtifactRef,
  type JsonObject,
  type JsonValue,
  type PlanNode,
  type StageActivityInput,
} from '../src/core/plan.ts';
import {
  approveSignal,
  approveUpdate,
  retrySignal,
  retryUpdate,
  skipSignal,
  skipUpdate,
  statusQuery,
  TERMINAL,
  type PipelineInput,
  type PipelineResult,
  type RetryRequest,
  type StageState,
} from './api.ts';
import { describeFailure } from './failures.ts';
import { taskQueueFor } from './routing.ts';

type StageFn = (input: StageActivityInput) => Promise<StageActivityResult>;

/** The step cache's local activities, with a summary naming the stage (shown in the UI's timeline). */
function stepCache(stage: string) {
  return proxyLocalActivities<{
    [CACHE_LOOKUP]: (i: CacheLookupInput) => Promise<CacheLookupResult>;
    [CACHE_STORE]: (i: CacheStoreInput) => Promise<void>;
  }>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 }, summary: `${stage}: step cache` });
}

/** One proxy per node and round: its options (queue, timeouts, retry, id, summary) are its own. */
function stageActivity(node: PlanNode, round: number): StageFn {
  const a = node.activity;
  const proxy = proxyActivities<Record<string, StageFn>>({
    taskQueue: taskQueueFor(node),
    startToCloseTimeout: a.startToCloseTimeoutMs,
    scheduleToCloseTimeout: a.scheduleToCloseTimeoutMs,
    heartbeatTimeout: a.heartbeatTimeoutMs,
    retry: {
      maximumAttempts: a.retry.maximumAttempts,
      initialInterval: a.retry.initialIntervalMs,
      backoffCoefficient: a.retry.backoffCoefficient,
      maximumInterval: a.retry.maximumIntervalMs,
      nonRetryableErrorTypes: a.retry.nonRetryableErrorTypes,
    },
    // The activity id names the stage, so `describe` (pending activities, heartbeat progress)
    // maps back to stages; a fix-and-continue round gets its own id.
    activityId: round === 1 ? node.id : `${node.id}#${round}`,
    summary: `${node.id} (${node.kind})`,
  });
  return proxy[activityName(node.kind)] as StageFn;
}

/** Temporal allows about 2,000 pending activities per run: stay well below. */
const MAX_IN_FLIGHT = 1000;

type Decision = { action: 'retry'; req: RetryRequest } | { action: 'skip' };

export async function pipeline(input: PipelineInput): Promise<PipelineResult> {
  const { plan } = input;
  const nodes = new Map(plan.nodes.map((n) => [n.id, n]));
  let params = { ...(input.carried?.params ?? plan.params) };
  const stages: Record<string, StageState> = {};
  for (const n of plan.nodes) {
    const carried = input.carried?.stages[n.id];
    stages[n.id] =
      carried && TERMINAL.includes(carried.status)
        ? carried
        : { status: 'pending', kind: n.kind, attempts: 0, rounds: 0, outputs: {} };
  }
  for (const [id, outputs] of Object.entries(input.reuse ?? {})) {
    const s = stages[id];
    if (s && s.status === 'pending') {
      Object.assign(s, { status: 'succeeded', outputs, cached: true, reason: 'reused from the earlier run' });
    }
  }
  const state = (id: string): StageState => stages[id]!;
  const approvals = new Set<string>();
  const decisions = new Map<string, Decision>();

  // ---- queries, signals, updates -------------------------------------------------------------
  setHandler(statusQuery, () => ({
    pipeline: plan.pipeline,
    planHash: plan.hash,
    params,
    stages,
    order: plan.nodes.map((n) => n.id),
  }));
  const checkApprove = (stage: string) => {
    const n = nodes.get(stage);
    if (!n) throw new Error(`no stage "${stage}" in pipeline ${plan.pipeline}`);
    if (!n.approval) throw new Error(`stage "${stage}" has no approval gate`);
    if (TERMINAL.includes(state(stage).status)) throw new Error(`stage "${stage}" is already ${state(stage).status}`);
  };
  const checkWaiting = (stage: string, allowGate: boolean) => {
    if (!nodes.has(stage)) throw new Error(`no stage "${stage}" in pipeline ${plan.pipeline}`);
    const st = state(stage).status;
    if (st === 'awaiting-operator' || (allowGate && st === 'awaiting-approval')) return;
    throw new Error(
      `stage "${stage}" is ${st}; only a stage waiting after a failure (onFailure: wait)` +
        (allowGate ? ' or at an approval gate' : '') + ' can be acted on',
    );
  };
  const approve = (stage: string) => {
    approvals.add(stage);
    return `approved ${stage}`;
  };
  const retry = (req: RetryRequest) => {
    decisions.set(req.stage, { action: 'retry', req });
    return `retrying ${req.stage}`;
  };
  const skip = (stage: string) => {
    decisions.set(stage, { action: 'skip' });
    return `skipping ${stage}`;
  };
  // Signals cannot answer, and a throwing handler would fail the run: check, log, ignore.
  const guarded = <A>(check: (a: A) => void, act: (a: A) => unknown) => (a: A) => {
    try {
      check(a);
      act(a);
    } catch (err) {
      log.warn(`ignored signal: ${(err as Error).message}`);
    }
  };
  setHandler(approveSignal, guarded(checkApprove, approve));
  setHandler(retrySignal, guarded((r: RetryRequest) => checkWaiting(r.stage, false), retry));
  setHandler(skipSignal, guarded((s: string) => checkWaiting(s, true), skip));
  setHandler(approveUpdate, approve, { validator: checkApprove });
  setHandler(retryUpdate, retry, { validator: (r) => checkWaiting(r.stage, false) });
  setHandler(skipUpdate, skip, { validator: (s) => checkWaiting(s, true) });

  // ---- one node --------------------------------------------------------------------------------
  const exprContext = (): ExprContext => ({
    params,
    paramTypes: plan.paramTypes,
    stages: Object.fromEntries(
      Object.entries(stages).map(([id, s]) => [id, { status: s.status, outputs: s.outputs }]),
    ),
  });
  // Histories recorded before these existed replay without them (docs/runtime.md).
  const exprOptions: ExprOptions = {
    // an expression over the cost limit fails its stage instead of stalling the workflow task
    bounded: patched('expr-cost-bound'),
    // params and upstream outputs substituted into a stage are data, never templates
    escapeValues: patched('substituted-values-are-data'),
  };
  const now = () => new Date().toISOString();
  const info = workflowInfo();
  const run = {
    workflowId: info.workflowId,
    runId: info.firstExecutionRunId,
    pipeline: plan.pipeline,
    planHash: plan.hash,
    ...(input.gitSha ? { gitSha: input.gitSha } : {}),
    // Rerun runs name their earlier run to the stages (train resumes from its checkpoints).
    ...(input.rerunOf && patched('rerun-of-in-stage-input') ? { rerunOf: input.rerunOf } : {}),
  };

  function resolveInputs(node: PlanNode): Record<string, ArtifactRef> {
    const out: Record<string, ArtifactRef> = {};
    for (const [name, b] of Object.entries(node.inputs)) {
      const v = state(b.stage).outputs[b.output];
      if (!isArtifactRef(v)) {
        throw ApplicationFailure.nonRetryable(
          `input "${name}" wants output "${b.output}" of stage "${b.stage}", which it did not produce`,
          'MissingInput',
        );
      }
      out[name] = v;
    }
    return out;
  }

  async function runNode(node: PlanNode): Promise<void> {
    const st = state(node.id);
    if (node.when) {
      let go: boolean;
      try {
        go = evaluateCondition(node.when, exprContext(), exprOptions);
      } catch (err) {
        st.status = 'failed';
        st.error = (err as Error).message;
        throw ApplicationFailure.nonRetryable(st.error, 'ExpressionError');
      }
      if (!go) {
        Object.assign(st, { status: 'skipped', reason: `when: ${node.when} is false`, endedAt: now() });
        return;
      }
    }
    if (node.approval && !approvals.has(node.id)) {
      st.status = 'awaiting-approval';
      await condition(() => approvals.has(node.id) || decisions.has(node.id));
      if (decisions.get(node.id)?.action === 'skip') {
        decisions.delete(node.id);
        Object.assign(st, { status: 'skipped', reason: 'skipped by an operator at the approval gate', endedAt: now() });
        return;
      }
    }
    let override: JsonObject = {};
    for (let round = 1; ; round++) {
      Object.assign(st, { status: 'running', rounds: round, startedAt: now(), error: undefined });
      try {
        // `${secrets.*}` stays as written: the worker resolves it (its value never enters the history).
        const resolve = (c: JsonObject) => resolveTemplates(c, exprContext(), (e) => !readsSecrets(e), exprOptions) as JsonObject;
        const config = resolve({ ...node.config, ...override });
        // The compiler's facts beside the config (older plans carry them inside it): passed on as they are.
        const extra = {
          ...(node.location ? { location: node.location } : {}),
          ...(node.tunedConfig ? { tunedConfig: resolve(node.tunedConfig) } : {}),
        };
        const inputs = resolveInputs(node);
        let key: string | undefined;
        if (node.cache.enabled) {
          const found = await lookup(node, config, extra, inputs);
          key = found?.key;
          if (found?.outputs && !input.noCache) {
            Object.assign(st, { status: 'succeeded', outputs: found.outputs, cached: true, cacheKey: key, attempts: 0, endedAt: now() });
            return;
          }
        }
        const res = await stageActivity(node, round)({
          run,
          stage: node.id,
          kind: node.kind,
          config,
          ...extra,
          inputs,
          params,
        });
        Object.assign(st, { outputs: res.outputs ?? {}, attempts: res.attempt ?? 1, cacheKey: key });
        if (key) await store(key, node.id, st.outputs);
        Object.assign(st, { status: 'succeeded', endedAt: now() });
        return;
      } catch (err) {
        if (isCancellation(err)) {
          Object.assign(st, { status: 'cancelled', endedAt: now() });
          throw err;
        }
        // The registry's errors already start with `stage "<id>" (<kind>): `; say it once.
        st.error = describeFailure(err).replace(`stage "${node.id}" (${node.kind}): `, '');
        if (err instanceof ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED') {
          st.attempts = node.activity.retry.maximumAttempts;
        }
        if (node.onFailure !== 'wait') {
          Object.assign(st, { status: 'failed', endedAt: now() });
          throw err;
        }
        // Fix and continue: hold the run (same id, finished work kept) for an operator.
        st.status = 'awaiting-operator';
        await condition(() => decisions.has(node.id));
        const d = decisions.get(node.id)!;
        decisions.delete(node.id);
        if (d.action === 'skip') {
          Object.assign(st, { status: 'skipped', reason: `skipped by an operator after: ${st.error}`, endedAt: now() });
          return;
        }
        if (d.req.config) override = { ...override, ...d.req.config };
        if (d.req.params) params = { ...params, ...d.req.params };
      }
    }
  }

  async function lookup(node: PlanNode, config: JsonObject, extra: Pick<CacheLookupInput, 'location' | 'tunedConfig'>, inputs: Record<string, ArtifactRef>) {
    const inputDigests = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.digest]));
    try {
      return await stepCache(node.id)[CACHE_LOOKUP]({ kind: node.kind, config, ...extra, inputDigests, ttlMs: node.cache.ttlMs });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn(`stage ${node.id}: step cache unavailable, running it: ${describeFailure(err)}`);
      return undefined;
    }
  }

  async function store(key: string, stage: string, outputs: Record<string, JsonValue>) {
    try {
      await stepCache(stage)[CACHE_STORE]({ key, stage, outputs });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn(`stage ${stage}: could not store its outputs in the step cache: ${describeFailure(err)}`);
    }
  }

  /** The UI's "Current Details": a Markdown table of the stages, refreshed as they change. */
  function currentDetails(): string {
    const rows = plan.nodes.map((n) => {
      const s = state(n.id);
      const note = s.status === 'skipped' || s.status === 'cancelled' ? (s.reason ?? '') : s.error ?? '';
      return `| ${n.id} | ${n.kind} | ${s.status}${s.cached ? ' (cached)' : ''} | ${note.replace(/\|/g, '\\|').slice(0, 120)} |`;
    });
    return [`**${plan.pipeline}**`, '', '| stage | kind | status | note |', '| --- | --- | --- | --- |', ...rows].join('\n');
  }

  // ---- the scheduler ---------------------------------------------------------------------------
  const scope = new CancellationScope();
  const running = new Map<string, Promise<void>>();
  let failed: { stage: string; err: unknown } | undefined;
  let cancelledBy: unknown;
  const limit = input.continueAsNewAfterEvents;
  const shouldContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested || (limit !== undefined && workflowInfo().historyLength >= limit);

  for (;;) {
    const draining = failed !== undefined || cancelledBy !== undefined || scope.consideredCancelled || shouldContinueAsNew();
    if (!draining) {
      // Plan order is topological, so a node skipped here is seen by its dependents in this pass.
      for (const node of plan.nodes) {
        const st = state(node.id);
        if (running.size >= MAX_IN_FLIGHT) break;
        if (st.status !== 'pending' || running.has(node.id)) continue;
        if (!node.needs.every((d) => TERMINAL.includes(state(d).status))) continue;
        const notDone = node.needs.find((d) => state(d).status !== 'succeeded');
        if (notDone) {
          Object.assign(st, { status: 'skipped', reason: `upstream stage "${notDone}" was ${state(notDone).status}`, endedAt: now() });
          continue;
        }
        const p = scope
          .run(() => runNode(node))
          .then(
            () => void running.delete(node.id),
            (err: unknown) => {
              running.delete(node.id);
              if (isCancellation(err)) {
                cancelledBy ??= err;
              } else if (!failed) {
                failed = { stage: node.id, err };
                scope.cancel(); // a permanent failure stops its running siblings
              }
            },
          );
        running.set(node.id, p);
      }
    }
    setCurrentDetails(currentDetails());
    if (running.size === 0) break;
    await Promise.race(running.values());
  }

  const unfinished = plan.nodes.filter((n) => !TERMINAL.includes(state(n.id).status));
  if (failed) {
    const f = failed;
    for (const n of unfinished) Object.assign(state(n.id), { status: 'cancelled', reason: `not run: stage "${f.stage}" failed` });
    setCurrentDetails(currentDetails());
    const st = state(f.stage);
    throw ApplicationFailure.create({
      message: `stage "${f.stage}" (${st.kind}) failed: ${st.error ?? describeFailure(f.err)}`,
      type: 'StageFailed',
      nonRetryable: true,
      details: [{ stage: f.stage, error: st.error ?? describeFailure(f.err) }],
    });
  }
  if (cancelledBy !== undefined || scope.consideredCancelled) {
    for (const n of unfinished) Object.assign(state(n.id), { status: 'cancelled', reason: 'run cancelled' });
    setCurrentDetails(currentDetails());
    throw cancelledBy ?? new Error('run cancelled');
  }
  if (unfinished.length > 0) {
    // History is getting long: carry the finished stages into a fresh run with the same id.
    await condition(allHandlersFinished);
    return await continueAsNew<typeof pipeline>({
      ...input,
      reuse: undefined,
      carried: { stages, params },
    });
  }
  return { pipeline: plan.pipeline, status: 'succeeded', stages };
}

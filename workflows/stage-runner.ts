/**
 * Runs one stage to a terminal state: its `when`, its approval gate, then rounds of cache look-up,
 * activity and cache store until it succeeds, fails, or (onFailure: wait) an operator skips it.
 *
 * Replay: the awaits below are the stage's commands, in order (condition, step-cache look-up,
 * activity, step-cache store, condition). Keep their number and order, and keep them directly in
 * this function: an extra async hop can reorder the commands of stages that resume together.
 */
import { ActivityFailure, ApplicationFailure, condition, isCancellation, patched } from '@temporalio/workflow';
import { evaluateCondition, readsSecrets, resolveTemplates, type ExprOptions } from '../src/core/expr.ts';
import {
  isArtifactRef,
  type ArtifactRef,
  type JsonObject,
  type JsonValue,
  type Plan,
  type PlanNode,
  type RunContext,
} from '../src/core/plan.ts';
import { describeFailure } from './failures.ts';
import { runForEach, type ItemUnit } from './for-each.ts';
import type { OperatorInbox } from './operator.ts';
import type { RunState } from './run-state.ts';
import { cacheLookup, cacheStore, stageActivity, studyChild } from './stage-activities.ts';

export interface StageRunContext {
  plan: Plan;
  state: RunState;
  inbox: OperatorInbox;
  exprOptions: ExprOptions;
  /** The run as the stage activities see it. */
  run: RunContext;
  /** `--no-cache`: look-ups are skipped (outputs are still stored). */
  noCache: boolean;
  /** The history is long enough to continue as new (a forEach stage pauses between items). */
  shouldContinueAsNew?: () => boolean;
  /** The run's history limit (tests): a search's child workflow continues as new at it too. */
  continueAsNewAfterEvents?: number;
}

/**
 * Runs a stage, or (with `unit`) one item of a forEach stage: then `node` is the item's node (id
 * `<stage>[<i>]`) and its expressions see the item (workflows/for-each.ts).
 */
export async function runStage(node: PlanNode, ctx: StageRunContext, unit?: ItemUnit): Promise<void> {
  if (node.forEach && !unit) return runForEach(node, ctx, runStage);
  const { state, inbox, exprOptions } = ctx;
  const id = node.id;
  const exprContext = () => (unit ? { ...state.exprContext(), vars: unit.vars } : state.exprContext());
  if (node.when) {
    let go: boolean;
    try {
      go = evaluateCondition(node.when, exprContext(), exprOptions);
    } catch (err) {
      state.markWhenFailed(id, (err as Error).message);
      throw ApplicationFailure.nonRetryable((err as Error).message, 'ExpressionError');
    }
    if (!go) {
      state.markSkipped(id, `when: ${node.when} is false`);
      return;
    }
  }
  if (node.approval && !inbox.isApproved(id)) {
    state.markAwaitingApproval(id);
    await condition(() => inbox.isApproved(id) || inbox.hasDecision(id));
    if (inbox.takeSkip(id)) {
      state.markSkipped(id, 'skipped by an operator at the approval gate');
      return;
    }
  }
  let override: JsonObject = {};
  for (let round = 1; ; round++) {
    state.markRunning(id, round);
    try {
      // `${secrets.*}` stays as written: the worker resolves it (its value never enters the history).
      const resolve = (c: JsonObject) => resolveTemplates(c, exprContext(), (e) => !readsSecrets(e), exprOptions) as JsonObject;
      const config = resolve({ ...node.config, ...override });
      // The compiler's facts beside the config (older plans carry them inside it): passed on as they are.
      const extra = {
        ...(node.location ? { location: node.location } : {}),
        ...(node.tunedConfig ? { tunedConfig: resolve(node.tunedConfig) } : {}),
      };
      const inputs = resolveInputs(node, state, unit);
      let key: string | undefined;
      if (node.cache.enabled) {
        const found = await cacheLookup(node, config, extra, inputs);
        key = found?.key;
        if (found?.outputs && !ctx.noCache) {
          state.markCached(id, found.outputs, key);
          return;
        }
      }
      const res = await stageCall(
        node,
        ctx,
        round,
      )({
        run: ctx.run,
        stage: id,
        kind: node.kind,
        config,
        ...extra,
        inputs,
        params: state.params,
      });
      state.recordOutputs(id, res.outputs ?? {}, res.attempt ?? 1, key);
      if (key) await cacheStore(key, id, state.stage(id).outputs);
      state.markSucceeded(id);
      return;
    } catch (err) {
      if (isCancellation(err)) {
        state.markCancelled(id);
        throw err;
      }
      // The registry's errors already start with `stage "<id>" (<kind>): `; say it once.
      const error = describeFailure(err).replace(`stage "${id}" (${node.kind}): `, '');
      const exhausted = err instanceof ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
      state.recordError(id, error, exhausted ? node.activity.retry.maximumAttempts : undefined);
      if (node.onFailure !== 'wait') {
        state.markFailed(id);
        throw err;
      }
      // Fix and continue: hold the run (same id, finished work kept) for an operator.
      state.markAwaitingOperator(id);
      await condition(() => inbox.hasDecision(id));
      const d = inbox.take(id);
      if (d.action === 'skip') {
        state.markSkipped(id, `skipped by an operator after: ${error}`);
        return;
      }
      if (d.req.config) override = { ...override, ...d.req.config };
      if (d.req.params) state.overrideParams(d.req.params);
    }
  }
}

/**
 * The call that runs the stage: its activity, or for an optimize stage (in runs started since
 * `optimize-trials-as-activities`) the optimizeStudy child workflow. Older histories replay
 * their one optimize activity.
 */
function stageCall(node: PlanNode, ctx: StageRunContext, round: number) {
  if (node.kind !== 'optimize') return stageActivity(node, round);
  const tuned = ctx.plan.nodes.find((n) => n.id === node.config.tunes);
  if (!tuned || !patched('optimize-trials-as-activities')) return stageActivity(node, round);
  return studyChild(node, tuned, round, ctx.continueAsNewAfterEvents, ctx.noCache);
}

/**
 * The artifacts bound to the node's inputs: each an output of a stage that has succeeded. An item
 * bound to a forEach stage reads that stage's item with the same index.
 */
function resolveInputs(node: PlanNode, state: RunState, unit?: ItemUnit): Record<string, ArtifactRef> {
  const out: Record<string, ArtifactRef> = {};
  for (const [name, b] of Object.entries(node.inputs)) {
    const upstream = state.stage(b.stage);
    if (unit && !upstream.items && Array.isArray(upstream.outputs[b.output])) {
      // a forEach stage reused by `rerun --from` brings its lists, not its items
      const v = (upstream.outputs[b.output] as JsonValue[])[unit.index];
      if (isArtifactRef(v)) {
        out[name] = v;
        continue;
      }
    }
    if (upstream.items && unit) {
      const it = upstream.items[unit.index];
      const v = it?.status === 'succeeded' ? it.outputs[b.output] : undefined;
      if (!isArtifactRef(v)) {
        throw ApplicationFailure.nonRetryable(
          `input "${name}" wants output "${b.output}" of item ${unit.index} of forEach stage "${b.stage}", which ` +
            (it ? `is ${it.status}` : `has only ${upstream.items.length} items`) +
            ': item i of this stage reads item i of that one',
          'MissingInput',
        );
      }
      out[name] = v;
      continue;
    }
    const v = upstream.outputs[b.output];
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

/**
 * A forEach stage: its items are evaluated when it starts, then each runs as its own unit (id
 * `<stage>[<i>]`, its own `when`, step-cache key, activity and fix-and-continue) through the
 * stage runner, at most `parallelism` at once, in item order. When every item has ended the
 * stage's outputs are the lists of its succeeded items' outputs (run-state.ts, collectItems).
 *
 * Failure policy: `failFast` cancels the other items at the first item that fails for good and
 * fails the stage; `continue` lets them run and fails the stage only when no item succeeded.
 *
 * Continue-as-new: when the history is long the stage starts no more items, lets the running ones
 * end and returns unfinished; the next run carries its items and runs the rest.
 *
 * Replay: only plans with `forEach` come here (a newer plan field), so the commands of plans
 * without one are unchanged. Items start in index order, each in this stage's own scope.
 */
import { ApplicationFailure, CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import { readsSecrets, resolveTemplates } from '../src/core/expr.ts';
import { itemId, type JsonValue, type PlanNode } from '../src/core/plan.ts';
import { TERMINAL } from './api.ts';
import { describeFailure } from './failures.ts';
import type { StageRunContext } from './stage-runner.ts';

/** Temporal allows about 2,000 pending activities per run, and every item is kept in the status. */
export const MAX_ITEMS = 1000;

/** One item of a forEach stage, as the stage runner sees it. */
export interface ItemUnit {
  index: number;
  /** The item under its `as` name. */
  vars: Record<string, JsonValue>;
}

type RunUnit = (node: PlanNode, ctx: StageRunContext, unit: ItemUnit) => Promise<void>;

export async function runForEach(node: PlanNode, ctx: StageRunContext, runUnit: RunUnit): Promise<void> {
  const { state, inbox } = ctx;
  const fe = node.forEach!;
  const id = node.id;
  // Items carried over a continue-as-new: the stage was approved and its items evaluated before.
  const resumed = state.stage(id).items;
  // The approval gate is the stage's, once, before any item.
  if (!resumed && node.approval && !inbox.isApproved(id)) {
    state.markAwaitingApproval(id);
    await condition(() => inbox.isApproved(id) || inbox.hasDecision(id));
    if (inbox.takeSkip(id)) {
      state.markSkipped(id, 'skipped by an operator at the approval gate');
      return;
    }
  }
  state.markRunning(id, 1);
  const items = resumed ? resumed.map((i) => i.item) : evaluateItems(node, ctx);
  if (!resumed) state.startItems(id, items);
  const pausing = () => ctx.shouldContinueAsNew?.() ?? false;

  const scope = new CancellationScope();
  const running = new Map<number, Promise<void>>();
  let next = 0;
  let failedFast: { index: number; err: unknown } | undefined;
  let cancelledBy: unknown;
  for (;;) {
    while (
      !failedFast &&
      cancelledBy === undefined &&
      !scope.consideredCancelled &&
      !pausing() &&
      running.size < fe.parallelism &&
      next < items.length
    ) {
      const index = next++;
      if (state.isTerminal(itemId(id, index))) continue; // ended before a continue-as-new
      // Each item is the stage's node under its own id; the gate was passed above.
      const itemNode: PlanNode = { ...node, id: itemId(id, index), approval: false };
      const unit: ItemUnit = { index, vars: { [fe.as]: items[index]! } };
      const p = scope
        .run(() => runUnit(itemNode, ctx, unit))
        .then(
          () => void running.delete(index),
          (err: unknown) => {
            running.delete(index);
            if (isCancellation(err)) cancelledBy ??= err;
            else if (fe.onItemFailure === 'failFast' && !failedFast) {
              failedFast = { index, err };
              scope.cancel();
            }
          },
        );
      running.set(index, p);
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }

  if (failedFast) {
    const f = failedFast;
    state.collectItems(id, `not run: item ${itemId(id, f.index)} failed`);
    const item = state.stage(id).items![f.index]!;
    state.recordError(id, `item ${itemId(id, f.index)} (${short(item.item)}) failed: ${item.error ?? describeFailure(f.err)}`);
    state.markFailed(id);
    throw f.err;
  }
  if (cancelledBy !== undefined || scope.consideredCancelled) {
    state.collectItems(id, 'cancelled');
    state.markCancelled(id);
    throw cancelledBy ?? new Error('cancelled');
  }
  // The history is long: the rest of the items run after the continue-as-new (run-state.ts carries them).
  if (state.stage(id).items!.some((i) => !TERMINAL.includes(i.status))) return;
  state.collectItems(id, 'not run');
  const all = state.stage(id).items!;
  const failed = all.filter((i) => i.status === 'failed');
  const succeeded = all.filter((i) => i.status === 'succeeded');
  const list = (xs: typeof all) => xs.map((i) => itemId(id, all.indexOf(i))).join(', ');
  if (succeeded.length === 0 && failed.length > 0) {
    const message = `every item failed (${list(failed)}); the first: ${failed[0]!.error ?? 'failed'}`;
    state.recordError(id, message);
    state.markFailed(id);
    throw ApplicationFailure.nonRetryable(message, 'ForEachFailed');
  }
  if (succeeded.length === 0) {
    state.markSkipped(id, node.when ? `when: ${node.when} is false for every item` : 'every item was skipped');
    return;
  }
  if (failed.length > 0) {
    // onItemFailure: continue: the stage goes on with the items that succeeded, and says which did not.
    state.stage(id).reason = `${failed.length} of ${all.length} items failed: ${list(failed)}`;
  }
  state.markSucceeded(id);
}

/** The stage's items: its list, or its `${…}` evaluated now; anything but a non-empty list fails the stage. */
function evaluateItems(node: PlanNode, ctx: StageRunContext): JsonValue[] {
  const { state, exprOptions } = ctx;
  const written = node.forEach!.items;
  let value: JsonValue;
  let problem: string | undefined;
  try {
    value = resolveTemplates(written, state.exprContext(), (e) => !readsSecrets(e), exprOptions);
    if (!Array.isArray(value)) problem = `gave ${short(value)}, not a list`;
    else if (value.length === 0) problem = 'gave an empty list: there is nothing to run';
    else if (value.length > MAX_ITEMS) problem = `gave ${value.length} items, over the limit of ${MAX_ITEMS}`;
  } catch (err) {
    problem = `could not be evaluated: ${(err as Error).message}`;
  }
  if (problem !== undefined) {
    const message = `forEach of stage "${node.id}": \`${typeof written === 'string' ? written : short(written)}\` ${problem}`;
    state.recordError(node.id, message);
    state.markFailed(node.id);
    throw ApplicationFailure.nonRetryable(message, 'ForEachItems');
  }
  return value! as JsonValue[];
}

function short(v: JsonValue): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

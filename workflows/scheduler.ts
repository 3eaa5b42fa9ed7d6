/**
 * The scheduler loop: starts every stage whose upstream stages have finished (up to
 * MAX_IN_FLIGHT at once), skips those whose upstream did not succeed, and waits for the next
 * stage to end. It stops starting stages once one fails, the run is cancelled, or the history is
 * long enough to continue as new, and returns when nothing runs any more.
 *
 * Replay: stages are started in plan order within a pass, each in the run's one cancellation
 * scope; keep that order and the single `Promise.race` per pass.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { Plan, PlanNode } from '../src/core/plan.ts';
import type { CurrentDetails } from './details.ts';
import type { RunState } from './run-state.ts';

/** Temporal allows about 2,000 pending activities per run: stay well below. */
const MAX_IN_FLIGHT = 1000;

export interface ScheduleOutcome {
  /** The first stage that failed for good (its siblings were cancelled). */
  failed?: { stage: string; err: unknown };
  /** The run was cancelled; `cancelledBy` is the cancellation a stage saw, if one did. */
  cancelled: boolean;
  cancelledBy?: unknown;
}

export async function schedule(
  plan: Plan,
  state: RunState,
  details: CurrentDetails,
  runStage: (node: PlanNode) => Promise<void>,
  shouldContinueAsNew: () => boolean,
): Promise<ScheduleOutcome> {
  const scope = new CancellationScope();
  const running = new Map<string, Promise<void>>();
  let failed: ScheduleOutcome['failed'];
  let cancelledBy: unknown;

  for (;;) {
    const draining = failed !== undefined || cancelledBy !== undefined || scope.consideredCancelled || shouldContinueAsNew();
    if (!draining) {
      // Plan order is topological, so a node skipped here is seen by its dependents in this pass.
      for (const node of plan.nodes) {
        if (running.size >= MAX_IN_FLIGHT) break;
        if (state.stage(node.id).status !== 'pending' || running.has(node.id)) continue;
        if (!node.needs.every((d) => state.isTerminal(d))) continue;
        const notDone = node.needs.find((d) => state.stage(d).status !== 'succeeded');
        if (notDone) {
          state.markSkipped(node.id, `upstream stage "${notDone}" was ${state.stage(notDone).status}`);
          continue;
        }
        const p = scope
          .run(() => runStage(node))
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
    details.refresh();
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  return { failed, cancelled: cancelledBy !== undefined || scope.consideredCancelled, cancelledBy };
}

/**
 * The run's query, signals and updates. Handlers only read the run state and leave word in the
 * operator inbox; the stage runner acts on it. Registration order is kept as it was (a signal
 * that arrived with the start is delivered when its handler is set).
 */
import { log, setDefaultSignalHandler, setHandler } from '@temporalio/workflow';
import { isStageProgress, type StageProgress } from '../src/core/activities.ts';
import type { Plan } from '../src/core/plan.ts';
import {
  approveSignal,
  approveUpdate,
  retrySignal,
  retryUpdate,
  skipSignal,
  skipUpdate,
  stageProgressSignal,
  statusQuery,
  type RetryRequest,
} from './api.ts';
import type { CurrentDetails } from './details.ts';
import type { OperatorInbox } from './operator.ts';
import type { RunState } from './run-state.ts';

export function installHandlers(plan: Plan, run: RunState, inbox: OperatorInbox, details: CurrentDetails): void {
  const nodes = new Map(plan.nodes.map((n) => [n.id, n]));
  setHandler(statusQuery, () => run.status());

  const checkApprove = (stage: string) => {
    const n = nodes.get(stage);
    if (!n) throw new Error(`no stage "${stage}" in pipeline ${plan.pipeline}`);
    if (!n.approval) throw new Error(`stage "${stage}" has no approval gate`);
    if (run.isTerminal(stage)) throw new Error(`stage "${stage}" is already ${run.stage(stage).status}`);
  };
  const checkWaiting = (stage: string, allowGate: boolean) => {
    // a forEach item (`<stage>[<i>]`) waits on its own
    if (!nodes.has(stage) && !run.has(stage)) throw new Error(`no stage "${stage}" in pipeline ${plan.pipeline}`);
    const st = run.stage(stage).status;
    if (st === 'awaiting-operator' || (allowGate && st === 'awaiting-approval')) return;
    throw new Error(
      `stage "${stage}" is ${st}; only a stage waiting after a failure (onFailure: wait)` +
        (allowGate ? ' or at an approval gate' : '') +
        ' can be acted on',
    );
  };
  const approve = (stage: string) => {
    inbox.approve(stage);
    return `approved ${stage}`;
  };
  const retry = (req: RetryRequest) => {
    inbox.decide(req.stage, { action: 'retry', req });
    return `retrying ${req.stage}`;
  };
  const skip = (stage: string) => {
    inbox.decide(stage, { action: 'skip' });
    return `skipping ${stage}`;
  };
  // Signals cannot answer, and a throwing handler would fail the run: check, log, ignore.
  const guarded =
    <A>(check: (a: A) => void, act: (a: A) => unknown) =>
    (a: A) => {
      try {
        check(a);
        act(a);
      } catch (err) {
        log.warn(`ignored signal: ${(err as Error).message}`);
      }
    };

  setHandler(approveSignal, guarded(checkApprove, approve));
  const progress = ({ stage, text }: StageProgress) => {
    if (!run.has(stage) || typeof text !== 'string') return;
    details.setProgress(stage, text);
  };
  setHandler(stageProgressSignal, progress);
  setHandler(
    retrySignal,
    guarded((r: RetryRequest) => checkWaiting(r.stage, false), retry),
  );
  setHandler(
    skipSignal,
    guarded((s: string) => checkWaiting(s, true), skip),
  );
  setHandler(approveUpdate, approve, { validator: checkApprove });
  setHandler(retryUpdate, retry, { validator: (r) => checkWaiting(r.stage, false) });
  setHandler(skipUpdate, skip, { validator: (s) => checkWaiting(s, true) });
  // Progress arrives under names that are the progress line itself (src/core/activities.ts):
  // every other name is a mistake, logged and dropped rather than buffered for the whole run.
  setDefaultSignalHandler((name, ...args) => {
    if (isStageProgress(args[0])) progress(args[0]);
    else log.warn(`ignored signal ${JSON.stringify(name.slice(0, 80))}: this workflow has no such signal`);
  });
}

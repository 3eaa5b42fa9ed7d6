/**
 * The interpreter: runs a compiled plan as one durable workflow. Deterministic: no I/O, clocks or
 * randomness outside Temporal's APIs (new Date() is Temporal's replay-safe clock here).
 *
 * This file wires the parts together and decides how the run ends:
 *   run-state.ts         the stages' states and params, changed only by named transitions
 *   operator.ts          approvals and retry/skip decisions waiting for the stage runner
 *   handlers.ts          the status query, the signals and updates
 *   details.ts           the UI's Current Details (stage table, live progress)
 *   scheduler.ts         the loop that starts ready stages and waits for them
 *   stage-runner.ts      one stage: when, approval gate, cache, activity, fix and continue
 *   stage-activities.ts  activity options and the step cache's local activities
 *
 * Changing these files while runs are in flight: wrap behaviour changes in `patched('<id>')`
 * (and later `deprecatePatch`) so histories recorded by the old code still replay. See
 * docs/runtime.md, "Changing the interpreter".
 */
import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import type { ExprOptions } from '../src/core/expr.ts';
import type { PipelineInput, PipelineResult } from './api.ts';
import { CurrentDetails } from './details.ts';
import { describeFailure } from './failures.ts';
import { installHandlers } from './handlers.ts';
import { OperatorInbox } from './operator.ts';
import { RunState } from './run-state.ts';
import { schedule } from './scheduler.ts';
import { runStage, type StageRunContext } from './stage-runner.ts';

export async function pipeline(input: PipelineInput): Promise<PipelineResult> {
  const { plan } = input;
  const state = new RunState(plan, input);
  const inbox = new OperatorInbox();
  const details = new CurrentDetails(plan, state);
  installHandlers(plan, state, inbox, details);

  // Histories recorded before these existed replay without them (docs/runtime.md). The three
  // patched() calls stay here, in this order, before the first command.
  const exprOptions: ExprOptions = {
    // an expression over the cost limit fails its stage instead of stalling the workflow task
    bounded: patched('expr-cost-bound'),
    // params and upstream outputs substituted into a stage are data, never templates
    escapeValues: patched('substituted-values-are-data'),
  };
  const info = workflowInfo();
  const ctx: StageRunContext = {
    plan,
    state,
    inbox,
    exprOptions,
    run: {
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      pipeline: plan.pipeline,
      planHash: plan.hash,
      ...(input.gitSha ? { gitSha: input.gitSha } : {}),
      // Rerun runs name their earlier run to the stages (train resumes from its checkpoints).
      ...(input.rerunOf && patched('rerun-of-in-stage-input') ? { rerunOf: input.rerunOf } : {}),
    },
    noCache: Boolean(input.noCache),
    // a forEach stage stops starting items then, and its finished items are carried
    shouldContinueAsNew: () => shouldContinueAsNew(),
    ...(input.continueAsNewAfterEvents !== undefined ? { continueAsNewAfterEvents: input.continueAsNewAfterEvents } : {}),
  };

  const limit = input.continueAsNewAfterEvents;
  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || (limit !== undefined && workflowInfo().historyLength >= limit);
  const outcome = await schedule(plan, state, details, (node) => runStage(node, ctx), shouldContinueAsNew);

  if (outcome.failed) {
    const f = outcome.failed;
    state.cancelUnfinished(`not run: stage "${f.stage}" failed`);
    details.refresh();
    const st = state.stage(f.stage);
    throw ApplicationFailure.create({
      message: `stage "${f.stage}" (${st.kind}) failed: ${st.error ?? describeFailure(f.err)}`,
      type: 'StageFailed',
      nonRetryable: true,
      details: [{ stage: f.stage, error: st.error ?? describeFailure(f.err) }],
    });
  }
  if (outcome.cancelled) {
    state.cancelUnfinished('run cancelled');
    details.refresh();
    throw outcome.cancelledBy ?? new Error('run cancelled');
  }
  if (state.unfinished().length > 0) {
    // History is getting long: carry the finished stages into a fresh run with the same id.
    await condition(allHandlersFinished);
    return await continueAsNew<typeof pipeline>({
      ...input,
      reuse: undefined,
      carried: { stages: state.stages, params: state.params },
    });
  }
  return { pipeline: plan.pipeline, status: 'succeeded', stages: state.stages };
}

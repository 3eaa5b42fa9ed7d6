/**
 * The options a node's activity runs with: its task queue, timeouts and retry policy, from the
 * plan. A stage's activity and an optimize stage's trials (which run with the tuned train stage's
 * options) both take them from here; each adds its own id and summary.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import type { PlanNode } from '../src/core/plan.ts';
import { taskQueueFor } from './routing.ts';

export function activityOptions(node: PlanNode): ActivityOptions {
  const a = node.activity;
  return {
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
  };
}

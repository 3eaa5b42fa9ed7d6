import type { PlanNode } from '../src/core/plan.ts';
import { DEFAULT_TASK_QUEUE, GPU_TASK_QUEUE } from './api.ts';

/**
 * The task queue a node's activity goes to. A queue the spec names wins; a node that asks for a
 * GPU (`resources.gpu > 0`) and names none goes to `mlpipe-gpu`, every other one to `mlpipe`.
 * The compiler may leave `activity.taskQueue` empty (or at the default) to get this routing.
 */
export function taskQueueFor(node: PlanNode): string {
  const named = node.activity.taskQueue;
  const gpu = (node.resources.gpu ?? 0) > 0;
  if (named && named !== DEFAULT_TASK_QUEUE) return named;
  return gpu ? GPU_TASK_QUEUE : DEFAULT_TASK_QUEUE;
}

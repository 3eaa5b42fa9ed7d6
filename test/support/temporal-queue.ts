import type { Plan } from '../../src/core/plan.ts';

/**
 * Every node's activities on `queue` (tests and bench keep their tasks apart this way); nodes
 * that ask for a GPU go to `gpuQueue` when given.
 */
export function onQueue(plan: Plan, queue: string, gpuQueue?: string): Plan {
  return {
    ...plan,
    nodes: plan.nodes.map((n) => ({
      ...n,
      activity: { ...n.activity, taskQueue: gpuQueue && (n.resources.gpu ?? 0) > 0 ? gpuQueue : queue },
    })),
  };
}

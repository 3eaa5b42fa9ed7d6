import type { Plan } from '../../src/compiler/plan.ts';

/** Every node's activities on `queue` (tests and bench keep their tasks apart this way). */
export function onQueue(plan: Plan, queue: string): Plan {
  return { ...plan, nodes: plan.nodes.map((n) => ({ ...n, activity: { ...n.activity, taskQueue: queue } })) };
}

/**
 * Hand-built plans for tests and the bench (the compiler makes real ones from YAML). Stages are
 * `activity` stages running test/support/activities.ts functions.
 */
import { createHash } from 'node:crypto';
import type { ForEachPlan, JsonObject, JsonValue, Plan, PlanNode } from '../../src/core/plan.ts';

export interface StageSpec {
  /** A function of test/support/activities.ts. */
  fn: string;
  input?: JsonValue;
  needs?: string[];
  when?: string;
  inputs?: PlanNode['inputs'];
  maximumAttempts?: number;
  initialIntervalMs?: number;
  startToCloseTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  cache?: boolean;
  cacheTtlMs?: number;
  onFailure?: 'fail' | 'wait';
  approval?: boolean;
  gpu?: number;
  taskQueue?: string;
  config?: JsonObject;
  /** A forEach stage: its items and policy (as the compiler writes them). */
  forEach?: ForEachPlan;
}

export function node(id: string, s: StageSpec): PlanNode {
  return {
    id,
    kind: 'activity',
    needs: [...(s.needs ?? [])].sort(),
    ...(s.when ? { when: s.when } : {}),
    config: { activity: s.fn, input: s.input ?? {}, ...(s.config ?? {}) },
    inputs: s.inputs ?? {},
    outputs: {},
    activity: {
      taskQueue: s.taskQueue ?? '',
      startToCloseTimeoutMs: s.startToCloseTimeoutMs ?? 60_000,
      ...(s.heartbeatTimeoutMs ? { heartbeatTimeoutMs: s.heartbeatTimeoutMs } : {}),
      retry: {
        maximumAttempts: s.maximumAttempts ?? 3,
        initialIntervalMs: s.initialIntervalMs ?? 100,
        backoffCoefficient: 2,
        maximumIntervalMs: 1_000,
        nonRetryableErrorTypes: [],
      },
    },
    cache: { enabled: s.cache ?? false, ...(s.cacheTtlMs !== undefined ? { ttlMs: s.cacheTtlMs } : {}) },
    onFailure: s.onFailure ?? 'fail',
    approval: s.approval ?? false,
    resources: s.gpu ? { gpu: s.gpu } : {},
    ...(s.forEach ? { forEach: s.forEach } : {}),
  };
}

/** A plan from stages given in any order (sorted topologically, ties by name). */
export function makePlan(
  pipeline: string,
  stages: Record<string, StageSpec>,
  params: Record<string, string | number | boolean> = {},
): Plan {
  const nodes = Object.entries(stages).map(([id, s]) => node(id, s));
  const depth = new Map<string, number>();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const d = (id: string): number => {
    if (depth.has(id)) return depth.get(id)!;
    const n = byId.get(id);
    if (!n) throw new Error(`unknown stage ${id}`);
    const v = n.needs.length ? 1 + Math.max(...n.needs.map(d)) : 0;
    depth.set(id, v);
    return v;
  };
  nodes.sort((a, b) => d(a.id) - d(b.id) || (a.id < b.id ? -1 : 1));
  const levels: string[][] = [];
  for (const n of nodes) (levels[d(n.id)] ??= []).push(n.id);
  const paramTypes = Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string']),
  ) as Plan['paramTypes'];
  const body = { apiVersion: 'mlpipe.dev/plan/v1' as const, pipeline, labels: {}, params, paramTypes, nodes, levels };
  return { ...body, hash: createHash('sha256').update(JSON.stringify(body)).digest('hex') };
}

/** `n` no-op stages in a chain. */
export function chainPlan(n: number, name = 'bench-chain'): Plan {
  const stages: Record<string, StageSpec> = {};
  for (let i = 0; i < n; i++) stages[id(i)] = { fn: 'noop', needs: i ? [id(i - 1)] : [], maximumAttempts: 1 };
  return makePlan(name, stages);
}

/** A root, `n - 2` parallel no-op stages, and a join. */
export function fanOutPlan(n: number, name = 'bench-fanout'): Plan {
  const stages: Record<string, StageSpec> = { [id(0)]: { fn: 'noop', maximumAttempts: 1 } };
  const mids: string[] = [];
  for (let i = 1; i < n - 1; i++) {
    stages[id(i)] = { fn: 'noop', needs: [id(0)], maximumAttempts: 1 };
    mids.push(id(i));
  }
  stages[id(n - 1)] = { fn: 'noop', needs: mids, maximumAttempts: 1 };
  return makePlan(name, stages);
}

const id = (i: number) => `s${String(i).padStart(3, '0')}`;

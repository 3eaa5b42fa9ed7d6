/**
 * The plan without what depends on the machine that compiled it: collect stages carry the
 * spec's absolute directory (`location.baseDir`), so the compiler's `hash` differs between a
 * laptop and a CI checkout of the same commit. Schedules compare this instead. Plans that older
 * versions stored in Temporal schedules are lifted to today's shape first, so an unchanged
 * pipeline compares equal across the upgrade.
 */
import { liftLegacyFields } from '../core/legacy-plan.ts';
import type { JsonObject, Plan } from '../core/plan.ts';

export function portablePlan(plan: Plan): JsonObject {
  const { hash: _hash, ...rest } = plan;
  const nodes = plan.nodes.map((n) => {
    const { location, ...node } = liftLegacyFields(n);
    return location?.repoDir !== undefined ? { ...node, location: { repoDir: location.repoDir } } : node;
  });
  return JSON.parse(JSON.stringify({ ...rest, nodes })) as JsonObject;
}

/** The directories the collect stages read from on the machine that compiled the plan. */
export function baseDirs(plan: Plan): string[] {
  return plan.nodes.flatMap((n) => liftLegacyFields(n).location?.baseDir ?? []);
}

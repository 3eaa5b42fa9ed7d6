/**
 * What every stage kind shares; what each kind has of its own is in its descriptor
 * (src/spec/stages/<kind>.ts).
 */
import { ARTIFACT_KINDS, type ArtifactKind, type JsonObject, type OutputType } from '../core/plan.ts';
import type { Stage } from './types.gen.ts';

/** Fields every stage kind shares; the rest of a stage is its kind's own config. */
export const COMMON_FIELDS = new Set([
  'type',
  'description',
  'needs',
  'inputs',
  'when',
  'forEach',
  'retry',
  'timeouts',
  'heartbeatTimeout',
  'taskQueue',
  'resources',
  'cache',
  'onFailure',
  'approval',
]);

/** A stage's kind-specific fields (its plan node's `config`): the shared ones left out. */
export function ownFields(s: Stage): JsonObject {
  return Object.fromEntries(Object.entries(s).filter(([k]) => !COMMON_FIELDS.has(k))) as JsonObject;
}

export function isArtifactType(t: OutputType): t is ArtifactKind {
  return (ARTIFACT_KINDS as readonly string[]).includes(t);
}

/**
 * Default heartbeat timeout, the same for every kind: every stage heartbeats while it runs (user
 * activities through their worker, activities/lib/user-run.ts), so a worker that dies mid-stage
 * is noticed within a minute instead of at the start-to-close timeout.
 */
export const DEFAULT_HEARTBEAT = '1m';

/**
 * The contract between the workflow and the worker's activities: activity type names and the
 * step cache's inputs and results. Here, not in workflows/, so that activities and the step
 * cache share it without importing workflow code.
 */
import type { JsonObject, JsonValue, SpecLocation, StageResult } from './plan.ts';

/** What the workflow gets back from a stage activity (the registry adds the attempt number). */
export type StageActivityResult = StageResult & { attempt?: number };

/** The step cache's two activities (run as local activities on the workflow worker). */
export interface CacheLookupInput {
  kind: string;
  config: JsonObject;
  /** The node's `location` and resolved `tunedConfig`: part of the key like the config. */
  location?: SpecLocation;
  tunedConfig?: JsonObject;
  inputDigests: Record<string, string>;
  ttlMs?: number;
}
export interface CacheLookupResult {
  key: string;
  outputs?: Record<string, JsonValue>;
}
export interface CacheStoreInput {
  key: string;
  stage: string;
  outputs: Record<string, JsonValue>;
}

/** Activity type names. Stage kinds map to `stage.<kind>`. */
export const activityName = (kind: string): string => `stage.${kind}`;
export const CACHE_LOOKUP = 'mlpipe.cacheLookup';
export const CACHE_STORE = 'mlpipe.cacheStore';

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

/** A running stage's latest progress as one line, relayed from its heartbeats to the workflow (activities/lib/live-progress.ts). */
export interface StageProgress {
  stage: string;
  text: string;
}
/** The signal name earlier versions relayed progress under (still handled, for their workers). */
export const STAGE_PROGRESS_SIGNAL = 'stageProgress';

/**
 * The name progress is relayed under: the line itself (`train · epoch 3/10 · ETA 20s · loss
 * 0.4123`). The Temporal UI labels a signal on the run's landing page (its timeline) by its name
 * alone (signals carry no user metadata), so the name is what makes the progress visible there
 * without a click; the payload is the same `StageProgress` as always.
 */
export const progressSignalName = (p: StageProgress): string => `${p.stage} · ${p.text}`.slice(0, 160);

/** Whether a signal's first argument is a relayed `StageProgress`. */
export function isStageProgress(v: unknown): v is StageProgress {
  return !!v && typeof v === 'object' && typeof (v as StageProgress).stage === 'string' && typeof (v as StageProgress).text === 'string';
}

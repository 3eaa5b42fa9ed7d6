/**
 * Plans compiled before `location` and `tunedConfig` were fields of their own carried them
 * inside the stage config as `__baseDir`, `__repoDir` and `__tunedConfig`. Such plans live on
 * in recorded histories, runs in flight and Temporal schedules: readers lift them into the
 * typed fields here, so no other code knows the old names. (The step cache keeps hashing the
 * old layout so that keys stay valid: src/temporal/step-cache.ts.)
 */
import type { JsonObject, SpecLocation } from './plan.ts';

interface Carrier {
  config: JsonObject;
  location?: SpecLocation;
  tunedConfig?: JsonObject;
}

/** `x` with any legacy config keys moved to `location` / `tunedConfig`; `x` itself when it has none. */
export function liftLegacyFields<T extends Carrier>(x: T): T {
  const { __baseDir: baseDir, __repoDir: repoDir, __tunedConfig: tuned, ...config } = x.config;
  if (baseDir === undefined && repoDir === undefined && tuned === undefined) return x;
  const out: T = { ...x, config };
  if (typeof baseDir === 'string' && !x.location) {
    out.location = { baseDir, ...(typeof repoDir === 'string' ? { repoDir } : {}) };
  }
  if (tuned && typeof tuned === 'object' && !Array.isArray(tuned) && !x.tunedConfig) out.tunedConfig = tuned;
  return out;
}

/**
 * The config as plans before the typed fields wrote it: what the step cache hashes, so a key
 * computed for an old plan and for its recompiled twin is the same.
 */
export function legacyConfig(x: Carrier): JsonObject {
  return {
    ...x.config,
    ...(x.location ? { __baseDir: x.location.baseDir } : {}),
    ...(x.location?.repoDir !== undefined ? { __repoDir: x.location.repoDir } : {}),
    ...(x.tunedConfig ? { __tunedConfig: x.tunedConfig } : {}),
  };
}

/**
 * The step cache: a stage whose kind, resolved config and input artifact digests hash to a key
 * seen before reuses those outputs. One JSON file per key under `<home>/cache/steps/`; the
 * workflow reaches it through two local activities (so only the key and outputs, a few hundred
 * bytes, enter history). Outputs are artifact refs and scalars; the artifacts themselves live
 * in the content-addressed artifact store, so a cached ref stays valid while its file exists.
 */
import { createHash } from 'node:crypto';
import writeFileAtomic from 'write-file-atomic';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { JsonValue } from '../compiler/plan.ts';
import { isArtifactRef } from '../compiler/plan.ts';
import type { CacheLookupInput, CacheLookupResult, CacheStoreInput } from '../../workflows/api.ts';

/** Bump to invalidate every cache entry when the key's meaning changes. */
const KEY_VERSION = 1;

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function cacheKey(i: Pick<CacheLookupInput, 'kind' | 'config' | 'inputDigests'>): string {
  const body = canonicalJson({ v: KEY_VERSION, kind: i.kind, config: i.config, inputs: i.inputDigests });
  return createHash('sha256').update(body).digest('hex');
}

interface Entry {
  key: string;
  stage: string;
  storedAt: string;
  outputs: Record<string, JsonValue>;
}

/** A cached output pointing at a local artifact file that is gone is no hit. */
function artifactsPresent(outputs: Record<string, JsonValue>): boolean {
  for (const v of Object.values(outputs)) {
    if (isArtifactRef(v) && v.uri.startsWith('file://')) {
      try {
        if (!existsSync(fileURLToPath(v.uri))) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}

export function createStepCacheActivities(home: string) {
  const dir = join(home, 'cache', 'steps');
  const file = (key: string) => join(dir, `${key}.json`);
  return {
    async lookup(i: CacheLookupInput): Promise<CacheLookupResult> {
      const key = cacheKey(i);
      let entry: Entry;
      try {
        entry = JSON.parse(readFileSync(file(key), 'utf8')) as Entry;
      } catch {
        return { key };
      }
      const age = Date.now() - Date.parse(entry.storedAt);
      if (i.ttlMs !== undefined && !(age <= i.ttlMs)) return { key };
      if (!artifactsPresent(entry.outputs)) return { key };
      return { key, outputs: entry.outputs };
    },
    async store(i: CacheStoreInput): Promise<void> {
      mkdirSync(dir, { recursive: true });
      const entry: Entry = { key: i.key, stage: i.stage, storedAt: new Date().toISOString(), outputs: i.outputs };
      writeFileAtomic.sync(file(i.key), JSON.stringify(entry)); // a reader never sees half an entry
    },
  };
}

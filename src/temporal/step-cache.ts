/**
 * The step cache: a stage whose kind, resolved config and input artifact digests hash to a key
 * seen before reuses those outputs. One JSON file per key under `<home>/cache/steps/`; the
 * workflow reaches it through two local activities (so only the key and outputs, a few hundred
 * bytes, enter history). Outputs are artifact refs and scalars; the artifacts themselves live
 * in the content-addressed artifact store. A hit is taken only when every local artifact it
 * names is there and still hashes to its digest (an object-store artifact: is there, same size); a missing or corrupt one makes the stage run
 * again (which writes the blob afresh), so a damaged artifact is never handed on.
 */
import { createHash } from 'node:crypto';
import writeFileAtomic from 'write-file-atomic';
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { defaultStore } from '../artifacts/index.ts';
import { isArtifactRef, type JsonValue } from '../core/plan.ts';
import type { CacheLookupInput, CacheLookupResult, CacheStoreInput } from '../core/activities.ts';
import { legacyConfig } from '../core/legacy-plan.ts';

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

export function cacheKey(i: Pick<CacheLookupInput, 'kind' | 'config' | 'location' | 'tunedConfig' | 'inputDigests'>): string {
  // location and tunedConfig are hashed where older plans kept them (inside the config), so a
  // plan compiled today finds the entries its predecessors stored.
  const body = canonicalJson({ v: KEY_VERSION, kind: i.kind, config: legacyConfig(i), inputs: i.inputDigests });
  return createHash('sha256').update(body).digest('hex');
}

interface Entry {
  key: string;
  stage: string;
  storedAt: string;
  outputs: Record<string, JsonValue>;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Why a cached output's local artifact cannot be used (gone or corrupt), or undefined when all can. */
async function unusableArtifact(outputs: Record<string, JsonValue>): Promise<string | undefined> {
  for (const [name, v] of Object.entries(outputs)) {
    if (!isArtifactRef(v)) continue;
    if (v.uri.startsWith('s3://')) {
      // Object stores checked the SHA-256 when the object was published and every read
      // verifies it again; here a HEAD (present, same size) is what a cache hit can afford.
      const found = await defaultStore().stat(v).catch(() => null);
      if (found?.sizeBytes !== v.sizeBytes) return `output ${name}: ${v.uri} is not in the store (or has another size)`;
      continue;
    }
    if (!v.uri.startsWith('file://')) continue;
    let path: string;
    try {
      path = fileURLToPath(v.uri);
    } catch {
      return `output ${name}: ${v.uri} is not a file path`;
    }
    let actual: string;
    try {
      actual = await fileSha256(path);
    } catch (e) {
      return `output ${name}: ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    }
    if (actual !== v.digest) return `output ${name}: ${path} is corrupt (its content hashes to ${actual}, not ${v.digest})`;
  }
  return undefined;
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
      const why = await unusableArtifact(entry.outputs);
      if (why) {
        console.warn(`step cache: not reusing stage ${JSON.stringify(entry.stage)}'s outputs, running it again: ${why}`);
        return { key };
      }
      return { key, outputs: entry.outputs };
    },
    async store(i: CacheStoreInput): Promise<void> {
      mkdirSync(dir, { recursive: true });
      const entry: Entry = { key: i.key, stage: i.stage, storedAt: new Date().toISOString(), outputs: i.outputs };
      writeFileAtomic.sync(file(i.key), JSON.stringify(entry)); // a reader never sees half an entry
    },
  };
}

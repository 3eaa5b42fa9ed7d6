/**
 * The step cache: a stage whose kind, resolved config and input artifact digests hash to a key
 * seen before reuses those outputs. Entries are rows of the metadata database's `step_cache`
 * table (src/db: SQLite in the home by default, PostgreSQL with MLPIPE_DB / --db), so in a
 * cluster a run on one host hits what a run on another stored. The workflow reaches it through
 * two local activities (so only the key and outputs, a few hundred bytes, enter history).
 * Outputs are artifact refs and scalars; the artifacts themselves live in the content-addressed
 * artifact store. A hit is taken only when every local artifact it names is there and still
 * hashes to its digest (an object-store artifact: is there, same size); a missing or corrupt one
 * makes the stage run again (which writes the blob afresh), so a damaged artifact is never
 * handed on. JSON entries an older mlpipe kept in `<home>/cache/steps/` are not read: after an
 * upgrade the cache starts cold.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultStore } from '../artifacts/index.ts';
import { isArtifactRef, type JsonValue } from '../core/plan.ts';
import type { CacheLookupInput, CacheLookupResult, CacheStoreInput } from '../core/activities.ts';
import { legacyConfig } from '../core/legacy-plan.ts';
import { dbUrl, openDb, type Db } from '../db/index.ts';

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

/** A `step_cache` row (migration 2). */
interface Row {
  stage: string;
  stored_at: string;
  outputs: string;
}

// Last writer wins, as the atomic file rename did: two runs storing one key at once (on any
// hosts) both succeed, and the entry is one of theirs, whole.
const UPSERT = `INSERT INTO step_cache (key, stage, stored_at, outputs) VALUES ($1, $2, $3, $4)
  ON CONFLICT (key) DO UPDATE SET stage = excluded.stage, stored_at = excluded.stored_at, outputs = excluded.outputs`;

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
      const found = await defaultStore()
        .stat(v)
        .catch(() => null);
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

/**
 * `db`: a database or its URL; default MLPIPE_DB, else SQLite in `home` (as the registry): the
 * database the worker was given. Opened on first use, through the process's shared handle.
 */
export function createStepCacheActivities(home: string, db?: Db | string) {
  const database = (): Promise<Db> => (typeof db === 'object' ? Promise.resolve(db) : openDb(dbUrl(db, home)));
  return {
    async lookup(i: CacheLookupInput): Promise<CacheLookupResult> {
      const key = cacheKey(i);
      // A database that cannot be reached throws: the workflow logs it and runs the stage.
      const [row] = await (await database()).all<Row>('SELECT stage, stored_at, outputs FROM step_cache WHERE key = $1', [key]);
      if (!row) return { key };
      const age = Date.now() - Date.parse(row.stored_at);
      if (i.ttlMs !== undefined && !(age <= i.ttlMs)) return { key };
      let outputs: Record<string, JsonValue>;
      try {
        outputs = JSON.parse(row.outputs) as Record<string, JsonValue>;
      } catch {
        return { key }; // not written by mlpipe: run the stage, whose store replaces it
      }
      const why = await unusableArtifact(outputs);
      if (why) {
        console.warn(`step cache: not reusing stage ${JSON.stringify(row.stage)}'s outputs, running it again: ${why}`);
        return { key };
      }
      return { key, outputs };
    },
    async store(i: CacheStoreInput): Promise<void> {
      // A write transaction, not a bare statement: on SQLite it waits (asynchronously) for
      // another process's writer instead of failing at once with SQLITE_BUSY.
      const params = [i.key, i.stage, new Date().toISOString(), JSON.stringify(i.outputs)];
      await (await database()).write((tx) => tx.run(UPSERT, params));
    },
  };
}

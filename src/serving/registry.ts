// The model registry: model name → versions and the traffic split, in the metadata database
// (src/db: SQLite in the home by default, PostgreSQL with MLPIPE_DB; docs/metadata.md). Deploy
// writes it; the model server (`mlpipe serve`) polls each entry's revision; monitor reads it and
// may roll a canary back; `mlpipe models` reads and changes it. Every change is one transaction
// that locks the model's row, so concurrent writers (a deploy and a rollback, on any host) queue
// and never lose each other's update. The whole history is kept: every version ever registered,
// every event, and each traffic split with the time it took effect (`servedAt`).
//
// `dir` (`<home>/registry`) still holds this host's files beside the registry: the running
// server's address (`_server.json`) and its token; JSON entries an older mlpipe wrote there are
// imported once (registry-import.ts).
import { dirname, join } from 'node:path';
import type { ArtifactRef } from '../core/plan.ts';
import { dbUrl, openDb, type Db } from '../db/index.ts';
import { mlpipeHome } from '../home.ts';
import { importJsonEntries } from './registry-import.ts';
import { emptyEntry, ensureModelRow, eventsOf, loadEntry, saveEntry, trafficAt, trafficOf, versionsOf } from './registry-sql.ts';

export type VersionPolicy = 'increment' | 'gitSha' | 'timestamp';

export interface RollbackRule {
  errorRateAbove?: number;
  /** Milliseconds. */
  latencyP95AboveMs?: number;
  accuracyBelow?: number;
}

export interface ModelVersion {
  version: string;
  model: ArtifactRef;
  transform?: ArtifactRef;
  createdAt: string;
  source: { workflowId: string; runId: string; pipeline: string; stage: string; gitSha?: string };
  /** The traffic its deploy replaced: what a failed deploy puts back (`withdrawVersion`). */
  previous?: Traffic;
}

/** How traffic is split: `primary` answers; a candidate gets a canary share or shadow copies. */
export interface Traffic {
  primary: string | null;
  candidate?: {
    version: string;
    mode: 'canary' | 'shadow';
    /** Percent of requests (canary). */
    weight: number;
    startedAt: string;
    /** Observe this long (ms) before the rollback rule promotes or rolls back. */
    durationMs?: number;
    rollback?: RollbackRule;
  };
}

export interface RegistryEvent {
  at: string;
  event: string;
  version: string;
  reason?: string;
}

export interface RegistryEntry {
  format: 'mlpipe-registry/v1';
  name: string;
  /** Bumped on every write; the server reloads when it changes. */
  revision: number;
  /** The live versions (withdrawn ones are in `Registry.versions(name, { withdrawn: true })`). */
  versions: ModelVersion[];
  traffic: Traffic;
  /** The newest 100 events, oldest first; an update appends here. `Registry.history` has them all. */
  events: RegistryEvent[];
}

/** A traffic split and when it took effect. */
export interface TrafficChange {
  revision: number;
  at: string;
  traffic: Traffic;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(name: string): void {
  if (!NAME.test(name) || name.length > 63)
    throw new Error(`bad model name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
}

export function registryDir(home = mlpipeHome()): string {
  return join(home, 'registry');
}

export class Registry {
  /**
   * `db`: a database or its URL; default MLPIPE_DB, else SQLite in the home `dir` is in
   * (`<home>/metadata.db` for `<home>/registry`).
   */
  constructor(
    readonly dir: string = registryDir(),
    private readonly db?: Db | string,
  ) {}

  /**
   * The database, opened (and migrated) on first use, with this dir's JSON entries imported.
   * Not kept here: the process's shared handle (src/db) is looked up each time, so a handle
   * closed meanwhile (closeDbs) is opened again.
   */
  async database(): Promise<Db> {
    const db = typeof this.db === 'object' ? this.db : await openDb(dbUrl(this.db, dirname(this.dir)));
    await importJsonEntries(db, this.dir);
    return db;
  }

  async get(name: string): Promise<RegistryEntry | undefined> {
    checkName(name);
    const db = await this.database();
    return db.read((tx) => loadEntry(tx, name));
  }

  /** Model names with an entry. */
  async names(): Promise<string[]> {
    const db = await this.database();
    return (await db.all<{ name: string }>('SELECT name FROM models WHERE revision > 0 ORDER BY name')).map((r) => r.name);
  }

  /**
   * Read-modify-write in one transaction holding the model's row lock; `fn` gets a copy (a fresh
   * entry if none) and returns the new one. Nothing is written if `fn` throws.
   */
  async update(name: string, fn: (e: RegistryEntry) => RegistryEntry | Promise<RegistryEntry>): Promise<RegistryEntry> {
    checkName(name);
    const db = await this.database();
    return db.write(async (tx) => {
      const now = new Date().toISOString();
      await ensureModelRow(tx, name, now);
      const cur = (await loadEntry(tx, name, db.forUpdate)) ?? emptyEntry(name);
      const next = await fn(structuredClone(cur));
      return saveEntry(tx, cur, next, now);
    });
  }

  /** Every event of `name`, oldest first (or the newest `limit`), with the revision that made it. */
  async history(name: string, o: { limit?: number } = {}): Promise<(RegistryEvent & { revision: number })[]> {
    checkName(name);
    return eventsOf(await this.database(), name, o.limit);
  }

  /** Every traffic split `name` has had, oldest first. */
  async trafficHistory(name: string): Promise<TrafficChange[]> {
    checkName(name);
    return trafficOf(await this.database(), name);
  }

  /** The traffic split in effect at `at` (which version served, and any candidate), or undefined before the first. */
  async servedAt(name: string, at: Date): Promise<TrafficChange | undefined> {
    checkName(name);
    return trafficAt(await this.database(), name, at);
  }

  /** The versions of `name` in registration order; with `withdrawn`, also those a failed deploy withdrew. */
  async versions(name: string, o: { withdrawn?: boolean } = {}): Promise<(ModelVersion & { withdrawnAt?: string })[]> {
    checkName(name);
    return versionsOf(await this.database(), name, !!o.withdrawn);
  }
}

/** The next version's name under `policy`. */
export function nextVersion(entry: RegistryEntry | undefined, policy: VersionPolicy, o: { gitSha?: string; now?: Date } = {}): string {
  const taken = new Set(entry?.versions.map((v) => v.version) ?? []);
  let base: string;
  if (policy === 'increment') {
    let max = 0;
    for (const v of taken) {
      const m = /^v(\d+)$/.exec(v);
      if (m) max = Math.max(max, Number(m[1]));
    }
    return `v${max + 1}`;
  } else if (policy === 'gitSha') {
    if (!o.gitSha)
      throw new Error("versionPolicy gitSha needs the run's git commit; run the pipeline from a git checkout, or use increment/timestamp");
    base = o.gitSha.replace(/[^0-9a-zA-Z]/g, '').slice(0, 12);
  } else {
    base = (o.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace('.', '');
  }
  // The same commit (or millisecond) deployed again gets a suffix rather than overwriting.
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Versions a request can reach: primary and candidate. */
export function liveVersions(e: RegistryEntry): string[] {
  return [e.traffic.primary, e.traffic.candidate?.version].filter((v): v is string => !!v);
}

/**
 * Undo a deploy that failed after registering `version`: the version goes, and the traffic it
 * took goes back to what it replaced (versions withdrawn meanwhile excepted), with an event.
 */
export function withdrawVersion(e: RegistryEntry, version: string, reason: string, now = new Date()): RegistryEntry {
  const v = e.versions.find((x) => x.version === version);
  if (!v) return e;
  e.versions = e.versions.filter((x) => x !== v);
  const kept = (name: string | null | undefined) => !!name && e.versions.some((x) => x.version === name);
  const prev = v.previous ?? { primary: null };
  const prevCandidate = prev.candidate && kept(prev.candidate.version) ? { candidate: prev.candidate } : {};
  if (e.traffic.primary === version) {
    e.traffic = { primary: kept(prev.primary) ? prev.primary : null, ...prevCandidate };
  } else if (e.traffic.candidate?.version === version) {
    e.traffic = { primary: e.traffic.primary, ...(prevCandidate.candidate?.version !== e.traffic.primary ? prevCandidate : {}) };
  }
  e.events.push({ at: now.toISOString(), event: 'withdrawn (deploy failed)', version, reason: reason.slice(0, 500) });
  return e;
}

/** Promote the candidate (it becomes primary) or roll it back (primary stays), with an event. */
export function settleCandidate(e: RegistryEntry, outcome: 'promote' | 'rollback', reason: string, now = new Date()): RegistryEntry {
  const c = e.traffic.candidate;
  if (!c) return e;
  if (outcome === 'promote') e.traffic = { primary: c.version };
  else e.traffic = { primary: e.traffic.primary };
  e.events.push({ at: now.toISOString(), event: outcome === 'promote' ? 'promoted' : 'rolledBack', version: c.version, reason });
  return e;
}

/**
 * Make `version` the primary by hand (`mlpipe models promote|rollback <name> <version>`): any
 * candidate is dropped (settled as `event` if it is the one named), with an event.
 */
export function setPrimary(
  e: RegistryEntry,
  version: string,
  event: 'promoted' | 'rolledBack',
  reason: string,
  now = new Date(),
): RegistryEntry {
  if (!e.versions.some((v) => v.version === version)) {
    throw new Error(`model "${e.name}" has no version "${version}"; it has ${e.versions.map((v) => v.version).join(', ') || 'none'}`);
  }
  e.traffic = { primary: version };
  e.events.push({ at: now.toISOString(), event, version, reason });
  return e;
}

// The model registry: model name → versions and the traffic split, one JSON file per model under
// `<mlpipeHome>/registry/<name>.json`. Deploy writes it; the model server (`mlpipe serve`) watches
// it; monitor reads it and may roll a canary back. Every write goes to a temp file, is fsynced and
// renamed over the old one (a reader sees the old or the new entry, never half of one), under a
// per-model lock file so two writers (a deploy and a rollback) do not lose each other's update.
import writeFileAtomic from 'write-file-atomic';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactRef } from '../compiler/plan.ts';
import { mlpipeHome } from '../home.ts';

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

export interface RegistryEntry {
  format: 'mlpipe-registry/v1';
  name: string;
  /** Bumped on every write; the server reloads when it changes. */
  revision: number;
  versions: ModelVersion[];
  traffic: Traffic;
  /** What happened, newest last (deploys, promotions, rollbacks), at most 100 events. */
  events: { at: string; event: string; version: string; reason?: string }[];
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function registryDir(home = mlpipeHome()): string {
  return join(home, 'registry');
}

export class Registry {
  constructor(readonly dir: string = registryDir()) {}

  private file(name: string): string {
    if (!NAME.test(name) || name.length > 63) throw new Error(`bad model name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
    return join(this.dir, `${name}.json`);
  }

  get(name: string): RegistryEntry | undefined {
    let text: string;
    try {
      text = readFileSync(this.file(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return JSON.parse(text) as RegistryEntry;
  }

  /** Model names with an entry. */
  names(): string[] {
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return [];
    }
    return files.filter((f) => f.endsWith('.json') && !f.startsWith('_')).map((f) => f.slice(0, -5)).sort();
  }

  /** Read-modify-write under the model's lock; `fn` gets a copy (a fresh entry if none) and returns the new one. */
  async update(name: string, fn: (e: RegistryEntry) => RegistryEntry | Promise<RegistryEntry>): Promise<RegistryEntry> {
    const file = this.file(name);
    mkdirSync(this.dir, { recursive: true });
    const release = await lock(`${file}.lock`);
    try {
      const cur = this.get(name) ?? { format: 'mlpipe-registry/v1', name, revision: 0, versions: [], traffic: { primary: null }, events: [] };
      const next = await fn(structuredClone(cur));
      next.revision = cur.revision + 1;
      next.events = next.events.slice(-100);
      writeFileAtomic.sync(file, JSON.stringify(next, null, 1)); // temp file, fsync, rename
      return next;
    } finally {
      release();
    }
  }
}

const STALE_LOCK_MS = 30_000;

/** An exclusive lock file; a lock older than 30 s (its writer died) is broken. */
async function lock(path: string): Promise<() => void> {
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(path, 'wx'));
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_LOCK_MS) rmSync(path, { force: true });
      } catch {
        // released meanwhile
      }
      if (i > 2000) throw new Error(`registry lock ${path} is held too long; remove it if no deploy is running`);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
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
    if (!o.gitSha) throw new Error('versionPolicy gitSha needs the run\'s git commit; run the pipeline from a git checkout, or use increment/timestamp');
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

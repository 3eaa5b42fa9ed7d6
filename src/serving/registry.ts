// The model registry: model name → versions and the traffic split, one JSON file per model under
// `<mlpipeHome>/registry/<name>.json`. Deploy writes it; the model server (`mlpipe serve`) watches
// it; monitor reads it and may roll a canary back. Every write goes to a temp file, is fsynced and
// renamed over the old one (a reader sees the old or the new entry, never half of one), under a
// per-model lock file so two writers (a deploy and a rollback) do not lose each other's update.
import writeFileAtomic from 'write-file-atomic';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
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

  async get(name: string): Promise<RegistryEntry | undefined> {
    return this.read(name);
  }

  private read(name: string): RegistryEntry | undefined {
    let text: string;
    try {
      text = readFileSync(this.file(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return JSON.parse(text) as RegistryEntry;
    } catch (e) {
      throw new Error(
        `model registry entry ${this.file(name)} is not valid JSON (${(e as Error).message}); mlpipe writes it atomically, so it was ` +
          `changed outside mlpipe or the disk is damaged: restore it from a backup, or move it away to start model "${name}" afresh (its versions and traffic are forgotten)`,
      );
    }
  }

  /** Model names with an entry. */
  async names(): Promise<string[]> {
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
      const cur = this.read(name) ?? { format: 'mlpipe-registry/v1', name, revision: 0, versions: [], traffic: { primary: null }, events: [] };
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
/** Waiting outlasts the stale limit, so a lock left by a writer that died is always broken in time. */
const LOCK_WAIT_MS = STALE_LOCK_MS + 15_000;

/** True unless `pid` is certainly gone (another user's live process answers EPERM). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a lock's holder is gone: its process has died on this host, or it is older than the stale limit. */
function abandoned(path: string, owner: string): boolean {
  const [pid, host] = owner.split(' ');
  if (host === hostname() && Number(pid) > 0 && !alive(Number(pid))) return true;
  return Date.now() - statSync(path).mtimeMs > STALE_LOCK_MS; // another host's, or not yet written
}

/**
 * An exclusive lock file holding `<pid> <host> <nonce>`. A lock whose holder died on this host is
 * broken at once; any other is broken once older than 30 s (a writer on another host that died).
 */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let i = 0; ; i++) {
    const me = `${process.pid} ${hostname()} ${randomBytes(6).toString('hex')}`;
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, me);
      } finally {
        closeSync(fd);
      }
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        const owner = readFileSync(path, 'utf8');
        // Re-read before removing: a lock taken meanwhile holds another nonce and stays.
        if (abandoned(path, owner) && readFileSync(path, 'utf8') === owner) {
          rmSync(path, { force: true });
          continue;
        }
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) {
        throw new Error(`registry lock ${path} is held by a live writer for over ${LOCK_WAIT_MS / 1000} s; remove it if no deploy is running`);
      }
      await new Promise((r) => setTimeout(r, Math.min(100, 5 + i) * (0.5 + Math.random())));
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

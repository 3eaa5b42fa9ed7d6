// The artifact store contract. Stages, reports and the model server only ever see this
// interface; `MLPIPE_STORE` picks the backend (a local directory or S3-compatible object
// storage, src/artifacts/index.ts). Artifacts are immutable, content-addressed blobs; a lineage
// record (who made it, from what) is kept per put; a run also has named files (its report
// sections) that any host can read back.
import { createHash } from 'node:crypto';
import type { ArtifactKind, ArtifactRef } from '../core/plan.ts';

/** Where an artifact came from. One record per put (the same bytes may be put by several runs). */
export interface Lineage {
  workflowId: string;
  runId: string;
  pipeline: string;
  stage: string;
  attempt: number;
  planHash: string;
  gitSha?: string;
  /** Input name to the digest of the artifact it read. */
  inputs: Record<string, string>;
  /** A short label, e.g. `checkpoint-epoch-3`. */
  name?: string;
}

export interface ArtifactRecord {
  ref: ArtifactRef;
  lineage: Lineage;
  createdAt: string;
}

export interface PutOptions {
  kind: ArtifactKind;
  lineage: Lineage;
}

export interface ArtifactStore {
  /** Where the store is, for messages: a directory or `s3://bucket/prefix`. */
  readonly location: string;
  /** Store bytes; returns once the artifact is complete and visible. */
  put(data: Uint8Array, opts: PutOptions): Promise<ArtifactRef>;
  /**
   * Store a stream. If the stream fails, nothing becomes visible. `maxBytes` aborts (and leaves
   * nothing) once exceeded.
   */
  putStream(chunks: AsyncIterable<Uint8Array>, opts: PutOptions & { maxBytes?: number }): Promise<ArtifactRef>;
  /** The bytes, checksum-verified; throws ArtifactIntegrityError on a mismatch. */
  get(ref: ArtifactRef): Promise<Buffer>;
  /**
   * The bytes as a stream, in bounded memory. They are hashed as they pass: the iteration throws
   * ArtifactIntegrityError at its end if they do not match the digest (discard what was read).
   */
  getStream(ref: ArtifactRef): AsyncIterable<Uint8Array>;
  /** Whether it exists (and its size), without reading it. */
  stat(ref: ArtifactRef): Promise<{ sizeBytes: number } | null>;
  /** Lineage records of a run's artifacts, oldest first. */
  list(workflowId: string): Promise<ArtifactRecord[]>;
  /** Forget a run's records of an artifact (e.g. an old checkpoint); the bytes go once no record refers to them. */
  remove?(ref: ArtifactRef, workflowId: string): Promise<void>;
  /** Write a named file of a run (`report/…`), replacing the old one whole: readers see one or the other. */
  putRunFile(workflowId: string, name: string, data: Uint8Array): Promise<void>;
  /** A run's file, or null when there is none. */
  getRunFile(workflowId: string, name: string): Promise<Buffer | null>;
  /** Names of a run's files that start with `prefix`, sorted. */
  listRunFiles(workflowId: string, prefix: string): Promise<string[]>;
  /** Throws StoreUnavailableError, naming the setting to fix, when the store cannot be used from here. */
  check(): Promise<void>;
}

/**
 * Where a store keeps lineage records. The S3 store keeps them as objects beside the artifacts; a
 * metadata database takes them over by implementing this and handing it to the store.
 */
export interface LineageLog {
  add(rec: ArtifactRecord): Promise<void>;
  /** A run's records, oldest first. */
  list(workflowId: string): Promise<ArtifactRecord[]>;
  /** Drop a run's records of `digest`; resolves whether any run still refers to it. */
  forget(workflowId: string, digest: string): Promise<boolean>;
}

export class ArtifactIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactIntegrityError';
  }
}

/** The store's file system is full (ENOSPC, or a quota): says where, and how much space is left. */
export class StoreFullError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'StoreFullError';
  }
}

export class ArtifactNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactNotFoundError';
  }
}

/** The store cannot be reached or used as configured (missing bucket, credentials, endpoint, path). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Passes `chunks` through while hashing them; throws ArtifactIntegrityError after the last one
 * if they do not hash to `ref`'s digest. `fix` tells how to repair it (which object to delete).
 */
export async function* verifiedChunks(chunks: AsyncIterable<Uint8Array>, ref: ArtifactRef, fix: string): AsyncGenerator<Uint8Array> {
  const hex = digestHex(ref.digest);
  const hash = createHash('sha256');
  for await (const c of chunks) {
    hash.update(c);
    yield c;
  }
  const actual = hash.digest('hex');
  if (actual !== hex) throw corrupt(ref, actual, fix);
}

export function corrupt(ref: ArtifactRef, actualHex: string, fix: string): ArtifactIntegrityError {
  return new ArtifactIntegrityError(`artifact ${ref.digest} (${ref.kind}) is corrupt: its content hashes to sha256:${actualHex}. ${fix}`);
}

const RUN_FILE = /^(?!\.)[A-Za-z0-9._%-]+(\/(?!\.)[A-Za-z0-9._%-]+)*$/;

/** A run file's name, refused unless it is plain segments (it becomes a path or an object key). */
export function runFileName(name: string): string {
  if (!RUN_FILE.test(name))
    throw new Error(`bad run file name ${JSON.stringify(name)}: use segments of letters, digits, . _ % - joined by /`);
  return name;
}

/** `sha256:<hex>` → `<hex>`, refusing anything else (digests become file names). */
export function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new ArtifactIntegrityError(`bad artifact digest ${JSON.stringify(digest)}: expected sha256:<64 hex>`);
  return m[1]!;
}

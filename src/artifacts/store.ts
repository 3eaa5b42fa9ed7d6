// The artifact store contract. Stages only ever see this interface, so an S3-compatible backend
// can replace the local one without touching them. Artifacts are immutable, content-addressed
// blobs; a lineage record (who made it, from what) is kept per put.
import type { ArtifactKind, ArtifactRef } from '../compiler/plan.ts';

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
  /** Store bytes; returns once the artifact is complete and visible. */
  put(data: Uint8Array, opts: PutOptions): Promise<ArtifactRef>;
  /**
   * Store a stream. If the stream fails, nothing becomes visible. `maxBytes` aborts (and leaves
   * nothing) once exceeded.
   */
  putStream(chunks: AsyncIterable<Uint8Array>, opts: PutOptions & { maxBytes?: number }): Promise<ArtifactRef>;
  /** The bytes, checksum-verified; throws ArtifactIntegrityError on a mismatch. */
  get(ref: ArtifactRef): Promise<Buffer>;
  /** Whether it exists (and its size), without reading it. */
  stat(ref: ArtifactRef): Promise<{ sizeBytes: number } | null>;
  /** Lineage records of a run's artifacts, oldest first. */
  list(workflowId: string): Promise<ArtifactRecord[]>;
  /** Forget a run's records of an artifact (e.g. an old checkpoint); the bytes go once no record refers to them. */
  remove?(ref: ArtifactRef, workflowId: string): Promise<void>;
}

export class ArtifactIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactIntegrityError';
  }
}

/** The store's file system is full (ENOSPC, or a quota): says where, and how much space is left. */
export class StoreFullError extends Error {
  constructor(message: string, readonly path: string) {
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

/** `sha256:<hex>` → `<hex>`, refusing anything else (digests become file names). */
export function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new ArtifactIntegrityError(`bad artifact digest ${JSON.stringify(digest)}: expected sha256:<64 hex>`);
  return m[1]!;
}

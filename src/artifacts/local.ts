// Local artifact store: `<root>/sha256/<2 hex>/<64 hex>` blobs (content-addressed, immutable),
// `<root>/runs/<workflow>/<n>.json` lineage records, `<root>/runs/<workflow>/files/<name>` run
// files. A blob is written to `<root>/tmp/` and renamed into place only once complete and
// fsynced, so a reader never sees half an artifact.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import writeFileAtomic from 'write-file-atomic';
import type { ArtifactRef } from '../core/plan.ts';
import {
  ArtifactNotFoundError,
  corrupt,
  digestHex,
  runFileName,
  StoreUnavailableError,
  verifiedChunks,
  type ArtifactRecord,
  type ArtifactStore,
  type PutOptions,
  StoreFullError,
} from './store.ts';
import { runDirName, runDirNames } from './run-dir.ts';

export class ArtifactTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactTooLargeError';
  }
}

const MiB = 1024 * 1024;
const bytes = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`);

/**
 * A full file system (ENOSPC, or a quota) as a StoreFullError naming the path being written and
 * the space left, so the operator knows where to make room; other errors pass through.
 */
async function spaceError(e: unknown, root: string, path: string): Promise<unknown> {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return e;
  let space = 'its free space could not be read';
  try {
    const fs = await statfs(root);
    space = `${bytes(fs.bavail * fs.bsize)} free of ${bytes(fs.blocks * fs.bsize)}`;
  } catch {
    // the report is still worth giving without the numbers
  }
  return new StoreFullError(
    `the artifact store is out of space (${code}) writing ${path}: ${space} on the file system of ${root}. ` +
      'Free space there or point MLPIPE_ARTIFACTS (or MLPIPE_HOME) at a larger disk; the stage is retried after a longer pause',
    path,
  );
}

export { runDirName };

export class LocalArtifactStore implements ArtifactStore {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private blobPath(hex: string): string {
    return join(this.root, 'sha256', hex.slice(0, 2), hex);
  }

  async put(data: Uint8Array, opts: PutOptions): Promise<ArtifactRef> {
    return this.putStream(
      (async function* () {
        yield data;
      })(),
      opts,
    );
  }

  async putStream(chunks: AsyncIterable<Uint8Array>, opts: PutOptions & { maxBytes?: number }): Promise<ArtifactRef> {
    const tmpDir = join(this.root, 'tmp');
    const tmp = join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const fh = await mkdir(tmpDir, { recursive: true })
      .then(() => open(tmp, 'wx', 0o644))
      .catch(async (e: unknown) => Promise.reject(await spaceError(e, this.root, tmp)));
    const hash = createHash('sha256');
    let size = 0;
    let hex: string;
    try {
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        if (opts.maxBytes !== undefined && size > opts.maxBytes) {
          throw new ArtifactTooLargeError(`artifact exceeds the size limit of ${opts.maxBytes} bytes`);
        }
        hash.update(chunk);
        await fh.write(chunk);
      }
      await fh.sync();
      await fh.close();
      hex = hash.digest('hex');
      const final = this.blobPath(hex);
      await mkdir(join(this.root, 'sha256', hex.slice(0, 2)), { recursive: true });
      await rename(tmp, final); // atomic; same content replacing same content is harmless
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw await spaceError(e, this.root, tmp);
    }
    const ref: ArtifactRef = {
      kind: opts.kind,
      uri: pathToFileURL(this.blobPath(hex)).href,
      digest: `sha256:${hex}`,
      sizeBytes: size,
    };
    await this.record({ ref, lineage: opts.lineage, createdAt: new Date().toISOString() });
    return ref;
  }

  private async record(rec: ArtifactRecord): Promise<void> {
    const dir = join(this.root, 'runs', runDirName(rec.lineage.workflowId));
    await mkdir(dir, { recursive: true });
    const name = `${Date.now().toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}.json`;
    const tmp = join(dir, `.${name}.tmp`);
    try {
      await writeFile(tmp, JSON.stringify(rec, null, 2));
      await rename(tmp, join(dir, name));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw await spaceError(e, this.root, tmp);
    }
  }

  /** A local store belongs to the worker's host and home: say so, and how workers share one. */
  private missing(ref: ArtifactRef): ArtifactNotFoundError {
    return new ArtifactNotFoundError(
      `artifact ${ref.digest} (${ref.kind}) is not in the store at ${this.root}. A local store is per worker ` +
        '($MLPIPE_HOME/artifacts unless --store / MLPIPE_STORE says otherwise): a worker started with another MLPIPE_HOME, ' +
        'or on another machine, does not see what other workers wrote; start every worker with the same MLPIPE_HOME, ' +
        'or point --store / MLPIPE_STORE at one store they share (a shared directory or s3://…)',
    );
  }

  async get(ref: ArtifactRef): Promise<Buffer> {
    const hex = digestHex(ref.digest);
    let buf: Buffer;
    try {
      buf = await readFile(this.blobPath(hex));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw this.missing(ref);
      }
      throw e;
    }
    const actual = createHash('sha256').update(buf).digest('hex');
    if (actual !== hex) throw corrupt(ref, actual, `Delete ${this.blobPath(hex)} and re-run the stage that produced it.`);
    return buf;
  }

  async *getStream(ref: ArtifactRef): AsyncGenerator<Uint8Array> {
    const file = this.blobPath(digestHex(ref.digest));
    const opened = await open(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw this.missing(ref);
      throw e;
    });
    yield* verifiedChunks(opened.createReadStream(), ref, `Delete ${file} and re-run the stage that produced it.`);
  }

  async stat(ref: ArtifactRef): Promise<{ sizeBytes: number } | null> {
    try {
      const s = await stat(this.blobPath(digestHex(ref.digest)));
      return { sizeBytes: s.size };
    } catch {
      return null;
    }
  }

  async list(workflowId: string): Promise<ArtifactRecord[]> {
    const found = await this.records(workflowId);
    return found.sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => f.rec);
  }

  /** The run's record files: its own directory, and the one an earlier version named (checked by workflow id). */
  private async records(workflowId: string): Promise<{ path: string; name: string; rec: ArtifactRecord }[]> {
    const out: { path: string; name: string; rec: ArtifactRecord }[] = [];
    for (const d of runDirNames(workflowId)) {
      const dir = join(this.root, 'runs', d);
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        if (!n.endsWith('.json') || n.startsWith('.')) continue;
        // Another stage of the run (a parallel trial dropping an old checkpoint) may remove a
        // record between the listing and the read: it is gone, not an error.
        const text = await readFile(join(dir, n), 'utf8').catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return undefined;
          throw e;
        });
        if (text === undefined) continue;
        const rec = JSON.parse(text) as ArtifactRecord;
        if (rec.lineage.workflowId === workflowId) out.push({ path: join(dir, n), name: n, rec });
      }
    }
    return out;
  }

  /**
   * Forget `workflowId`'s records of `ref`; the blob itself is deleted once no run's record
   * refers to it any more (blobs are shared by content).
   */
  async remove(ref: ArtifactRef, workflowId: string): Promise<void> {
    const hex = digestHex(ref.digest);
    for (const f of await this.records(workflowId)) if (f.rec.ref.digest === ref.digest) await rm(f.path, { force: true });
    const runs = join(this.root, 'runs');
    for (const r of await readdir(runs).catch(() => [] as string[])) {
      for (const n of await readdir(join(runs, r)).catch(() => [] as string[])) {
        if (!n.endsWith('.json') || n.startsWith('.')) continue;
        const text = await readFile(join(runs, r, n), 'utf8').catch(() => '');
        if (text.includes(hex)) return; // still referenced
      }
    }
    await unlink(this.blobPath(hex)).catch(() => undefined);
  }

  private runFile(workflowId: string, name: string, dir = runDirName(workflowId)): string {
    return join(this.root, 'runs', dir, 'files', runFileName(name));
  }

  async putRunFile(workflowId: string, name: string, data: Uint8Array): Promise<void> {
    const file = this.runFile(workflowId, name);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomic(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength)); // temp file, fsync, rename
  }

  /** The run's file, else one an earlier version wrote under its old directory name. */
  async getRunFile(workflowId: string, name: string): Promise<Buffer | null> {
    for (const dir of runDirNames(workflowId)) {
      const found = await readFile(this.runFile(workflowId, name, dir)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      if (found) return found;
    }
    return null;
  }

  async listRunFiles(workflowId: string, prefix: string): Promise<string[]> {
    const names = new Set<string>();
    for (const d of runDirNames(workflowId)) {
      const dir = join(this.root, 'runs', d, 'files');
      for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
        const n = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
        if (e.isFile() && !e.name.startsWith('.') && n.startsWith(prefix)) names.add(n);
      }
    }
    return [...names].sort();
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (e) {
      throw new StoreUnavailableError(
        `cannot use the artifact store at ${this.root} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ` +
          'point --store / MLPIPE_STORE (or MLPIPE_HOME) at a writable directory',
        { cause: e },
      );
    }
  }
}

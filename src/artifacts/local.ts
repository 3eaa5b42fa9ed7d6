// Local artifact store: `<root>/sha256/<2 hex>/<64 hex>` blobs (content-addressed, immutable),
// `<root>/runs/<workflow>/<n>.json` lineage records, `<root>/runs/<workflow>/files/<name>` run
// files. A blob is written to `<root>/tmp/` and renamed into place only once complete and
// fsynced, so a reader never sees half an artifact.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import writeFileAtomic from 'write-file-atomic';
import type { ArtifactRef } from '../compiler/plan.ts';
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

/** A workflow id as one safe path segment (ids may contain `/`). */
export function runDirName(workflowId: string): string {
  return workflowId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
}

export class LocalArtifactStore implements ArtifactStore {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private blobPath(hex: string): string {
    return join(this.root, 'sha256', hex.slice(0, 2), hex);
  }

  async put(data: Uint8Array, opts: PutOptions): Promise<ArtifactRef> {
    return this.putStream((async function* () { yield data; })(), opts);
  }

  async putStream(
    chunks: AsyncIterable<Uint8Array>,
    opts: PutOptions & { maxBytes?: number },
  ): Promise<ArtifactRef> {
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

  async get(ref: ArtifactRef): Promise<Buffer> {
    const hex = digestHex(ref.digest);
    let buf: Buffer;
    try {
      buf = await readFile(this.blobPath(hex));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ArtifactNotFoundError(`artifact ${ref.digest} (${ref.kind}) is not in the store at ${this.root}`);
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
      if (e.code === 'ENOENT') throw new ArtifactNotFoundError(`artifact ${ref.digest} (${ref.kind}) is not in the store at ${this.root}`);
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
    const dir = join(this.root, 'runs', runDirName(workflowId));
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    } catch {
      return [];
    }
    const out: ArtifactRecord[] = [];
    for (const n of names) out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as ArtifactRecord);
    return out;
  }

  /**
   * Forget `workflowId`'s records of `ref`; the blob itself is deleted once no run's record
   * refers to it any more (blobs are shared by content).
   */
  async remove(ref: ArtifactRef, workflowId: string): Promise<void> {
    const hex = digestHex(ref.digest);
    const dir = join(this.root, 'runs', runDirName(workflowId));
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      if (!n.endsWith('.json') || n.startsWith('.')) continue;
      const rec = JSON.parse(await readFile(join(dir, n), 'utf8')) as ArtifactRecord;
      if (rec.ref.digest === ref.digest) await rm(join(dir, n), { force: true });
    }
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

  private runFile(workflowId: string, name: string): string {
    return join(this.root, 'runs', runDirName(workflowId), 'files', runFileName(name));
  }

  async putRunFile(workflowId: string, name: string, data: Uint8Array): Promise<void> {
    const file = this.runFile(workflowId, name);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomic(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength)); // temp file, fsync, rename
  }

  async getRunFile(workflowId: string, name: string): Promise<Buffer | null> {
    return readFile(this.runFile(workflowId, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
  }

  async listRunFiles(workflowId: string, prefix: string): Promise<string[]> {
    const dir = join(this.root, 'runs', runDirName(workflowId), 'files');
    const all = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return all
      .filter((d) => d.isFile() && !d.name.startsWith('.'))
      .map((d) => relative(dir, join(d.parentPath, d.name)).split(sep).join('/'))
      .filter((n) => n.startsWith(prefix))
      .sort();
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

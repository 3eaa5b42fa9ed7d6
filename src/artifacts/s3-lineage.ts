// Lineage records as S3 objects, until a metadata database takes them over (a LineageLog of its
// own, handed to S3ArtifactStore). Per record `<prefix>runs/<run>/lineage/<ms>-<rand>-<hex>.json`
// (the key names the digest, so forgetting one needs a listing, not a read of every record), and
// per artifact and run a marker `<prefix>refs/<hex>/<run>` that says the run still uses it.
import { randomBytes } from 'node:crypto';
import { runDirName, runDirNames } from './run-dir.ts';
import { deleteKey, getSmall, listKeys, mapLimit, putSmall, type S3Ctx } from './s3-ops.ts';
import { digestHex, type ArtifactRecord, type LineageLog } from './store.ts';

export class S3LineageLog implements LineageLog {
  constructor(
    private readonly ctx: S3Ctx,
    private readonly prefix: string,
  ) {}

  private runPrefix(dir: string): string {
    return `${this.prefix}runs/${dir}/lineage/`;
  }

  private marker(hex: string, workflowId: string): string {
    return `${this.prefix}refs/${hex}/${runDirName(workflowId)}`;
  }

  async add(rec: ArtifactRecord): Promise<void> {
    const hex = digestHex(rec.ref.digest);
    const name = `${Date.now().toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}-${hex}.json`;
    await putSmall(this.ctx, this.marker(hex, rec.lineage.workflowId), new Uint8Array());
    await putSmall(this.ctx, this.runPrefix(runDirName(rec.lineage.workflowId)) + name, Buffer.from(JSON.stringify(rec, null, 2)));
  }

  /** Also what an earlier version recorded under the run's old directory name, checked by workflow id. */
  async list(workflowId: string): Promise<ArtifactRecord[]> {
    const keys: string[] = [];
    for (const dir of runDirNames(workflowId))
      keys.push(...(await listKeys(this.ctx, this.runPrefix(dir))).filter((k) => k.endsWith('.json')));
    keys.sort((a, b) => (a.slice(a.lastIndexOf('/')) < b.slice(b.lastIndexOf('/')) ? -1 : 1));
    const bodies = await mapLimit(keys, 8, (k) => getSmall(this.ctx, k));
    return bodies
      .filter((b): b is Buffer => b !== null)
      .map((b) => JSON.parse(b.toString('utf8')) as ArtifactRecord)
      .filter((r) => r.lineage.workflowId === workflowId);
  }

  async forget(workflowId: string, digest: string): Promise<boolean> {
    const hex = digestHex(digest);
    for (const k of await listKeys(this.ctx, this.runPrefix(runDirName(workflowId)))) {
      if (k.endsWith(`-${hex}.json`)) await deleteKey(this.ctx, k);
    }
    await deleteKey(this.ctx, this.marker(hex, workflowId));
    return (await listKeys(this.ctx, `${this.prefix}refs/${hex}/`)).length > 0;
  }
}

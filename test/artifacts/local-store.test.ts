import { mkdirSync, readdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ArtifactIntegrityError, LocalArtifactStore, PathEscapeError, resolveInside, type Lineage } from '../../src/artifacts/index.ts';
import { tempDir } from '../support/data.ts';

const lineage: Lineage = {
  workflowId: 'wf/1',
  runId: 'r',
  pipeline: 'p',
  stage: 's',
  attempt: 2,
  planHash: 'h',
  gitSha: 'g',
  inputs: { dataset: 'sha256:' + '0'.repeat(64) },
};

describe('LocalArtifactStore', () => {
  it('is content-addressed, verifies on read and records lineage', async () => {
    const store = new LocalArtifactStore(join(tempDir(), 'a'));
    const ref = await store.put(Buffer.from('hello'), { kind: 'metrics', lineage });
    expect(ref.digest).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(ref.sizeBytes).toBe(5);
    expect((await store.get(ref)).toString()).toBe('hello');
    expect(await store.stat(ref)).toEqual({ sizeBytes: 5 });
    const again = await store.put(Buffer.from('hello'), { kind: 'metrics', lineage });
    expect(again.uri).toBe(ref.uri);
    const recs = await store.list('wf/1');
    expect(recs).toHaveLength(2);
    expect(recs[0]!.lineage).toMatchObject({ stage: 's', attempt: 2, planHash: 'h', gitSha: 'g' });
    expect(recs[0]!.lineage.inputs.dataset).toMatch(/^sha256:/);
  });

  it('leaves nothing visible when a write fails midway, and enforces a size limit', async () => {
    const root = join(tempDir(), 'a');
    const store = new LocalArtifactStore(root);
    async function* failing() {
      yield Buffer.alloc(1024, 1);
      throw new Error('connection reset');
    }
    await expect(store.putStream(failing(), { kind: 'dataset', lineage })).rejects.toThrow('connection reset');
    async function* big() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, i);
    }
    await expect(store.putStream(big(), { kind: 'dataset', lineage, maxBytes: 5000 })).rejects.toThrow(/size limit/);
    expect(existsSync(join(root, 'sha256')) ? readdirSync(join(root, 'sha256')) : []).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(await store.list('wf/1')).toEqual([]);
  });

  it('refuses a corrupted artifact on read', async () => {
    const store = new LocalArtifactStore(join(tempDir(), 'a'));
    const ref = await store.put(Buffer.from('model weights'), { kind: 'model', lineage });
    writeFileSync(fileURLToPath(ref.uri), 'model weightz');
    await expect(store.get(ref)).rejects.toThrow(ArtifactIntegrityError);
    await expect(store.get(ref)).rejects.toThrow(/corrupt.*re-run/);
    await expect(store.get({ ...ref, digest: 'sha256:../../etc' })).rejects.toThrow(/bad artifact digest/);
  });
});

describe('LocalArtifactStore.remove', () => {
  it("drops the run's records and the blob only once nothing refers to it", async () => {
    const store = new LocalArtifactStore(join(tempDir(), 'a'));
    const ref = await store.put(Buffer.from('checkpoint'), { kind: 'model', lineage });
    await store.put(Buffer.from('checkpoint'), { kind: 'model', lineage: { ...lineage, workflowId: 'other' } });
    await store.remove(ref, 'wf/1');
    expect(await store.list('wf/1')).toEqual([]);
    expect(await store.stat(ref)).not.toBeNull(); // run "other" still has it
    await store.remove(ref, 'other');
    expect(await store.stat(ref)).toBeNull();
  });
});

describe('resolveInside', () => {
  it('allows paths inside and refuses .., absolute paths and symlinks out', () => {
    const root = tempDir();
    mkdirSync(join(root, 'data'));
    writeFileSync(join(root, 'data', 'x.csv'), 'a\n1\n');
    expect(resolveInside(root, 'data/x.csv')).toMatch(/data\/x\.csv$/);
    expect(() => resolveInside(root, '../x.csv')).toThrow(PathEscapeError);
    expect(() => resolveInside(root, 'data/../../x')).toThrow(/leaves its root/);
    expect(() => resolveInside(root, '/etc/passwd')).toThrow(PathEscapeError);
    const outside = tempDir();
    writeFileSync(join(outside, 'secret.csv'), 's\n1\n');
    symlinkSync(join(outside, 'secret.csv'), join(root, 'data', 'link.csv'));
    expect(() => resolveInside(root, 'data/link.csv')).toThrow(/symlink/);
  });
});

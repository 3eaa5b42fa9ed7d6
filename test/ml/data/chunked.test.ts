import { describe, expect, it } from 'vitest';
import { concatDatasets, decodeManifest, encodeManifest, gatherChunks, inMemoryChunks, sliceRows } from '../../../src/ml/data/chunked.ts';
import { encodeDataset, type Dataset } from '../../../src/ml/data/dataset.ts';

function sample(n: number): Dataset {
  return {
    rows: n,
    label: 'y',
    columns: [
      { name: 'x', type: 'number', shape: [2], data: Float32Array.from({ length: 2 * n }, (_, i) => i) },
      { name: 'c', type: 'category', values: Array.from({ length: n }, (_, i) => (i % 3 ? 'a' : null)), categories: ['a'] },
      { name: 'y', type: 'integer', shape: [], data: Float32Array.from({ length: n }, (_, i) => i % 2) },
    ],
    splits: { train: Uint32Array.from([6, 0, 3, 9, 1]), test: Uint32Array.from([8, 2, 5]) },
    origin: { file: 'd.csv', unit: 'line', at: Uint32Array.from({ length: n }, (_, i) => i + 2) },
  };
}

describe('chunked datasets', () => {
  it('slices rows with local split indices in the split order and source lines kept', () => {
    const s = sliceRows(sample(10), 3, 7);
    expect(s.rows).toBe(4);
    expect(Array.from(s.splits!.train!)).toEqual([3, 0]); // rows 6 and 3
    expect(Array.from(s.splits!.test!)).toEqual([2]); // row 5
    expect(Array.from(s.origin!.at)).toEqual([5, 6, 7, 8]);
    expect(Array.from((s.columns[0] as { data: Float32Array }).data)).toEqual([6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('chunks of an in-memory dataset gather back to its rows, splits listed chunk by chunk', async () => {
    const ds = sample(10);
    const c = inMemoryChunks(ds, 4);
    expect(c.chunkRows).toEqual([4, 4, 2]);
    expect(c.splitRows).toEqual({ train: 5, test: 3 });
    const back = await gatherChunks(c);
    expect(back.rows).toBe(10);
    expect(encodeDataset({ ...back, splits: undefined })).toEqual(encodeDataset({ ...ds, splits: undefined }));
    expect(Array.from(back.splits!.train!)).toEqual([0, 3, 1, 6, 9]);
    expect(concatDatasets([], {}).rows).toBe(0);
  });

  it('a v1 dataset bundle is not a manifest; a manifest round-trips', () => {
    expect(decodeManifest(encodeDataset(sample(3)))).toBeUndefined();
    const ref = { kind: 'dataset' as const, uri: 'file:///x', digest: 'sha256:00', sizeBytes: 1 };
    const m = decodeManifest(encodeManifest({ rows: 3, columns: [{ name: 'x', type: 'number', shape: [] }], chunks: [{ ref, rows: 3 }] }));
    expect(m?.chunks[0]?.ref).toEqual(ref);
    expect(m?.rows).toBe(3);
  });
});

describe('writeChunks and openDataset', () => {
  it('stores several chunks as a manifest that opens chunk by chunk and gathers whole; one chunk as a v1 dataset', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { LocalArtifactStore } = await import('../../../src/artifacts/local.ts');
    const { openDataset, readDataset, writeChunks, stageEnv } = await import('../../../activities/lib/stage.ts');
    const store = new LocalArtifactStore(mkdtempSync(join(tmpdir(), 'mlpipe-chunks-')));
    const env = stageEnv({ store, attempt: 1, heartbeat: () => {}, heartbeatDetails: undefined });
    const input = {
      run: { workflowId: 'wf', runId: 'r', pipeline: 'p', planHash: 'h' },
      stage: 'data',
      inputs: {},
    } as unknown as Parameters<typeof writeChunks>[3];
    const ds = sample(10);
    const c = inMemoryChunks(ds, 4);
    async function* all() {
      for (let i = 0; i < c.chunkRows.length; i++) yield await c.chunk(i);
    }
    const ref = await writeChunks(store, all(), () => ({ label: 'y', stats: { rows: 10, columns: {} } }), input, env);
    const opened = await openDataset(store, ref);
    expect(opened.chunkRows).toEqual([4, 4, 2]);
    expect(opened.splitRows).toEqual({ train: 5, test: 3 });
    expect(opened.columns.map((x) => x.name)).toEqual(['x', 'c', 'y']);
    expect((await opened.chunk(2)).rows).toBe(2);
    const whole = await readDataset(store, ref);
    expect(Array.from((whole.columns[0] as { data: Float32Array }).data)).toEqual(
      Array.from((ds.columns[0] as { data: Float32Array }).data),
    );

    async function* one() {
      yield ds;
    }
    const ref1 = await writeChunks(store, one(), () => ({ stats: { rows: 10, columns: {} } }), input, env);
    expect(decodeManifest(await store.get(ref1))).toBeUndefined();
    expect((await openDataset(store, ref1)).chunkRows).toEqual([10]);
  });
});

/**
 * A run's record removed while another stage of the run lists the records (parallel trials of a
 * search each dropping their old checkpoints) is skipped, not an ENOENT that fails the lister.
 * The removal between readdir and read is staged with a record name that points at nothing.
 */
import { readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/index.ts';
import { tempDir } from '../support/data.ts';

describe('local store: listing a run while its records are removed', () => {
  it('skips a record that vanished after the directory was read', async () => {
    const root = tempDir('mlpipe-list-vanished-');
    const store = new LocalArtifactStore(root);
    const lineage = { workflowId: 'wf/vanish', runId: 'r', pipeline: 'p', stage: 's', attempt: 1, planHash: 'h', inputs: {} };
    const ref = await store.put(Buffer.from('kept'), { kind: 'metrics', lineage });
    const [dir] = readdirSync(join(root, 'runs'));
    symlinkSync(join(root, 'no-such-record.json'), join(root, 'runs', dir!, '000-vanished.json'));
    expect((await store.list('wf/vanish')).map((r) => r.ref.digest)).toEqual([ref.digest]);
  });
});

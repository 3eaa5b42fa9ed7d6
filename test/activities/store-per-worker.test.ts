// A stage on a worker whose store lacks its input (restarted with another MLPIPE_HOME) is told
// that the store is per worker and which settings point workers at the same one.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preprocessCore } from '../../activities/preprocess.ts';
import { ArtifactNotFoundError, LocalArtifactStore } from '../../src/artifacts/index.ts';
import { stageInput, tempDir, testEnv } from '../support/data.ts';

describe("an artifact missing from this worker's store", () => {
  it('fails the stage saying the store is per worker, naming MLPIPE_HOME and --store / MLPIPE_STORE', async () => {
    const before = new LocalArtifactStore(join(tempDir(), 'artifacts')); // the first worker's home
    const ref = await before.put(Buffer.from('rows'), {
      kind: 'dataset',
      lineage: { workflowId: 'p/1', runId: 'r', pipeline: 'p', stage: 'data', attempt: 1, planHash: 'h', inputs: {} },
    });
    const after = testEnv(); // restarted with another MLPIPE_HOME
    const run = preprocessCore(stageInput('preprocess', { steps: [{ type: 'standardize' }] }, { dataset: ref }, 'p/1'), after);
    await expect(run).rejects.toThrow(ArtifactNotFoundError);
    await expect(run).rejects.toThrow(
      `is not in the store at ${after.store.root}. A local store is per worker ($MLPIPE_HOME/artifacts ` +
        'unless --store / MLPIPE_STORE says otherwise): ' +
        'a worker started with another MLPIPE_HOME',
    );
    await expect(run).rejects.toThrow(
      /start every worker with the same MLPIPE_HOME, or point --store \/ MLPIPE_STORE at one store they share/,
    );
    // streamed reads say the same
    await expect(after.store.getStream(ref)[Symbol.asyncIterator]().next()).rejects.toThrow(/A local store is per worker/);
  });
});

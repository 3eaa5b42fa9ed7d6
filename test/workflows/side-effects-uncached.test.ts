/**
 * A stage whose purpose is a side effect is never answered from the step cache. Re-running a
 * pipeline that deploys used to print `deploy succeeded (cached)` while the registry served
 * another version: the deploy stage's config and model digest were unchanged, so its outputs
 * came from the cache and nothing was deployed. On the real dev server, with stand-in
 * activities that count their calls (the user activity is a real one, in a child process).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactKind, ArtifactRef, StageActivityInput } from '../../src/core/plan.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const calls: Record<string, number> = {};
const ref = (kind: ArtifactKind, what: string): ArtifactRef => ({
  kind,
  uri: `mem://${what}`,
  digest: `sha256:${what.padEnd(64, '0')}`,
  sizeBytes: 1,
});
const counted = (outputs: Record<string, unknown>) => async (i: StageActivityInput) => {
  calls[i.kind] = (calls[i.kind] ?? 0) + 1;
  return { outputs: outputs as never };
};

let env: TestEnv;
let dir: string;
beforeAll(async () => {
  env = await testEnv('sidefx', {
    kinds: {
      collect: counted({ dataset: ref('dataset', 'd'), rows: 1 }),
      train: counted({ model: ref('model', 'm'), loss: 0.1 }),
      deploy: counted({ deployment: ref('deployment', 'v'), version: '1', endpoint: 'http://127.0.0.1:1/m' }),
      monitor: counted({ report: ref('metrics', 'r'), drifted: false, breached: false }),
    },
  });
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-sidefx-'));
});
afterAll(async () => {
  await env?.close();
});

function spec(log: string): string {
  return `apiVersion: mlpipe/v1
metadata: { name: sidefx }
stages:
  data: { type: collect, source: { type: synthetic, generator: blobs, samples: 60, seed: 1 } }
  fit:
    type: train
    needs: [data]
    model: { layers: [{ type: dense, units: 3, activation: softmax }] }
    optimizer: { type: adam }
    loss: sparseCategoricalCrossentropy
    epochs: 1
  ship: { type: deploy, needs: [fit], modelName: sidefx }
  watch: { type: monitor, needs: [ship] }
  notify: { type: activity, needs: [ship], activity: consume, input: { value: shipped, log: "${log}" } }
`;
}

describe('side effects and the step cache', () => {
  it('a rerun deploys, monitors and runs the user activity again; pure stages are cache hits', async () => {
    const log = join(dir, 'notify.log');
    writeFileSync(join(dir, 'p.yaml'), spec(log));
    const { plan } = await compileFile(join(dir, 'p.yaml'));
    expect(Object.fromEntries(plan.nodes.map((n) => [n.id, n.cache.enabled]))).toEqual({
      data: true,
      fit: true,
      ship: false,
      watch: false,
      notify: false,
    });

    const first = await (await env.start(plan)).result();
    expect(first.stages.ship!.status).toBe('succeeded');
    const again = await (await env.start(plan)).result();
    expect([again.stages.data!.cached, again.stages.fit!.cached]).toEqual([true, true]);
    for (const id of ['ship', 'watch', 'notify']) {
      expect(again.stages[id]!.status, id).toBe('succeeded');
      expect(again.stages[id]!.cached, id).toBeFalsy();
    }
    expect(calls).toEqual({ collect: 1, train: 1, deploy: 2, monitor: 2 });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['consume "shipped"', 'consume "shipped"']);
  });
});

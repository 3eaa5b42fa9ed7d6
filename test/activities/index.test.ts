import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { moduleBackedActivity } from '../../activities/index.ts';
import { loadUserActivities, toOutputs } from '../../activities/user.ts';
import type { StageActivityInput } from '../../src/core/plan.ts';
import { cacheKey } from '../../src/temporal/step-cache.ts';
import { progressFrom } from '../../src/temporal/runs.ts';
import { progressText } from '../../src/temporal/follow.ts';

const input = (stage: string, kind: StageActivityInput['kind']): StageActivityInput => ({
  run: { workflowId: 'p/1', runId: 'r', pipeline: 'p', planHash: 'h' },
  stage,
  kind,
  config: {},
  inputs: {},
  params: {},
});

describe('activity registry', () => {
  it('a kind without a module fails that stage, non-retryable, naming stage and kind', async () => {
    const empty = pathToFileURL(mkdtempSync(join(tmpdir(), 'mlpipe-acts-')) + '/');
    const err = await moduleBackedActivity('train', empty)(input('fit', 'train')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toBe(
      'stage "fit" (train): stage kind "train" has no activity module (activities/train.ts) in this worker',
    );
  });

  it('a kind module that fails to load is reported, not thrown at the worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-acts-'));
    writeFileSync(join(dir, 'deploy.ts'), 'export const x = ;\n');
    const err = await moduleBackedActivity('deploy', pathToFileURL(dir + '/'))(input('ship', 'deploy')).catch((e: unknown) => e);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(/^stage "ship" \(deploy\): activities\/deploy.ts failed to load/);
  });

  it('loads user activities from a module and normalises their results', async () => {
    const fns = await loadUserActivities('test/support/activities.ts');
    expect(Object.keys(fns)).toEqual(expect.arrayContaining(['noop', 'flaky', 'sleepFor']));
    await expect(loadUserActivities('test/support/nope.ts')).rejects.toThrow(/cannot load user activities from .*nope\.ts/);
    expect(toOutputs(undefined)).toEqual({});
    expect(toOutputs({ outputs: { a: 1 } })).toEqual({ a: 1 });
    expect(toOutputs({ a: 1, b: 'x' })).toEqual({ a: 1, b: 'x' });
    expect(toOutputs(3)).toEqual({ result: 3 });
  });

  it('cache keys depend on kind, config and input digests, not on key order', () => {
    const k = cacheKey({ kind: 'train', config: { a: 1, b: { c: 2, d: 3 } }, inputDigests: { dataset: 'sha256:1' } });
    expect(cacheKey({ kind: 'train', config: { b: { d: 3, c: 2 }, a: 1 }, inputDigests: { dataset: 'sha256:1' } })).toBe(k);
    expect(cacheKey({ kind: 'train', config: { a: 2, b: { c: 2, d: 3 } }, inputDigests: { dataset: 'sha256:1' } })).not.toBe(k);
    expect(cacheKey({ kind: 'train', config: { a: 1, b: { c: 2, d: 3 } }, inputDigests: { dataset: 'sha256:2' } })).not.toBe(k);
    expect(cacheKey({ kind: 'evaluate', config: { a: 1, b: { c: 2, d: 3 } }, inputDigests: { dataset: 'sha256:1' } })).not.toBe(k);
  });

  it('reads progress from mlpipe heartbeats and from flat epoch heartbeats', () => {
    expect(progressFrom({ progress: { step: 2, steps: 4 }, checkpoint: { step: 2 } })).toEqual({ step: 2, steps: 4 });
    expect(progressFrom({ stage: 't', epoch: 3, epochs: 10, metrics: { loss: 0.25 }, checkpoint: null })).toEqual({
      epoch: 3,
      epochs: 10,
      loss: 0.25,
    });
    // train's heartbeat now (the flat one above is what older workers sent)
    expect(progressFrom({ progress: { stage: 't', epoch: 3, epochs: 10, loss: 0.25 }, checkpoint: { epoch: 2 } })).toMatchObject({
      epoch: 3,
      epochs: 10,
      loss: 0.25,
    });
    expect(progressFrom('x')).toBeUndefined();
    expect(progressText({ epoch: 5, epochs: 10, loss: 0.5 }, 10)).toBe('[#####.....] 5/10 epochs loss 0.5000');
    // ETA from the pace so far: 5 of 10 epochs in 60 s leaves about 60 s.
    expect(progressText({ epoch: 5, epochs: 10 }, 10, '2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:01:00Z'))).toBe(
      '[#####.....] 5/10 epochs ETA 1m00s',
    );
    expect(progressText({ epoch: 0, epochs: 10 }, 10, '2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:01:00Z'))).toBe(
      '[..........] 0/10 epochs',
    );
  });
});

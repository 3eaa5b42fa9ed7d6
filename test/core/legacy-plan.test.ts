/**
 * Plans compiled before `location` / `tunedConfig` carried them in the config (`__baseDir`,
 * `__repoDir`, `__tunedConfig`). They live on in histories, runs in flight and schedules: each
 * reader must treat them like their recompiled twins.
 */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { buildActivities } from '../../activities/index.ts';
import { portablePlan } from '../../src/compiler/portable.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { legacyConfig, liftLegacyFields } from '../../src/core/legacy-plan.ts';
import type { Plan, StageActivityInput } from '../../src/core/plan.ts';
import { planDiff } from '../../src/schedules/apply.ts';
import { stableHash } from '../../src/schedules/options.ts';
import { cacheKey } from '../../src/temporal/step-cache.ts';

/** The plan as an older compiler wrote it. */
function asLegacy(plan: Plan): Plan {
  return {
    ...plan,
    nodes: plan.nodes.map(({ location: _l, tunedConfig: _t, ...n }) => ({
      ...n,
      config: legacyConfig({ config: n.config, location: _l, tunedConfig: _t }),
    })),
  };
}

const run = { workflowId: 'p/1', runId: 'r', pipeline: 'p', planHash: 'h' };

describe('plans with the compiler facts in their config', () => {
  it('lift into the typed fields, and lower back to the same config', () => {
    const old = { config: { source: { type: 'csv' }, __baseDir: '/a/p', __repoDir: 'p', __tunedConfig: { epochs: 3 } } };
    const lifted = liftLegacyFields(old);
    expect(lifted).toEqual({
      config: { source: { type: 'csv' } },
      location: { baseDir: '/a/p', repoDir: 'p' },
      tunedConfig: { epochs: 3 },
    });
    expect(legacyConfig(lifted)).toEqual(old.config);
    const today = { config: { a: 1 }, location: { baseDir: '/b' } };
    expect(liftLegacyFields(today)).toBe(today);
  });

  it('give the step cache the same key as their recompiled twins', () => {
    const key = cacheKey({ kind: 'collect', config: { a: 1 }, location: { baseDir: '/a', repoDir: '' }, inputDigests: {} });
    expect(cacheKey({ kind: 'collect', config: { a: 1, __baseDir: '/a', __repoDir: '' }, inputDigests: {} })).toBe(key);
    expect(cacheKey({ kind: 'collect', config: { a: 1 }, location: { baseDir: '/elsewhere', repoDir: '' }, inputDigests: {} })).not.toBe(
      key,
    );
    const tuned = cacheKey({ kind: 'optimize' as const, config: { tunes: 't' }, tunedConfig: { epochs: 3 }, inputDigests: {} });
    expect(cacheKey({ kind: 'optimize' as const, config: { tunes: 't', __tunedConfig: { epochs: 3 } }, inputDigests: {} })).toBe(tuned);
    expect(cacheKey({ kind: 'optimize' as const, config: { tunes: 't' }, tunedConfig: { epochs: 4 }, inputDigests: {} })).not.toBe(tuned);
  });

  it('held by a schedule compare equal to the same pipeline compiled today', async () => {
    const { plan } = await compileFile('pipelines/lifecycle.yaml');
    expect(plan.nodes.some((n) => n.location)).toBe(true);
    const old = asLegacy(plan);
    expect(old.nodes.some((n) => '__baseDir' in n.config)).toBe(true);
    expect(portablePlan(old)).toEqual(portablePlan(plan));
    expect(stableHash(old, 'mlpipe')).toBe(stableHash(plan, 'mlpipe'));
    expect(planDiff(old, plan)).toEqual([]);
  });

  it('reach a stage activity with the typed fields, secrets resolved in the tuned config too', async () => {
    const seen: StageActivityInput[] = [];
    const record = async (i: StageActivityInput) => {
      seen.push(i);
      return { outputs: {} };
    };
    const acts = (await buildActivities({ home: tmpdir(), kinds: { collect: record, optimize: record } })) as unknown as Record<
      string,
      (i: StageActivityInput) => Promise<unknown>
    >;
    const env = new MockActivityEnvironment();
    process.env.MLPIPE_SECRET_LEGACY_TOKEN = 'tok';
    try {
      const base = { run, inputs: {}, params: {} };
      await env.run(acts['stage.collect']!, {
        ...base,
        stage: 'data',
        kind: 'collect' as const,
        config: { source: { type: 'csv' }, __baseDir: '/a/p', __repoDir: 'p' },
      });
      await env.run(acts['stage.optimize']!, {
        ...base,
        stage: 'tune',
        kind: 'optimize' as const,
        config: { tunes: 't', __tunedConfig: { key: '${secrets.LEGACY_TOKEN}' } },
      });
      await env.run(acts['stage.optimize']!, {
        ...base,
        stage: 'tune',
        kind: 'optimize' as const,
        config: { tunes: 't' },
        tunedConfig: { key: '${secrets.LEGACY_TOKEN}' },
      });
    } finally {
      delete process.env.MLPIPE_SECRET_LEGACY_TOKEN;
    }
    expect(seen[0]).toMatchObject({ config: { source: { type: 'csv' } }, location: { baseDir: '/a/p', repoDir: 'p' } });
    expect(seen[0]!.config).not.toHaveProperty('__baseDir');
    expect(seen[1]).toMatchObject({ config: { tunes: 't' }, tunedConfig: { key: 'tok' } });
    expect(seen[2]).toEqual(seen[1]);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../src/compiler/plan.ts';
import { nextVersion, Registry, settleCandidate, type RegistryEntry } from '../../src/serving/registry.ts';
import { tempDir } from '../data/helpers.ts';

const ref = (n: number): ArtifactRef => ({ kind: 'model', uri: `file:///m/${n}`, digest: `sha256:${String(n).padStart(64, '0')}`, sizeBytes: n });
const source = { workflowId: 'p/r', runId: 'r', pipeline: 'p', stage: 'deploy' };

function addVersion(e: RegistryEntry, i: number): RegistryEntry {
  const version = nextVersion(e, 'increment');
  e.versions.push({ version, model: ref(i), createdAt: new Date().toISOString(), source });
  e.traffic = { primary: version };
  return e;
}

describe('model registry', () => {
  it('concurrent writers lose no update and readers never see a partial entry', async () => {
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'));
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const e = await reg.get('churn'); // throws on a half-written file
        if (e) {
          expect(e.versions.length).toBe(e.revision);
          reads++;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(Array.from({ length: 40 }, (_, i) => reg.update('churn', async (e) => {
      await new Promise((r) => setTimeout(r, Math.random() * 3)); // widen the race window
      return addVersion(e, i);
    })));
    stop = true;
    await reader;
    const e = (await reg.get('churn'))!;
    expect(e.revision).toBe(40);
    expect(new Set(e.versions.map((v) => v.version)).size).toBe(40);
    expect(e.versions.map((v) => v.version).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))[39]).toBe('v40');
    expect(reads).toBeGreaterThan(0);
    expect(await reg.names()).toEqual(['churn']);
  });

  it('a failing update leaves the entry as it was and releases the lock', async () => {
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'));
    await reg.update('m', (e) => addVersion(e, 1));
    const before = readFileSync(join(reg.dir, 'm.json'), 'utf8');
    await expect(reg.update('m', () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(readFileSync(join(reg.dir, 'm.json'), 'utf8')).toBe(before);
    await reg.update('m', (e) => addVersion(e, 2)); // not dead-locked
    expect((await reg.get('m'))!.versions.map((v) => v.version)).toEqual(['v1', 'v2']);
  });

  it('a stale lock left by a dead writer is broken', async () => {
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'));
    await reg.update('m', (e) => addVersion(e, 1));
    const lock = join(reg.dir, 'm.json.lock');
    writeFileSync(lock, '');
    const { utimesSync } = await import('node:fs');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await reg.update('m', (e) => addVersion(e, 2));
    expect((await reg.get('m'))!.revision).toBe(2);
  });

  it('version policies: increment, gitSha (suffix on a repeat), timestamp', () => {
    const e = (versions: string[]): RegistryEntry => ({
      format: 'mlpipe-registry/v1', name: 'm', revision: 1, events: [], traffic: { primary: null },
      versions: versions.map((version, i) => ({ version, model: ref(i), createdAt: '', source })),
    });
    expect(nextVersion(undefined, 'increment')).toBe('v1');
    expect(nextVersion(e(['v1', 'v9', 'abc', 'v3']), 'increment')).toBe('v10');
    expect(nextVersion(undefined, 'gitSha', { gitSha: '0123456789abcdef0123' })).toBe('0123456789ab');
    expect(nextVersion(e(['0123456789ab']), 'gitSha', { gitSha: '0123456789abcdef' })).toBe('0123456789ab-2');
    expect(nextVersion(e(['0123456789ab', '0123456789ab-2']), 'gitSha', { gitSha: '0123456789abcdef' })).toBe('0123456789ab-3');
    expect(() => nextVersion(undefined, 'gitSha', {})).toThrow(/git commit/);
    const now = new Date('2026-03-04T05:06:07.089Z');
    expect(nextVersion(undefined, 'timestamp', { now })).toBe('20260304T050607089Z');
    expect(nextVersion(e(['20260304T050607089Z']), 'timestamp', { now })).toBe('20260304T050607089Z-2');
  });

  it('settling a candidate promotes it or keeps the primary, with an event', () => {
    const base = (): RegistryEntry => ({
      format: 'mlpipe-registry/v1', name: 'm', revision: 1, events: [], versions: [],
      traffic: { primary: 'v1', candidate: { version: 'v2', mode: 'canary', weight: 10, startedAt: '' } },
    });
    expect(settleCandidate(base(), 'promote', 'ok').traffic).toEqual({ primary: 'v2' });
    const r = settleCandidate(base(), 'rollback', 'error rate');
    expect(r.traffic).toEqual({ primary: 'v1' });
    expect(r.events.at(-1)).toMatchObject({ event: 'rolledBack', version: 'v2', reason: 'error rate' });
  });

  it('rejects a model name that could escape the registry dir', async () => {
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'));
    await expect(reg.get('../etc')).rejects.toThrow(/bad model name/);
  });
});

/**
 * Replay safety against the past: every history in test/fixtures/histories/ (real runs recorded
 * by released code, scripts/record-histories.ts) is replayed against the current workflow code.
 * A change to what the workflow does, not guarded by `patched()`, fails here naming the history.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/temporal/bundle.ts';
import { quietRuntime } from '../support/temporal.ts';

const DIR = join(import.meta.dirname, '../fixtures/histories');
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
  histories: { file: string; workflowId: string; exercises: string; gitSha: string }[];
};

describe('replay corpus', () => {
  it('lists every history file in the manifest, and only those', () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
      .sort();
    expect(manifest.histories.map((h) => h.file).sort()).toEqual(files);
  });

  it('holds a run of every example pipeline in pipelines/', () => {
    const examples = readdirSync(join(import.meta.dirname, '../../pipelines')).filter((f) => f.endsWith('.yaml'));
    const missing = examples.filter((f) => !manifest.histories.some((h) => h.exercises.startsWith(`pipelines/${f} `)));
    expect(missing, 'record them with scripts/record-histories.ts').toEqual([]);
  });

  it('replays every recorded history against the current workflow code', { timeout: 180_000 }, async () => {
    quietRuntime();
    const histories = manifest.histories.map((h) => ({
      workflowId: h.workflowId,
      history: JSON.parse(readFileSync(join(DIR, h.file), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    // One result per history, in order (executions of a continued-as-new run share a workflow id).
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      const h = manifest.histories[replayed++]!;
      if (!r.error) continue;
      failures.push(`${h.file} (${h.exercises}; recorded by ${h.gitSha.slice(0, 10)}): ${r.error.name}: ${r.error.message}`);
    }
    expect(failures, 'guard workflow changes with patched(): docs/runtime.md, "Changing the interpreter"').toEqual([]);
    expect(replayed).toBe(manifest.histories.length);
  });
});

/**
 * Sizes Temporal refuses, caught where they arise: a spec that compiles into a plan over the
 * payload limit is refused at validate (located), a start the server refuses says the server's
 * reason, and a stage returning outputs over the limit fails naming the stage. Real dev server.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { validateFile } from '../../src/spec/validate.ts';
import { startRun } from '../../src/temporal/runs.ts';
import { makePlan } from '../support/plans.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'mlpipe-limits-'));

/** One ~2 KB anchor aliased `aliases` times by as many stages (the attack used 199 of a 400 KB one). */
function fanOut(aliases: number, anchorBytes: number): string {
  const big = JSON.stringify(Array.from({ length: anchorBytes / 100 }, (_, i) => `${String(i).padStart(6, '0')}${'v'.repeat(90)}`));
  const stages = [`  s000: { type: activity, activity: go, input: &big ${big} }`];
  for (let i = 1; i <= aliases; i++) stages.push(`  s${String(i).padStart(3, '0')}: { type: activity, activity: go, input: *big }`);
  return `apiVersion: mlpipe/v1\nmetadata: { name: fan-out }\nstages:\n${stages.join('\n')}\n`;
}

const mlpipe = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin/mlpipe.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('plan size', () => {
  it('refuses at validate a small file whose aliases compile into a plan over 2 MB, at the biggest stage', async () => {
    const file = join(dir, 'fan-out.yaml');
    writeFileSync(file, fanOut(199, 400_000));
    const r = await validateFile(file);
    expect(r.valid).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.code}`)).toEqual(['4:3 error plan.too-large']);
    expect(r.diagnostics[0]!.message).toMatch(
      /^the compiled plan would be over 2\.0 MB: Temporal refuses a run whose plan is over 2\.0 MB \(stage `s000` is 3\d\d KB\)$/,
    );
    expect(r.diagnostics[0]!.hint).toMatch(/anchor is copied in full at every alias/);
    const cli = mlpipe('run', file, '--address', '127.0.0.1:1'); // refused before any connection
    expect(cli.status).toBe(1);
    expect(cli.stderr).toContain('plan.too-large');
  });

  it('warns about a plan over 256 KB and still validates it', () => {
    const file = join(dir, 'large.yaml');
    writeFileSync(file, fanOut(30, 10_000));
    const cli = mlpipe('validate', file);
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/^✓ .*large\.yaml$/m);
    expect(cli.stdout).toMatch(/warning: the compiled plan would be about 3\d\d KB: every run stores it in its history/);
  });
});

describe('Temporal refusals', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await testEnv('limits');
  });
  afterAll(async () => {
    await env?.close();
  });

  it('a start the server refuses says why', async () => {
    const plan = makePlan('too-big', { a: { fn: 'noop', input: { blob: 'x'.repeat(3 * 1024 * 1024) } } });
    const err = await startRun(env.client, { plan, taskQueue: env.queue }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^Failed to start Workflow: .*(size|limit)/i);
  });

  it('a stage returning outputs over the limit fails at once, naming the stage, the size and the limit', async () => {
    const plan = makePlan('big-outputs', { dump: { fn: 'large', input: { bytes: 5 * 1024 * 1024 }, maximumAttempts: 5 } });
    const h = await env.start(plan);
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const msg = String((err as WorkflowFailedError).cause?.message);
    expect(msg).toBe(
      'stage "dump" (activity) failed: its outputs are 5.0 MB, over the 2.0 MB Temporal keeps for a stage result in the run\'s history; ' +
        'store large data as an artifact (defaultStore().put in src/artifacts) and return its reference',
    );
    const started = (await h.fetchHistory()).events!.filter((e) => e.activityTaskStartedEventAttributes);
    expect(started.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1]); // not retried
  });
});

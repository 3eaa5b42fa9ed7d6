/**
 * The run-control commands end to end: `node bin/mlpipe.js …` against the suite's server, a real
 * compiled YAML pipeline, an in-process worker with the test activities.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery, type RunStatus } from '../../workflows/api.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
let dir: string;

beforeAll(async () => {
  env = await testEnv('cli');
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-cli-'));
  writeFileSync(
    join(dir, 'fix.yaml'),
    `apiVersion: mlpipe/v1
metadata: { name: cli-fix, description: fix and continue from the CLI }
params:
  value: { type: string, default: one }
stages:
  a:
    type: activity
    activity: produce
    input: { value: "\${params.value}" }
    outputs: { dataset: dataset, size: number }
    taskQueue: ${env.queue}
  b:
    type: activity
    needs: [a]
    activity: needsFix
    input: { ok: false }
    onFailure: wait
    retry: { maxAttempts: 1 }
    taskQueue: ${env.queue}
`,
  );
  writeFileSync(
    join(dir, 'ok.yaml'),
    `apiVersion: mlpipe/v1
metadata: { name: cli-ok }
stages:
  only:
    type: activity
    activity: noop
    input: { value: 42 }
    taskQueue: ${env.queue}
`,
  );
});
afterAll(async () => {
  await env?.close();
});

function cli(...args: string[]): Promise<{ code: number; out: string }> {
  return mlpipe([...args, '--address', env.address]);
}

/** For commands that do not talk to Temporal (no --address). */
function mlpipe(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/mlpipe.js', ...args],
      { env: { ...process.env, MLPIPE_HOME: env.home, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

async function waitStage(id: string, stage: string, status: string): Promise<RunStatus> {
  const h = env.client.workflow.getHandle(id);
  let last: unknown;
  for (let i = 0; i < 150; i++) {
    const s = await h.query(statusQuery).catch((e: unknown) => void (last = e));
    if (s) last = s.stages[stage];
    if (s?.stages[stage]?.status === status) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${id}: stage ${stage} never became ${status} (last: ${JSON.stringify(last) ?? String(last)})`);
}

const startedId = (out: string) => /started (\S+)/.exec(out)?.[1] ?? '';

describe('mlpipe run-control commands', () => {
  it('run --wait prints the outcome; list --pipeline finds the run', async () => {
    const r = await cli('run', join(dir, 'ok.yaml'), '--wait', '--task-queue', env.queue);
    expect(r.out).toMatch(/started cli-ok\/\d{8}-\d{6}-[0-9a-f]{4}/);
    expect(r.out).toContain('succeeded');
    expect(r.code).toBe(0);
    const id = startedId(r.out);
    let listed = '';
    for (let i = 0; i < 20 && !listed.includes(id); i++) {
      listed = (await cli('list', '--pipeline', 'cli-ok')).out;
      if (!listed.includes(id)) await new Promise((res) => setTimeout(res, 300));
    }
    expect(listed).toContain(id);
    expect(listed).toContain('COMPLETED');
  });

  it('fix and continue from the CLI: a waiting stage is retried with fixed config; wrong stages are refused', async () => {
    const r = await cli('run', join(dir, 'fix.yaml'), '--task-queue', env.queue, '--param', 'value=fix');
    expect(r.out).toContain('started');
    expect(r.code).toBe(0);
    const id = startedId(r.out);
    await waitStage(id, 'b', 'awaiting-operator');
    const status = await cli('status', id);
    expect(status.out).toMatch(/b\s+awaiting-operator.*input\.ok is not true/);
    const refused = await cli('skip', id, 'a');
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('"a" is succeeded');
    const retried = await cli('retry', id, 'b', '--config', '{"input":{"ok":true}}');
    expect(retried.out).toContain('retrying b');
    const res = await env.client.workflow.getHandle(id).result();
    expect(res.stages.b!.status).toBe('succeeded');

    // rerun --from b: a's outputs are reused, b runs again (and waits again: skip it).
    const rr = await cli('rerun', id, '--from', 'b');
    expect(rr.out).toContain('started');
    const id2 = startedId(rr.out);
    expect(id2).not.toBe(id);
    await waitStage(id2, 'b', 'awaiting-operator');
    expect((await cli('skip', id2, 'b')).code).toBe(0);
    const res2 = await env.client.workflow.getHandle(id2).result();
    expect(res2.stages.a!.cached).toBe(true);
    expect(res2.stages.a!.outputs).toEqual(res.stages.a!.outputs);
    expect(res2.stages.b!.status).toBe('skipped');
  });

  it('approve lets a gated stage start; report says where the HTML report is, or that there is none', async () => {
    writeFileSync(
      join(dir, 'gate.yaml'),
      `apiVersion: mlpipe/v1
metadata: { name: cli-gate }
stages:
  gated:
    type: activity
    activity: noop
    approval: true
    taskQueue: ${env.queue}
`,
    );
    const id = startedId((await cli('run', join(dir, 'gate.yaml'), '--task-queue', env.queue)).out);
    await waitStage(id, 'gated', 'awaiting-approval');
    const wrong = await cli('approve', id, 'nope');
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain('no stage "nope"');
    expect((await cli('approve', id, 'gated')).out).toContain('approved gated');
    const res = await env.client.workflow.getHandle(id).result();
    expect(res.stages.gated!.status).toBe('succeeded');

    const none = await mlpipe(['report', id]);
    expect(none.code).toBe(1);
    expect(none.out).toContain(`no report for ${id}`);
    const { reportPath } = await import('../../src/ml/report/report.ts');
    const file = reportPath(id, { MLPIPE_HOME: env.home });
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '<html></html>');
    const found = await mlpipe(['report', id]);
    expect(found.code).toBe(0);
    expect(found.out.trim()).toBe(file);
  });

  it('an invalid spec is refused with its located error before anything starts', async () => {
    const r = await cli('run', 'test/fixtures/invalid/unknown-field-need.yaml', '--task-queue', env.queue);
    expect(r.code).toBe(1);
    expect(r.out).toContain('unknown-field-need.yaml:12:5: error: unknown field `need` in stage `prep`');
    expect(r.out).not.toContain('started');
  });

  it('cancel stops a run', async () => {
    const id = startedId((await cli('run', join(dir, 'fix.yaml'), '--task-queue', env.queue, '--param', 'value=cancel')).out);
    await waitStage(id, 'b', 'awaiting-operator');
    expect((await cli('cancel', id)).code).toBe(0);
    await expect(env.client.workflow.getHandle(id).result()).rejects.toThrow();
    expect((await cli('status', id)).out).toContain('CANCELLED');
  });

  it('bad invocations exit 2 with a reason', async () => {
    const r = await cli('run', join(dir, 'missing.yaml'));
    expect(r.code).toBe(2);
    const bad = await cli('retry', 'x/y', 'b', '--config', '{nope');
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('--config is not JSON');
  });
});

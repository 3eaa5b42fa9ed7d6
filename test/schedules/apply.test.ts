/**
 * `mlpipe apply` and `mlpipe schedules` against the suite's real Temporal dev server, with a
 * real worker running the (cheap, no-op) scheduled pipelines. Each test file uses its own scope
 * and task queue, so parallel files never see each other's schedules.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleNotFoundError } from '@temporalio/client';
import { SA_GIT_SHA, SA_PIPELINE, SA_TRIGGER } from '../../workflows/api.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';
import { apply, cli, fixture, gitRepo, until } from '../support/schedules.ts';
import type { Plan } from '../../src/core/plan.ts';

const tag = randomBytes(3).toString('hex');
const scope = `test-${tag}`;
const names = { tick: `sched-tick-${tag}`, nightly: `sched-nightly-${tag}`, plain: `sched-plain-${tag}` };
const foreignId = `not-mlpipe-${tag}`;
const otherScopeId = `mlpipe:other-team-${tag}`;

let env: TestEnv;
let repo: ReturnType<typeof gitRepo>;
let firstCommit: string;

const exists = async (id: string) => {
  try {
    await env.client.schedule.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
};

beforeAll(async () => {
  env = await testEnv('sched');
  const q = env.queue;
  repo = gitRepo({
    'tick.yaml': fixture('tick', { name: names.tick, queue: q }),
    'nightly.yaml': fixture('nightly', { name: names.nightly, queue: q }),
    'plain.yaml': fixture('unscheduled', { name: names.plain, queue: q }),
  });
  firstCommit = repo.commit('second commit (same files)');
  // Schedules apply must never touch: one not made by mlpipe, one of another scope.
  await env.client.schedule.create({
    scheduleId: foreignId,
    spec: { intervals: [{ every: '1d' }] },
    action: { type: 'startWorkflow', workflowType: 'somethingElse', taskQueue: 'nowhere', args: [] },
    policies: { catchupWindow: '1m' },
    state: { paused: true },
  });
  await env.client.schedule.create({
    scheduleId: otherScopeId,
    spec: { intervals: [{ every: '1d' }] },
    action: { type: 'startWorkflow', workflowType: 'pipeline', taskQueue: 'nowhere', args: [] },
    policies: { catchupWindow: '1m' },
    memo: { managedBy: 'mlpipe', pipeline: `other-team-${tag}`, scope: `other-${tag}` },
    state: { paused: true },
  });
});

afterAll(async () => {
  for (const id of [foreignId, otherScopeId, `mlpipe:${names.tick}`, `mlpipe:${names.nightly}`]) {
    await env?.client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  }
  await env?.close();
  if (repo) rmSync(repo.dir, { recursive: true, force: true });
});

describe('mlpipe apply', () => {
  it('an invalid file blocks the whole apply (exit 1, located error, nothing created)', () => {
    writeFileSync(join(repo.dir, 'broken.yaml'), fixture('invalid', { name: `sched-broken-${tag}`, queue: env.queue }));
    try {
      const r = cli(['apply', repo.dir, '--address', env.address, '--scope', scope, '--task-queue', env.queue]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/broken\.yaml:\d+:\d+: error/);
      expect(r.stderr).toMatch(/nothing applied: 1 of 4 files invalid/);
    } finally {
      rmSync(join(repo.dir, 'broken.yaml'));
    }
    return expect(exists(`mlpipe:${names.tick}`)).resolves.toBe(false);
  });

  it('--dry-run prints the diff and changes nothing', async () => {
    const r = cli(['apply', repo.dir, '--dry-run', '--address', env.address, '--scope', scope, '--task-queue', env.queue]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`+ create mlpipe:${names.tick}`);
    expect(r.stdout).toContain('every 2s');
    expect(r.stdout).toContain(`+ create mlpipe:${names.nightly}`);
    expect(r.stdout).toContain('cron "0 3 * * *" Europe/Berlin');
    expect(r.stdout).not.toContain(names.plain);
    expect(r.stdout).toContain('dry run: 2 created, 0 updated, 0 deleted');
    expect(await exists(`mlpipe:${names.tick}`)).toBe(false);
  });

  it('creates schedules that fire; the run carries trigger=schedule and the git commit (credentials stripped)', async () => {
    const changes = await apply(env.client, repo.dir, { scope, queue: env.queue });
    expect(changes.map((c) => `${c.action} ${c.pipeline}`).sort()).toEqual([`create ${names.nightly}`, `create ${names.tick}`]);

    const nightly = await env.client.schedule.getHandle(`mlpipe:${names.nightly}`).describe();
    expect(nightly.state.paused).toBe(true);
    expect(nightly.spec.timezone).toBe('Europe/Berlin');
    expect(nightly.spec.jitter).toBe(600_000);
    expect(nightly.policies).toEqual({ overlap: 'SKIP', catchupWindow: 6 * 3_600_000, pauseOnFailure: true });
    expect(nightly.memo).toEqual({ managedBy: 'mlpipe', pipeline: names.nightly, scope });

    const tick = env.client.schedule.getHandle(`mlpipe:${names.tick}`);
    const fired = await until('the first scheduled run', async () => (await tick.describe()).info.recentActions[0]);
    await tick.pause('test: one run is enough');
    const run = env.client.workflow.getHandle(fired.action.workflow.workflowId);
    const result = (await run.result()) as { status: string; stages: Record<string, { outputs: { value?: unknown } }> };
    expect(result.status).toBe('succeeded');
    // schedule.params (value: 7) reached the run.
    expect(result.stages.first!.outputs.value).toBe(7);
    const d = await run.describe();
    expect(d.workflowId.startsWith(`${names.tick}/scheduled-`)).toBe(true);
    expect(d.typedSearchAttributes.get(SA_TRIGGER)).toBe('schedule');
    expect(d.typedSearchAttributes.get(SA_PIPELINE)).toBe(names.tick);
    expect(d.typedSearchAttributes.get(SA_GIT_SHA)).toBe(firstCommit);
    expect(d.memo).toMatchObject({
      pipeline: names.tick,
      git: { commit: firstCommit, branch: 'main', remote: 'https://git.example.com/ml/pipelines.git' },
    });
    expect(JSON.stringify(d.memo)).not.toContain('s3cret');
  });

  it('a second apply changes nothing and says so', () => {
    const r = cli(['apply', repo.dir, '--address', env.address, '--scope', scope, '--task-queue', env.queue]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('no changes (2 schedules up to date)');
  });

  it('editing the YAML and re-applying updates the schedule and says what changed; a dirty tree warns', async () => {
    const edited = fixture('tick', { name: names.tick, queue: env.queue })
      .replace('every: 2s', 'every: 1h')
      .replace('params: { value: 7 }', 'params: { value: 8 }');
    writeFileSync(join(repo.dir, 'tick.yaml'), edited);
    const r = cli(['apply', repo.dir, '--address', env.address, '--scope', scope, '--task-queue', env.queue, '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: the git tree of .* has uncommitted changes/);
    const out = JSON.parse(r.stdout) as {
      applied: boolean;
      changes: { action: string; pipeline: string; details: string[] }[];
      warnings: string[];
    };
    expect(out.applied).toBe(true);
    const update = out.changes.find((c) => c.pipeline === names.tick)!;
    expect(update.action).toBe('update');
    expect(update.details).toEqual(expect.arrayContaining([expect.stringMatching(/^schedule\.intervals: /), 'params', 'stage first']));
    expect(out.changes.find((c) => c.pipeline === names.nightly)!.action).toBe('unchanged');
    const d = await env.client.schedule.getHandle(`mlpipe:${names.tick}`).describe();
    expect(d.spec.intervals).toHaveLength(1);
    expect(d.spec.intervals![0]!.every).toBe(3_600_000);
    expect(d.typedSearchAttributes.get(SA_PIPELINE)).toBe(names.tick);
    repo.commit('tick every hour');
  });

  it('backfill starts the runs the schedule would have started', async () => {
    const r = cli([
      'schedules',
      'backfill',
      names.tick,
      '--from',
      '2026-01-01T00:00:00Z',
      '--to',
      '2026-01-01T02:30:00Z',
      '--address',
      env.address,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ids = ['00', '01', '02'].map((h) => `${names.tick}/scheduled-2026-01-01T${h}:00:00Z`);
    for (const id of ids) {
      const res = (await until(`backfilled run ${id}`, () => env.client.workflow.getHandle(id).result())) as { status: string };
      expect(res.status).toBe('succeeded');
      const d = await env.client.workflow.getHandle(id).describe();
      expect(d.typedSearchAttributes.get(SA_TRIGGER)).toBe('schedule');
    }
    // Nothing outside the window.
    await expect(env.client.workflow.getHandle(`${names.tick}/scheduled-2026-01-01T03:00:00Z`).describe()).rejects.toThrow();
  });

  it('schedules list/describe/pause/unpause/trigger', async () => {
    const list = cli(['schedules', 'list', '--format', 'json', '--address', env.address]);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { scheduleId: string; managed: boolean }[];
    const ids = rows.map((r) => r.scheduleId);
    expect(ids).toEqual(expect.arrayContaining([`mlpipe:${names.tick}`, `mlpipe:${names.nightly}`, otherScopeId]));
    expect(ids).not.toContain(foreignId);

    const desc = cli(['schedules', 'describe', names.nightly, '--address', env.address]);
    expect(desc.code).toBe(0);
    expect(desc.stdout).toContain('cron "0 3 * * *"');
    expect(desc.stdout).toContain('overlap SKIP, catch-up window 6h, pause on failure yes');
    expect(desc.stdout).toMatch(/git: +[0-9a-f]{40} on main from https:\/\/git\.example\.com\/ml\/pipelines\.git/);

    expect(cli(['schedules', 'unpause', names.nightly, '--note', 'ops: resume', '--address', env.address]).code).toBe(0);
    let d = await env.client.schedule.getHandle(`mlpipe:${names.nightly}`).describe();
    expect(d.state).toMatchObject({ paused: false, note: 'ops: resume' });
    expect(cli(['schedules', 'pause', names.nightly, '--address', env.address]).code).toBe(0);
    d = await env.client.schedule.getHandle(`mlpipe:${names.nightly}`).describe();
    expect(d.state.paused).toBe(true);

    expect(cli(['schedules', 'trigger', names.nightly, '--address', env.address]).code).toBe(0);
    const fired = await until(
      'the triggered run',
      async () => (await env.client.schedule.getHandle(`mlpipe:${names.nightly}`).describe()).info.recentActions[0],
    );
    const res = (await env.client.workflow.getHandle(fired.action.workflow.workflowId).result()) as { status: string };
    expect(res.status).toBe('succeeded');

    const missing = cli(['schedules', 'describe', `nope-${tag}`, '--address', env.address]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no schedule');
  });

  it('deleting a file deletes only its schedule; schedules not made by mlpipe (or of another scope) survive', async () => {
    rmSync(join(repo.dir, 'nightly.yaml'));
    repo.commit('drop nightly');
    const changes = await apply(env.client, repo.dir, { scope, queue: env.queue });
    const acted = changes.filter((c) => c.action !== 'unchanged');
    expect(acted.map((c) => `${c.action} ${c.scheduleId}`)).toEqual([`delete mlpipe:${names.nightly}`]);
    expect(acted[0]!.details).toEqual(['its pipeline file is gone']);
    expect(await exists(`mlpipe:${names.nightly}`)).toBe(false);
    expect(await exists(`mlpipe:${names.tick}`)).toBe(true);
    expect(await exists(foreignId)).toBe(true);
    expect(await exists(otherScopeId)).toBe(true);
  });

  it('a schedule with our id that mlpipe did not make is a conflict: nothing applied', async () => {
    const clash = `sched-clash-${tag}`;
    await env.client.schedule.create({
      scheduleId: `mlpipe:${clash}`,
      spec: { intervals: [{ every: '1d' }] },
      action: { type: 'startWorkflow', workflowType: 'other', taskQueue: 'nowhere', args: [] },
      policies: { catchupWindow: '1m' },
      state: { paused: true },
    });
    writeFileSync(join(repo.dir, 'clash.yaml'), fixture('nightly', { name: clash, queue: env.queue }));
    writeFileSync(join(repo.dir, 'new.yaml'), fixture('nightly', { name: `sched-new-${tag}`, queue: env.queue }));
    try {
      const r = cli(['apply', repo.dir, '--address', env.address, '--scope', scope, '--task-queue', env.queue]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`! conflict mlpipe:${clash}`);
      expect(r.stderr).toContain('nothing applied');
      expect(await exists(`mlpipe:sched-new-${tag}`)).toBe(false);
      const d = await env.client.schedule.getHandle(`mlpipe:${clash}`).describe();
      expect(d.action.workflowType).toBe('other');
    } finally {
      await env.client.schedule.getHandle(`mlpipe:${clash}`).delete();
      rmSync(join(repo.dir, 'clash.yaml'));
      rmSync(join(repo.dir, 'new.yaml'));
    }
  });

  it('--workers-root: collect stages resolve where the workers see the specs; moving it updates, leaving it out does not', async () => {
    const name = `sched-collect-${tag}`;
    const file = join(repo.dir, 'collect.yaml');
    writeFileSync(file, fixture('collect', { name, queue: env.queue }));
    try {
      const act = async (workersRoot?: string) =>
        (await apply(env.client, repo.dir, { scope, queue: env.queue, ...(workersRoot ? { workersRoot } : {}) })).find(
          (c) => c.pipeline === name,
        )!;
      expect((await act('/srv/a')).action).toBe('create');
      const baseDir = async () => {
        const d = await env.client.schedule.getHandle(`mlpipe:${name}`).describe();
        return (d.action.args![0] as { plan: Plan }).plan.nodes[0]!.location?.baseDir;
      };
      expect(await baseDir()).toBe('/srv/a');
      expect((await act('/srv/a')).action).toBe('unchanged');
      const moved = await act('/srv/b');
      expect(moved.action).toBe('update');
      expect(moved.details).toEqual(['collect base dir: /srv/a → /srv/b']);
      expect(await baseDir()).toBe('/srv/b');
      // Without the flag the portable hash decides: same pipeline, no change.
      expect((await act()).action).toBe('unchanged');
    } finally {
      rmSync(file);
      await env.client.schedule
        .getHandle(`mlpipe:${name}`)
        .delete()
        .catch(() => undefined);
    }
  });
});

/** Shared pieces of the schedule tests: fixture pipelines in a throw-away git repo, apply, polling. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { pipelineFiles } from '../../src/cli/pipeline-files.ts';
import { executeChanges, loadDesired, planChanges, type Change } from '../../src/schedules/apply.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/schedules');

export function fixture(name: string, vars: { name: string; queue: string }): string {
  return readFileSync(join(FIXTURES, `${name}.yaml`), 'utf8')
    .replaceAll('@NAME@', vars.name)
    .replaceAll('@QUEUE@', vars.queue);
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

/** A git repo (remote URL with credentials in it, to prove they are stripped) holding `files`. */
export function gitRepo(files: Record<string, string>): { dir: string; commit(msg: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-sched-repo-'));
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 'test@example.com');
  git(dir, 'config', 'user.name', 'test');
  git(dir, 'remote', 'add', 'origin', 'https://deploy-bot:s3cret-token@git.example.com/ml/pipelines.git');
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const commit = (msg: string) => {
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '--allow-empty', '-m', msg);
    return git(dir, 'rev-parse', 'HEAD');
  };
  commit('pipelines');
  return { dir, commit };
}

/** `mlpipe apply` in-process: validate, plan, execute. */
export async function apply(
  client: Client,
  dir: string,
  o: { scope: string; queue: string; dryRun?: boolean; workersRoot?: string },
): Promise<Change[]> {
  const loaded = await loadDesired(await pipelineFiles([dir]), {
    scope: o.scope,
    taskQueue: o.queue,
    ...(o.workersRoot ? { workersRoot: o.workersRoot, root: dir } : {}),
  });
  if (loaded.invalid.length || loaded.errors.length)
    throw new Error(`invalid: ${JSON.stringify(loaded.invalid.map((r) => r.diagnostics))} ${loaded.errors.join('; ')}`);
  const changes = await planChanges(client, loaded, o.scope);
  if (!o.dryRun) await executeChanges(client, changes);
  return changes;
}

/** `node bin/mlpipe.js …` (the real CLI) → exit code and output. */
export function cli(args: string[], cwd = ROOT): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/mlpipe.js'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

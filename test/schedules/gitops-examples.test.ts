/**
 * The GitOps examples users copy (docs/examples/*, .pre-commit-hooks.yaml) run the commands
 * they claim to: every `mlpipe` command line in them is run here, against this repository's
 * pipelines/ (apply as a dry run against the suite's dev server, in a scope of its own).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { testAddress } from '../support/temporal.ts';
import { cli, ROOT } from '../support/schedules.ts';

const read = (f: string) => parse(readFileSync(join(ROOT, f), 'utf8')) as unknown;

/** `npx mlpipe a b "c"` → ['a', 'b', 'c'] (the examples quote simply). */
function mlpipeArgs(line: string): string[] {
  const m = /npx (?:--no-install )?mlpipe (.*)$/.exec(line.trim());
  if (!m) throw new Error(`not an mlpipe command: ${line}`);
  return m[1]!.match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''));
}

describe('GitOps examples', () => {
  const wf = read('docs/examples/github-actions.yml') as { jobs: Record<string, { steps: { run?: string }[] }> };
  const runs = (job: string) => wf.jobs[job]!.steps.map((s) => s.run ?? '').filter((r) => r.includes('npx mlpipe'));

  it('the pull-request job validates pipelines/ with GitHub annotations (exit 0 on this repo)', () => {
    const [line] = runs('validate');
    const args = mlpipeArgs(line!);
    expect(args).toEqual(['validate', 'pipelines/', '--format', 'github']);
    const r = cli(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it("the main-branch job's apply works on this repo's pipelines (as a dry run)", () => {
    const [line] = runs('apply');
    const scope = `examples-${randomBytes(3).toString('hex')}`;
    const args = mlpipeArgs(line!).map((a) => (a.includes('${{') ? scope : a));
    expect(args.slice(0, 2)).toEqual(['apply', 'pipelines/']);
    const r = cli([...args, '--dry-run', '--address', testAddress()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('+ create mlpipe:churn-lifecycle (pipelines/lifecycle.yaml)');
    expect(r.stdout).toMatch(/dry run: 1 created, 0 updated, 0 deleted/);
  });

  it('the pre-commit hook runs mlpipe validate on pipeline files', () => {
    const hooks = read('.pre-commit-hooks.yaml') as { id: string; entry: string; files: string }[];
    const hook = hooks.find((h) => h.id === 'mlpipe-validate')!;
    const files = new RegExp(hook.files);
    expect(files.test('pipelines/iris-mlp.yaml')).toBe(true);
    expect(files.test('ml/pipelines/nightly.yml')).toBe(true);
    expect(files.test('.github/workflows/ci.yaml')).toBe(false);
    const [cmd, ...args] = hook.entry.split(' ');
    expect(cmd).toBe('mlpipe');
    expect(cli([...args, 'pipelines/iris-mlp.yaml', 'pipelines/lifecycle.yaml']).code).toBe(0);
    const bad = cli([...args, 'test/fixtures/invalid/bad-cron.yaml']);
    expect(bad.code).toBe(1);

    const cfg = read('docs/examples/pre-commit-config.yaml') as { repos: { hooks: { id: string }[] }[] };
    expect(cfg.repos[0]!.hooks.map((h) => h.id)).toEqual(['mlpipe-validate']);
  });
});

/**
 * Issue 17: what a user sees of a finished run. On the suite's dev server with the real stage
 * activities: `mlpipe status` shows each finished stage's key outputs, and a run whose train and
 * evaluate stages came from the step cache still has a report (built from the cached artifacts,
 * linking the run that computed them), printed by `run --wait` and found by `mlpipe report`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
let dir: string;

beforeAll(async () => {
  env = await testEnv('report-cached');
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-report-cached-'));
  copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
  const spec = readFileSync('pipelines/iris-mlp.yaml', 'utf8')
    .replace('name: iris-mlp', 'name: report-cached')
    .replace('path: data/iris.csv', 'path: iris.csv')
    .replace('default: 150', 'default: 5')
    .replace('min: 0.93', 'min: 0.0')
    .replace('\nstages:\n', `\ndefaults: { taskQueue: ${env.queue} }\nstages:\n`);
  writeFileSync(join(dir, 'p.yaml'), spec);
});
afterAll(async () => {
  await env?.close();
});

function mlpipe(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/mlpipe.js', ...args, '--address', env.address],
      // the store the suite's in-process worker writes to (its process's, not env.home)
      { env: { ...process.env, NO_COLOR: '1' }, timeout: 200_000 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

const startedId = (out: string) => /started (\S+)/.exec(out)?.[1] ?? '';
const reportOf = (out: string) => /report: (\S+)/.exec(out)?.[1];

describe('a finished run, as the user sees it', () => {
  it('status shows key outputs; a fully cached run still has its report, linking the run that computed it', async () => {
    const first = await mlpipe('run', join(dir, 'p.yaml'), '--wait', '--task-queue', env.queue);
    expect(first.code, first.out).toBe(0);
    const id1 = startedId(first.out);
    expect(reportOf(first.out), first.out).toBeDefined();

    const status = await mlpipe('status', id1);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(/^\s*data\s+succeeded\s+rows=150\b/m);
    expect(status.out).toMatch(/^\s*evaluate\s+succeeded\s+.*accuracy=0?\.\d+/m);
    expect(status.out).toMatch(/^\s*train\s+succeeded\s+.*epochs=5\b/m);
    expect(status.out).not.toContain('sha256:'); // artifact references stay in --json

    const second = await mlpipe('run', join(dir, 'p.yaml'), '--wait', '--task-queue', env.queue);
    expect(second.code, second.out).toBe(0);
    const id2 = startedId(second.out);
    const status2 = (await mlpipe('status', id2)).out;
    expect(status2).toMatch(/train\s+succeeded \(cached\)\s+.*epochs=5/);
    expect(status2).toMatch(/evaluate\s+succeeded \(cached\)\s+.*accuracy=/);
    const file = reportOf(second.out);
    expect(file, `run --wait printed no report line:\n${second.out}`).toBeDefined();
    const html = readFileSync(file!, 'utf8');
    expect(html).toContain(`Run ${id2}`);
    expect(html).toMatch(/Training: train <small>\(from the step cache: computed by run <code>[^<]+<\/code>\)<\/small>/);
    expect(html).toContain(`computed by run <code>${id1.replace('/', '/')}</code>`);
    expect(html).toMatch(/Evaluation: evaluate \(test split\) <small>\(from the step cache/);
    expect(html).toContain('confusion matrix');

    // Another host (no local copy): `mlpipe report` renders it again from the store.
    rmSync(file!);
    const again = await mlpipe('report', id2);
    expect(again.code, again.out).toBe(0);
    expect(readFileSync(again.out.trim(), 'utf8')).toContain('from the step cache');

    // compare: a retrain with another param against the first run
    const third = await mlpipe('run', join(dir, 'p.yaml'), '--wait', '--task-queue', env.queue, '--param', 'epochs=3');
    expect(third.code, third.out).toBe(0);
    const id3 = startedId(third.out);
    const page = join(dir, 'compare.html');
    const cmp = await mlpipe('compare', id1, id2, id3, '--html', page);
    expect(cmp.code, cmp.out).toBe(0);
    const row = (name: string) => cmp.out.split('\n').find((l) => l.slice(2).startsWith(`${name} `)) ?? '';
    expect(row('params.epochs')).toMatch(/^\* params\.epochs\s+5\s+5\s+3$/);
    expect(row('params.learningRate')).toMatch(/^ {2}params\.learningRate\s+0\.01\s+0\.01\s+0\.01$/);
    expect(row('results.train.epochs')).toMatch(/^\* results\.train\.epochs\s+5\s+5\s+3$/);
    expect(row('results.data.rows')).toMatch(/^ {2}results\.data\.rows\s+150\s+150\s+150$/);
    expect(row('data.data.dataset')).toMatch(/^ {2}data\.data\.dataset\s+([0-9a-f]{12})\s+\1\s+\1$/);
    const cmpHtml = readFileSync(page, 'utf8');
    expect(cmpHtml).toMatch(/<tr class="differs"><td>params\.epochs<\/td><td>5<\/td><td>5<\/td><td>3<\/td><\/tr>/);
    expect(cmpHtml).toContain('Training: train, loss per epoch');
    expect((cmpHtml.match(/<svg/g) ?? []).length).toBeGreaterThan(2);
    // the pipeline's history, oldest first (visibility may lag a moment behind the runs)
    let runs = { code: 1, out: '' };
    for (let i = 0; i < 20; i++) {
      runs = await mlpipe('runs', 'report-cached', '--metrics');
      if ((runs.out.match(/^report-cached\//gm) ?? []).length === 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(runs.code, runs.out).toBe(0);
    const lines = runs.out.trim().split('\n');
    expect(lines[0]).toMatch(/^run\s+status\s+started\s+params\.epochs\s+.*train\.epochs/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([id1, id2, id3]);
    const col = lines[0]!.split(/\s{2,}/).indexOf('train.epochs');
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)[col])).toEqual(['5', '5', '3']);
    const json = await mlpipe('compare', id1, id3, '--json');
    const parsed = JSON.parse(json.out) as { rows: Array<{ name: string; differs: boolean; values: string[] }> };
    expect(parsed.rows.find((r) => r.name === 'epochs')).toMatchObject({ differs: true, values: ['5', '3'] });
  }, 600_000);
});

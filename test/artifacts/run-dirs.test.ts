// Run directories (lineage records, run files such as report sections, cached reports) are named
// from workflow ids: two ids never share one, and runs recorded under the earlier lossy naming
// stay readable, each its own.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalArtifactStore, runDirName, type Lineage } from '../../src/artifacts/index.ts';
import { findReport } from '../../src/cli/report-link.ts';
import { fetchRunReport, updateRunReport } from '../../src/ml/report/report.ts';
import { tempDir } from '../support/data.ts';

const lineage = (workflowId: string): Lineage => ({
  workflowId,
  runId: 'r',
  pipeline: 'p',
  stage: 's',
  attempt: 1,
  planHash: 'h',
  inputs: {},
});
const run = (workflowId: string) => ({ workflowId, runId: 'r', pipeline: 'col', planHash: 'h' });
const evaluation = (stage: string) => ({ stage, split: 'test', metrics: { accuracy: 1 }, gates: [], passed: true });

describe('run directory names', () => {
  it('are one readable path segment each, and distinct for distinct ids', () => {
    expect(runDirName('iris-mlp/20260128-145502-3fa9')).toBe('iris-mlp%2F20260128-145502-3fa9');
    const ids = ['col/a', 'col_a', 'col%2Fa', 'col a', 'col:a', '.', '..', '.hidden', 'é/ü', '%', '_'];
    const names = ids.map(runDirName);
    expect(new Set(names).size).toBe(ids.length);
    for (const n of names) {
      expect(n).toMatch(/^[A-Za-z0-9_%-][A-Za-z0-9._%~-]*$/); // no `/`, never `.`, `..` or hidden
    }
    const long = (end: string) => `${'p'.repeat(80)}/${'k'.repeat(400)}${end}`;
    expect(runDirName(long('1')).length).toBeLessThanOrEqual(200);
    expect(runDirName(long('1'))).not.toBe(runDirName(long('2')));
  });

  it('give runs `col/a` and `col_a` their own lineage and their own report', async () => {
    const root = tempDir();
    const store = new LocalArtifactStore(join(root, 'artifacts'));
    await store.put(Buffer.from('a'), { kind: 'metrics', lineage: lineage('col/a') });
    await store.put(Buffer.from('b'), { kind: 'metrics', lineage: lineage('col_a') });
    expect((await store.list('col/a')).map((r) => r.lineage.workflowId)).toEqual(['col/a']);
    expect((await store.list('col_a')).map((r) => r.lineage.workflowId)).toEqual(['col_a']);

    const env = { MLPIPE_HOME: join(root, 'home') };
    const one = await updateRunReport(run('col/a'), store, { evaluation: evaluation('first') }, env);
    const two = await updateRunReport(run('col_a'), store, { evaluation: evaluation('first') }, env);
    expect(one).not.toBe(two);
    expect(readFileSync(one, 'utf8')).toContain('<title>mlpipe run col/a</title>');
    expect(readFileSync(two, 'utf8')).toContain('<title>mlpipe run col_a</title>');
    expect(await store.listRunFiles('col/a', 'report/')).toEqual(['report/evaluation/first.json']);
    expect(JSON.parse(String(await store.getRunFile('col/a', 'report/evaluation/first.json'))).run.workflowId).toBe('col/a');
  });

  it('still read runs recorded under the earlier naming, each its own', async () => {
    const root = tempDir();
    // The earlier layout: `col/a` and `col_a` both recorded into runs/col_a/.
    const legacy = join(root, 'artifacts', 'runs', 'col_a');
    mkdirSync(join(legacy, 'files', 'report', 'evaluation'), { recursive: true });
    const rec = (id: string, n: number) => ({
      ref: { kind: 'metrics', uri: 'file:///x', digest: `sha256:${String(n).repeat(64)}`, sizeBytes: 1 },
      lineage: lineage(id),
      createdAt: '',
    });
    writeFileSync(join(legacy, '000000000000001-aaaa.json'), JSON.stringify(rec('col/a', 1)));
    writeFileSync(join(legacy, '000000000000002-bbbb.json'), JSON.stringify(rec('col_a', 2)));
    const section = (id: string, stage: string) =>
      JSON.stringify({ run: run(id), updatedAt: '2026-01-01T00:00:00Z', evaluation: evaluation(stage) });
    writeFileSync(join(legacy, 'files', 'report', 'evaluation', 'first.json'), section('col/a', 'first'));
    writeFileSync(join(legacy, 'files', 'report', 'evaluation', 'second.json'), section('col_a', 'second'));
    const store = new LocalArtifactStore(join(root, 'artifacts'));
    await store.put(Buffer.from('new'), { kind: 'metrics', lineage: lineage('col/a') });
    const mine = await store.list('col/a');
    expect(mine.map((r) => r.lineage.workflowId)).toEqual(['col/a', 'col/a']);
    expect(mine[0]!.ref.digest).toBe(`sha256:${'1'.repeat(64)}`);
    expect((await store.list('col_a')).map((r) => r.ref.digest)).toEqual([`sha256:${'2'.repeat(64)}`]);

    const env = { MLPIPE_HOME: join(root, 'home') };
    const a = readFileSync((await fetchRunReport('col/a', store, env))!, 'utf8');
    expect(a).toContain('first');
    expect(a).not.toContain('second');
    const b = readFileSync((await fetchRunReport('col_a', store, env))!, 'utf8');
    expect(b).toContain('second');
    expect(b).not.toContain('first');

    // A report an mlpipe before the store-backed reports left for `iris/1` in runs/iris_1/.
    const old = join(root, 'home', 'runs', 'iris_1');
    mkdirSync(old, { recursive: true });
    writeFileSync(
      join(old, 'report.json'),
      JSON.stringify({ run: run('iris/1'), updatedAt: '', training: {}, evaluation: {}, lineage: [] }),
    );
    writeFileSync(join(old, 'report.html'), '<title>mlpipe run iris/1</title>');
    process.env.MLPIPE_HOME = env.MLPIPE_HOME;
    expect(await findReport('iris/1', store)).toBe(join(old, 'report.html'));
    expect(await findReport('iris_1', store)).toBeNull(); // not taken for another run's
  });
});

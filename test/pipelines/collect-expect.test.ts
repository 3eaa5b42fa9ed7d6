/**
 * Expectations through a real worker and Temporal dev server: a collect stage checks its rows
 * against `expect:` (a distribution rule against an upstream stage's dataset, `inputs.reference`);
 * warn rules show in the outputs `mlpipe status` prints, and an error rule fails the run at once
 * (InvalidInput, no retry) naming the column, the rule, the observed value and the csv lines.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { outputsText } from '../../src/temporal/outputs-text.ts';
import { stageLines } from '../../src/temporal/follow.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('expect');
});
afterAll(async () => {
  await env?.close();
});

function pipeline(dir: string, name: string, expectYaml: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: mlpipe/v1
metadata: { name: ${name} }
stages:
  ref:
    type: collect
    source: { type: csv, path: ref.csv }
  data:
    type: collect
    needs: [ref]
    inputs: { reference: ref }
    source: { type: csv, path: cur.csv }
    onBadRows: drop
    expect:
${expectYaml}
`,
  );
  return file;
}

function data(dir: string) {
  const rows = (shift: number) => [
    'x,age',
    ...Array.from({ length: 60 }, (_, i) => `${(i % 30) + shift},${i === 7 ? 130 : 20 + (i % 50)}`),
  ];
  writeFileSync(join(dir, 'ref.csv'), rows(0).join('\n'));
  const cur = rows(0);
  cur.splice(3, 0, '1,2,3'); // a row with too many fields: dropped, counted
  writeFileSync(join(dir, 'cur.csv'), cur.join('\n'));
}

describe('collect expectations through Temporal', () => {
  it('records warn rules in the outputs status shows, with dropped rows and the distribution check', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-expect-'));
    data(dir);
    const file = pipeline(
      dir,
      'expwarn',
      [
        '      - { column: age, range: { min: 0, max: 120 }, severity: warn }',
        '      - { column: x, distribution: { test: psi, max: 0.1 } }',
        '      - { rows: { min: 50 } }',
      ].join('\n'),
    );
    const h = await env.start((await compileFile(file)).plan);
    const r = await h.result();
    const outputs = r.stages.data!.outputs;
    expect(outputs).toMatchObject({ rows: 60, droppedRows: 1, expectations: { passed: 2, failed: 1 } });
    expect(outputsText(outputs)).toBe('rows=60 droppedRows=1 expectations.passed=2 expectations.failed=1');
    // the line `mlpipe status` prints for the stage
    const lines = stageLines(await describeRun(env.client, h.workflowId), false);
    expect(lines.find((l) => l.startsWith('data '))).toMatch(
      /^data\s+succeeded\s+rows=60 droppedRows=1 expectations\.passed=2 expectations\.failed=1$/,
    );
  });

  it('fails the run at once on an error rule, naming column, rule, observed value and csv line', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-expect-'));
    data(dir);
    const h = await env.start((await compileFile(pipeline(dir, 'experr', '      - { column: age, range: { min: 0, max: 120 } }'))).plan);
    await expect(h.result()).rejects.toThrow();
    const view = await describeRun(env.client, h.workflowId);
    const stage = view.run!.stages.data!;
    expect(stage.status).toBe('failed');
    // header line 1, the dropped row line 4: the row with age 130 (the 8th) is on line 10
    expect(stage.error).toContain(
      'column "age" range: expected within [0, 120], observed min 20, max 130; 1 row, e.g. cur.csv line 10, column "age"',
    );
    const history = await env.client.workflow.getHandle(h.workflowId).fetchHistory();
    const failures = (history.events ?? []).flatMap((e) =>
      e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes] : [],
    );
    expect(failures.map((f) => f.failure?.applicationFailureInfo?.type)).toEqual(['InvalidInput']);
  });

  it('an expect stage gates a preprocessed split: passes the dataset on, or fails naming the source line', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-expect-'));
    data(dir);
    const stagePipeline = (name: string, max: number) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `apiVersion: mlpipe/v1
metadata: { name: ${name} }
stages:
  data: { type: collect, source: { type: csv, path: cur.csv }, onBadRows: drop }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: split, train: 0.5, test: 0.5, seed: 3 }]
  checked:
    type: expect
    needs: [prep]
    expect: [{ column: age, range: { max: ${max} } }, { rows: { min: 60 } }]
`,
      );
      return file;
    };
    const ok = await env.start((await compileFile(stagePipeline('expstage', 200))).plan);
    const r = await ok.result();
    expect(r.stages.checked!.outputs).toMatchObject({ rows: 60, expectations: { passed: 2, failed: 0 } });
    // the dataset passes through unchanged: the same artifact as preprocess's
    expect(r.stages.checked!.outputs.dataset).toEqual(r.stages.prep!.outputs.dataset);

    const bad = await env.start((await compileFile(stagePipeline('expstagebad', 120))).plan);
    await expect(bad.result()).rejects.toThrow();
    const stage = (await describeRun(env.client, bad.workflowId)).run!.stages.checked!;
    expect(stage.status).toBe('failed');
    // preprocess keeps each row's source line: the age-130 row is still cur.csv line 10
    expect(stage.error).toContain(
      'column "age" range: expected at most 120, observed min 20, max 130; 1 row, e.g. cur.csv line 10, column "age"',
    );
  });
});

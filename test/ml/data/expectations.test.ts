// Expectations (collect's `expect:`) and row origins: every rule's verdict with the source rows
// that break it, through the real collect activity (files on disk, the local artifact store, the
// run report), and a NaN that reaches training named by file, line and column.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../../activities/collect.ts';
import { preprocessCore } from '../../../activities/preprocess.ts';
import { trainCore } from '../../../activities/train.ts';
import { evaluateCore } from '../../../activities/evaluate.ts';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeImageFolder } from '../../../src/ml/data/images.ts';
import { loadMnist } from '../../../src/ml/data/mnist.ts';
import type { JsonObject } from '../../../src/core/plan.ts';
import { decodeDataset, rowPlace } from '../../../src/ml/data/dataset.ts';
import { ks, psi } from '../../../src/ml/eval/drift.ts';
import { evaluateExpectations } from '../../../src/ml/data/expectations.ts';
import type { TableSchema } from '../../../src/ml/data/sources.ts';
import { parseTable, parseTableHere } from '../../../src/ml/data/table-parse.ts';
import { reportPath } from '../../../src/ml/report/report.ts';
import { addCachedSections } from '../../../src/ml/report/cached.ts';
import { outputsText } from '../../../src/temporal/outputs-text.ts';
import { collectInput, stageInput, tempDir, testEnv } from '../../support/data.ts';
import { ref } from '../../support/pipelines.ts';

// line 1 is the header; line 4 is blank-free, so csv line n is row n-1
const CSV = ['id,age,kind,income', '1,34,a,100', '2,-3,b,', '3,150,c,300', '2,40,a,', '5,41,b,500', '6,42,a,600'].join('\n');

async function table(text: string, file = 'people.csv', format: 'csv' | 'ndjson' = 'csv', schema?: TableSchema) {
  return parseTableHere(Buffer.from(text), { format, onBadRows: 'drop', where: 'collect stage "data"', file, schema });
}

describe('expectations: each rule on a parsed csv', () => {
  it('passes what holds and names the source lines of what does not', async () => {
    const ds = await table(CSV);
    const s = evaluateExpectations(
      ds,
      [
        { column: 'age', range: { min: 0, max: 120 } },
        { column: 'kind', values: ['a', 'b'] },
        { column: 'id', unique: true },
        { column: 'income', nullShare: { max: 0.1 } },
        { rows: { min: 3, max: 10 } },
        { column: 'age', range: { min: -10 } },
      ],
      undefined,
      'collect stage "data"',
    );
    const [range, values, unique, nulls, rows, loose] = s.results;
    expect(range).toMatchObject({ rule: 'range', column: 'age', passed: false, failingRows: 2, observed: 'min -3, max 150' });
    expect(range!.places).toEqual(['people.csv line 3, column "age"', 'people.csv line 4, column "age"']);
    expect(values).toMatchObject({
      passed: false,
      failingRows: 1,
      observed: 'other values: "c"',
      places: ['people.csv line 4, column "kind"'],
    });
    expect(unique).toMatchObject({ passed: false, failingRows: 1, places: ['people.csv line 5, column "id"'] });
    expect(nulls).toMatchObject({ passed: false, failingRows: 2, observed: '0.333333 missing (2 of 6 rows)' });
    expect(nulls!.places).toEqual(['people.csv line 3, column "income"', 'people.csv line 5, column "income"']);
    expect(rows).toMatchObject({ passed: true, observed: '6 rows' });
    expect(loose).toMatchObject({ passed: true });
    expect(s.passed).toBe(2);
    expect(s.failed).toBe(4);
  });

  it('keeps the source lines of rows after dropped ones, and ndjson lines', async () => {
    // line 3 is bad (a text age) and dropped: the row after it is still line 4
    const schema: TableSchema = {
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'age', type: 'number' },
      ],
    };
    const ds = await table('id,age\n1,5\n2,x\n3,-1\n', 'people.csv', 'csv', schema);
    expect(ds.stats!.droppedRows).toBe(1);
    const s = evaluateExpectations(ds, [{ column: 'age', range: { min: 0 } }], undefined, 'here');
    expect(s.results[0]!.places).toEqual(['people.csv line 4, column "age"']);
    const nd = await table('{"age": 1}\n\n{"age": 200}\n', 'events.ndjson', 'ndjson');
    expect(rowPlace(nd, 1)).toBe('events.ndjson line 3');
    // a big file is parsed in a worker thread: the origin comes back from it too (blank line 3 skipped)
    const threaded = await parseTable(
      Buffer.from('a\n1\n\n2\n'),
      { format: 'csv', onBadRows: 'fail', where: 'here', file: 'f.csv' },
      { inlineMaxBytes: 0 },
    );
    expect([rowPlace(threaded, 0), rowPlace(threaded, 1)]).toEqual(['f.csv line 2', 'f.csv line 4']);
  });

  it('distribution: the same PSI and KS as monitor, against a reference dataset', async () => {
    const ref = await table(['x', ...Array.from({ length: 200 }, (_, i) => String(i % 50))].join('\n'), 'ref.csv');
    const cur = await table(['x', ...Array.from({ length: 200 }, (_, i) => String((i % 50) + 20))].join('\n'), 'cur.csv');
    const col = (d: typeof ref) => (d.columns[0] as { data: Float32Array }).data;
    const s = evaluateExpectations(
      cur,
      [
        { column: 'x', distribution: { test: 'psi', max: 0.2 } },
        { column: 'x', distribution: { test: 'ks', max: 0.9 }, severity: 'warn' },
      ],
      ref,
      'here',
    );
    const p = psi(col(ref), col(cur)).value;
    expect(p).toBeGreaterThan(0.2);
    expect(s.results[0]).toMatchObject({ passed: false, observed: `psi ${Number(p.toPrecision(6))}` });
    expect(s.results[1]).toMatchObject({ passed: true, severity: 'warn', observed: `ks ${Number(ks(col(ref), col(cur)).toPrecision(6))}` });
    expect(() => evaluateExpectations(cur, [{ column: 'x', distribution: { max: 0.2 } }], undefined, 'here')).toThrow(
      /needs a reference dataset; name one in inputs.reference/,
    );
  });

  it('a column the data lacks, or a text column under range, is a clear error', async () => {
    const ds = await table(CSV);
    expect(() => evaluateExpectations(ds, [{ column: 'agee', range: { min: 0 } }], undefined, 'here')).toThrow(
      /column "agee", which the data does not have \(its columns: id, age, kind, income\)/,
    );
    expect(() => evaluateExpectations(ds, [{ column: 'kind', range: { min: 0 } }], undefined, 'here')).toThrow(
      /needs numbers.*use values: for text/,
    );
  });
});

describe('expectations through the collect activity', () => {
  function setup() {
    const root = tempDir();
    process.env.MLPIPE_HOME = join(root, 'home');
    const dir = tempDir();
    writeFileSync(join(dir, 'people.csv'), CSV);
    return { env: testEnv(root), dir };
  }

  it('an error rule fails the stage non-retryably naming column, rule, observed value and lines; the report shows the table', async () => {
    const { env, dir } = setup();
    const input = collectInput(
      {
        source: { type: 'csv', path: 'people.csv' },
        expect: [
          { column: 'age', range: { min: 0, max: 120 } },
          { column: 'id', unique: true, severity: 'warn' },
        ],
      },
      dir,
      'exp/run-1',
    );
    const run = collectCore(input, env);
    await expect(run).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    await expect(run).rejects.toThrow(
      'collect stage "collect": 1 expectation failed: column "age" range: expected within [0, 120], observed min -3, max 150; 2 rows, ' +
        'e.g. people.csv line 3, column "age"; people.csv line 4, column "age". Fix the data, or change the rule',
    );
    expect(
      (await env.store.list('exp/run-1')).filter((r) => r.ref.kind === 'dataset'),
      'no dataset is stored',
    ).toEqual([]);
    const html = readFileSync(reportPath('exp/run-1'), 'utf8');
    expect(html).toContain('<h2>Data: collect — <span class="fail">expectations failed</span></h2>');
    expect(html).toContain('<td>age</td><td>range</td><td>error</td><td>within [0, 120]</td><td>min -3, max 150</td><td>2</td>');
    expect(html).toContain('<td class="fail">warning</td>');
  });

  it('warn rules are recorded in the outputs (shown by mlpipe status), and a reference input drives distribution', async () => {
    const { env, dir } = setup();
    const reference = await collectCore(collectInput({ source: { type: 'csv', path: 'people.csv' } }, dir, 'exp/run-2'), env);
    const input = {
      ...collectInput(
        {
          source: { type: 'csv', path: 'people.csv' },
          expect: [
            { column: 'age', range: { min: 0 }, severity: 'warn' },
            { rows: { min: 6 } },
            { column: 'age', distribution: { test: 'ks', max: 0.01 } },
          ],
        },
        dir,
        'exp/run-2',
      ),
      inputs: { reference: ref(reference, 'dataset') },
    };
    const out = await collectCore(input, env);
    const summary = out.outputs.expectations as JsonObject;
    expect(summary).toMatchObject({ passed: 2, failed: 1 });
    expect((summary.results as JsonObject[])[2]).toMatchObject({ rule: 'distribution', observed: 'ks 0', passed: true });
    expect(outputsText(out.outputs)).toBe('rows=6 droppedRows=0 expectations.passed=2 expectations.failed=1');
    const html = readFileSync(reportPath('exp/run-2'), 'utf8');
    expect(html).toContain('2 of 3 expectations passed');
  });
});

describe('the report of a cached collect stage', () => {
  it('is built from its outputs: rows, dropped rows and the expectations table', async () => {
    const root = tempDir();
    process.env.MLPIPE_HOME = join(root, 'home');
    const env = testEnv(root);
    const dir = tempDir();
    writeFileSync(join(dir, 'people.csv'), CSV);
    const first = await collectCore(
      collectInput(
        { source: { type: 'csv', path: 'people.csv' }, expect: [{ column: 'id', unique: true, severity: 'warn' }] },
        dir,
        'exp/run-3',
      ),
      env,
    );
    const run = { workflowId: 'exp/run-4', runId: 'r4', pipeline: 'test', planHash: 'plan-hash' };
    const added = await addCachedSections(
      run,
      { collect: { kind: 'collect', status: 'succeeded', cached: true, outputs: first.outputs } },
      env.store,
    );
    expect(added).toBe(1);
    const html = readFileSync(reportPath('exp/run-4'), 'utf8');
    expect(html).toContain('<h2>Data: collect <small>(from the step cache)</small> — <span class="pass">expectations met</span></h2>');
    expect(html).toContain(
      '<td>id</td><td>unique</td><td>warn</td><td>no repeated value</td><td>1 repeated ' +
        'value</td><td>1</td><td>people.csv line 5, column &quot;id&quot;</td><td class="fail">warning</td>',
    );
    expect(
      await addCachedSections(run, { collect: { kind: 'collect', status: 'succeeded', cached: true, outputs: first.outputs } }, env.store),
      'once',
    ).toBe(0);
    // an expect stage answered from the cache: its section too, from its outputs
    const expectOut = { ...first.outputs, droppedRows: 0 };
    expect(
      await addCachedSections(run, { checked: { kind: 'expect', status: 'succeeded', cached: true, outputs: expectOut } }, env.store),
    ).toBe(1);
    expect(readFileSync(reportPath('exp/run-4'), 'utf8')).toContain('<h2>Data: checked <small>(from the step cache)</small>');
  });
});

describe('located row errors', () => {
  it('a NaN that reaches training names the source file, line and column, through shuffle and split', async () => {
    const root = tempDir();
    process.env.MLPIPE_HOME = join(root, 'home');
    const env = testEnv(root);
    const dir = tempDir();
    const lines = ['a,b,y'];
    for (let i = 0; i < 40; i++) lines.push(`${i},${i === 17 ? '' : i * 2},${i % 2}`);
    lines.splice(5, 0, 'bad,row,here'); // dropped: every later line number moves down by one
    writeFileSync(join(dir, 'd.csv'), lines.join('\n'));
    const schema = {
      label: 'y',
      columns: [
        { name: 'a', type: 'number' },
        { name: 'b', type: 'number', nullable: true },
        { name: 'y', type: 'integer' },
      ],
    };
    const c = await collectCore(collectInput({ source: { type: 'csv', path: 'd.csv' }, schema, onBadRows: 'drop' }, dir), env);
    expect(c.outputs.droppedRows).toBe(1);
    const p = await preprocessCore(
      stageInput(
        'preprocess',
        {
          steps: [
            { type: 'shuffle', seed: 3 },
            { type: 'split', train: 0.9, test: 0.1, seed: 1 },
          ],
        },
        { dataset: ref(c, 'dataset') },
      ),
      env,
    );
    const prepared = decodeDataset(await env.store.get(ref(p, 'dataset')));
    expect(prepared.origin?.at.length).toBe(40);
    const train = {
      model: { layers: [{ type: 'dense', units: 2, activation: 'softmax' }] },
      optimizer: { type: 'adam' },
      loss: 'sparseCategoricalCrossentropy',
      epochs: 1,
    };
    expect(
      Array.from(prepared.splits!.train!).some((r) => prepared.origin!.at[r] === 20),
      'the seeded split keeps the NaN row in train',
    ).toBe(true);
    const run = trainCore(stageInput('train', train, { dataset: ref(p, 'dataset') }), env);
    // the header is line 1 and the dropped row line 6, so the value of i = 17 sits on line 20
    await expect(run).rejects.toThrow(
      /train stage "train": d\.csv line 20, column "b": the feature is missing \(NaN\) when it reaches training.*add an impute step/,
    );
    await expect(run).rejects.toMatchObject({ type: 'InvalidInput' });
    // the dropped row is counted in the report's data section too
    expect(readFileSync(reportPath('test/run-1'), 'utf8')).toContain('40 rows · 1 dropped as bad (onBadRows: drop)');
  });

  it('evaluation and a missing label name their source rows too', async () => {
    const root = tempDir();
    process.env.MLPIPE_HOME = join(root, 'home');
    const env = testEnv(root);
    const dir = tempDir();
    const schema = {
      label: 'y',
      columns: [
        { name: 'a', type: 'number', nullable: true },
        { name: 'y', type: 'category', values: ['even', 'odd'] },
      ],
    };
    const steps = [
      { type: 'split', train: 0.5, test: 0.5, seed: 2 },
      { type: 'labelEncode', columns: ['y'] },
    ];
    const prepare = async (name: string, missingAt: (i: number) => boolean) => {
      const lines = ['a,y', ...Array.from({ length: 20 }, (_, i) => `${missingAt(i) ? '' : i},${i % 2 ? 'odd' : 'even'}`)];
      writeFileSync(join(dir, name), lines.join('\n'));
      const c = await collectCore(collectInput({ source: { type: 'csv', path: name }, schema }, dir), env);
      return ref(await preprocessCore(stageInput('preprocess', { steps }, { dataset: ref(c, 'dataset') }), env), 'dataset');
    };
    const clean = await prepare('clean.csv', () => false);
    const holes = await prepare('holes.csv', (i) => i % 3 === 0);
    const train = {
      model: { layers: [{ type: 'dense', units: 2, activation: 'softmax' }] },
      optimizer: { type: 'adam' },
      loss: 'sparseCategoricalCrossentropy',
      epochs: 1,
    };
    const t = await trainCore(stageInput('train', train, { dataset: clean }), env);
    // the first test row of holes.csv with a missing `a` is the one named
    const h = decodeDataset(await env.store.get(holes));
    const firstLine = Array.from(h.splits!.test!)
      .map((r) => h.origin!.at[r]!)
      .find((line) => (line - 2) % 3 === 0);
    const e = evaluateCore(stageInput('evaluate', { metrics: ['accuracy'] }, { dataset: holes, model: ref(t, 'model') }), env);
    await expect(e).rejects.toThrow(
      new RegExp(
        `evaluate stage "evaluate": holes\\.csv line ${firstLine}, column "a": the feature is missing \\(NaN\\) when it reaches evaluation`,
      ),
    );

    // a regression label left missing: named where it reaches training
    const r = ['a,y', '1,1', '2,', '3,3'].join('\n');
    writeFileSync(join(dir, 'r.csv'), r);
    const rs = {
      label: 'y',
      columns: [
        { name: 'a', type: 'number' },
        { name: 'y', type: 'number', nullable: true },
      ],
    };
    const rc = await collectCore(collectInput({ source: { type: 'csv', path: 'r.csv' }, schema: rs }, dir), env);
    const reg = { model: { layers: [{ type: 'dense', units: 1 }] }, optimizer: { type: 'adam' }, loss: 'meanSquaredError', epochs: 1 };
    await expect(trainCore(stageInput('train', reg, { dataset: ref(rc, 'dataset') }), env)).rejects.toThrow(
      /r\.csv line 3, column "y": the label is missing \(NaN\) when it reaches training/,
    );
  });

  it('image-folder rows are named by their file', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const root = tempDir();
    process.env.MLPIPE_HOME = join(root, 'home');
    await writeImageFolder(await loadMnist(12), join(dir, 'digits'));
    const input = collectInput(
      { source: { type: 'imageFolder', path: 'digits', size: [28, 28] }, expect: [{ column: 'label', values: [100] }] },
      dir,
    );
    // no label is 100: the first five rows (class by class, files in name order) are named by path
    await expect(collectCore(input, testEnv(root))).rejects.toThrow(
      /column "label" values: expected one of 100, observed other values: .*; 12 rows, e\.g\. (digits\/\d\/\d+\.png, column "label"; ){4}digits\/\d\/\d+\.png, column "label"\./,
    );
  });

  it('Parquet rows are named by their row number', async () => {
    const dir = tempDir();
    const root = tempDir();
    process.env.MLPIPE_HOME = join(root, 'home');
    writeFileSync(
      join(dir, 'd.parquet'),
      Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'x', data: [1, 2, null, 4], type: 'DOUBLE' }] })),
    );
    const input = collectInput({ source: { type: 'parquet', path: 'd.parquet' }, expect: [{ column: 'x', nullShare: { max: 0 } }] }, dir);
    await expect(collectCore(input, testEnv(root))).rejects.toThrow(
      /column "x" nullShare: expected at most 0 missing, observed 0\.25 missing \(1 of 4 rows\); 1 row, e\.g\. d\.parquet row 3, column "x"/,
    );
  });
});

// `mlpipe validate` checks column names against a local csv or Parquet file's header (csv: its
// first line; Parquet: its footer), reading no rows. (The csv cases are also in the invalid
// corpus: test/fixtures/invalid/source-header-*.yaml.)
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { headerColumns } from '../../src/spec/source-columns.ts';
import { validateFile } from '../../src/spec/validate.ts';

const pipeline = (source: string, label: string, stepColumns: string[]) => `apiVersion: mlpipe/v1
metadata: { name: t }
stages:
  data:
    type: collect
    source: ${source}
    schema: { label: ${label} }
  prep:
    type: preprocess
    needs: [data]
    steps:
      - { type: standardize, columns: [${stepColumns.join(', ')}] }
      - { type: split, train: 0.8, test: 0.2 }
`;

async function problems(dir: string, yaml: string): Promise<string[]> {
  writeFileSync(join(dir, 'p.yaml'), yaml);
  const r = await validateFile(join(dir, 'p.yaml'));
  return r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}${d.hint ? ` (hint: ${d.hint})` : ''}`);
}

/** A Parquet file whose row data is overwritten with zeros: only its footer can be read. */
function footerOnlyParquet(file: string): void {
  const buf = Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'alcohol', data: Array.from({ length: 500 }, (_, i) => i / 7), type: 'DOUBLE' },
        { name: 'malic_acid', data: Array.from({ length: 500 }, (_, i) => i / 3), type: 'DOUBLE' },
        { name: 'cultivar', data: Array.from({ length: 500 }, (_, i) => `c${i % 3}`), type: 'STRING' },
      ],
    }),
  );
  const footer = buf.readUInt32LE(buf.length - 8);
  buf.fill(0, 4, buf.length - footer - 8);
  writeFileSync(file, buf);
}

describe('validate: column names from a local source file header', () => {
  it('names a mistyped label and step column of a Parquet source from its footer alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-srccols-'));
    footerOnlyParquet(join(dir, 'wine.parquet'));
    expect(headerColumns(join(dir, 'wine.parquet'), 'parquet')).toEqual(['alcohol', 'malic_acid', 'cultivar']);
    const src = '{ type: parquet, path: wine.parquet }';
    expect(await problems(dir, pipeline(src, 'cultivr', ['alcohol', 'malic']))).toEqual([
      '7:22 collect.label label `cultivr` is not a column of wine.parquet (hint: did you mean `cultivar`?)',
      '12:49 preprocess.column column `malic` is not in the dataset at this step (hint: did you mean `malic_acid`?)',
    ]);
    expect(await problems(dir, pipeline(src, 'cultivar', ['alcohol', 'malic_acid']))).toEqual([]);
  });

  it('reads only a csv header line: rows that would fail the run do not matter, an absent file is left to the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-srccols-'));
    writeFileSync(join(dir, 'd.csv'), `x;"y z";label\n${'1;"unclosed\n'.repeat(10_000)}`);
    expect(headerColumns(join(dir, 'd.csv'), 'csv', ';')).toEqual(['x', 'y z', 'label']);
    const src = '{ type: csv, path: d.csv, delimiter: ";" }';
    expect(await problems(dir, pipeline(src, 'label', ['x', '"y z"']))).toEqual([]);
    expect(await problems(dir, pipeline(src, 'lable', ['x', 'yz']))).toEqual([
      '7:22 collect.label label `lable` is not a column of d.csv (hint: did you mean `label`?)',
      '12:43 preprocess.column column `yz` is not in the dataset at this step (hint: did you mean `y z`?)',
    ]);
    expect(await problems(dir, pipeline('{ type: csv, path: later.csv }', 'lable', ['yz']))).toEqual([]);
    expect(readFileSync(join(dir, 'p.yaml'), 'utf8')).toContain('later.csv');
  });
});

// The new collect sources in the spec: Parquet/Arrow files and URLs and image folders read their
// data every time (the step cache off unless a sha256 pins a file), and a folder may not leave the
// pipeline's directory.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compiler/compile.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateLoaded } from '../../src/spec/validate.ts';

const spec = (source: string) => `apiVersion: mlpipe/v1
metadata: { name: t }
stages:
  data:
    type: collect
    source: ${source}
`;

function check(source: string) {
  return validateLoaded(loadSpecText('t.yaml', spec(source)), {});
}

function dataCache(source: string) {
  const r = check(source);
  if (!r.valid) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return compile(r.valid, { baseDir: '/base' }).nodes.find((n) => n.id === 'data')!.cache;
}

describe('collect sources in the spec', () => {
  it('turns the step cache off for parquet, arrow and image folders unless a sha256 pins the file', () => {
    expect(dataCache('{ type: parquet, path: d.parquet }')).toEqual({ enabled: false });
    expect(dataCache('{ type: arrow, url: "https://h.example/d.arrow" }')).toEqual({ enabled: false });
    expect(dataCache('{ type: imageFolder, path: data/digits, size: [28, 28] }')).toEqual({ enabled: false });
    expect(dataCache(`{ type: parquet, path: d.parquet, sha256: ${'a'.repeat(64)} }`)).toEqual({ enabled: true });
  });

  it('refuses a parquet source with both or neither of path and url, and an image folder outside the directory', () => {
    const codes = (source: string) => check(source).diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`);
    expect(codes('{ type: parquet }')).toEqual(['6:13 collect.path-or-url']);
    expect(codes('{ type: imageFolder, path: ../photos, size: [28, 28] }')).toEqual(['6:40 collect.path-escape']);
    expect(codes('{ type: imageFolder, path: data, size: [28] }').map((c) => c.split(' ')[1])).toEqual(['schema.min-items']);
  });
});

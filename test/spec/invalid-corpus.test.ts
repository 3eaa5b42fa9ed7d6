import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateFile } from '../../src/spec/validate.ts';

// Each file in the corpus is one mistake a user makes; expected.json holds the exact located
// message it must give (reviewed by hand when a fixture is added).
const dir = new URL('../fixtures/invalid/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<string, string[]>;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('invalid pipeline corpus', () => {
  it('has at least 40 fixtures, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  it.each(files)('%s gives its located message', async (f) => {
    const r = await validateFile(new URL(f, dir).pathname);
    expect(r.valid).toBeUndefined();
    const got = r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}${d.hint ? ` (hint: ${d.hint})` : ''}`);
    expect(got).toEqual(expected[f]);
  });
});

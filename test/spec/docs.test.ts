import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generatedDocs } from '../../src/spec/gen-docs.ts';

it('docs/spec.md is current with the schema (run `npm run gen:docs`)', () => {
  expect(readFileSync(new URL('../../docs/spec.md', import.meta.url), 'utf8')).toBe(generatedDocs());
});

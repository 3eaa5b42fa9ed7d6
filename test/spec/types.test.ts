import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generatedTypes } from '../../src/spec/gen-types.ts';

it('src/spec/types.gen.ts is what the schema generates (run `npm run gen:types` after a schema change)', async () => {
  const committed = readFileSync(new URL('../../src/spec/types.gen.ts', import.meta.url), 'utf8');
  expect(committed).toBe(await generatedTypes());
});

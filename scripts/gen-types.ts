/**
 * Writes src/spec/types.gen.ts from schema/pipeline.schema.json (the source of truth).
 * `npm run gen:types` after changing the schema; test/spec/types.test.ts fails when they drift.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedTypes } from '../src/spec/gen-types.ts';

const out = fileURLToPath(new URL('../src/spec/types.gen.ts', import.meta.url));
writeFileSync(out, await generatedTypes());
console.log(`wrote ${out}`);

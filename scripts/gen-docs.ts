/** Writes docs/spec.md from the schema (see src/spec/gen-docs.ts). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedDocs } from '../src/spec/gen-docs.ts';

const out = fileURLToPath(new URL('../docs/spec.md', import.meta.url));
writeFileSync(out, generatedDocs());
console.log(`wrote ${out}`);

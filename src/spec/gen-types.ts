import { compile } from 'json-schema-to-typescript';
import { pipelineSchema } from './schema.ts';

/** The TypeScript source that the schema generates (what src/spec/types.gen.ts must hold). */
export async function generatedTypes(): Promise<string> {
  // `discriminator` is ajv's keyword, unknown to the generator: drop it from a copy.
  const schema = JSON.parse(JSON.stringify(pipelineSchema, (k, v) => (k === 'discriminator' ? undefined : v)));
  return compile(schema, 'Pipeline', {
    bannerComment: '/* Generated from schema/pipeline.schema.json by `npm run gen:types`. Do not edit. */',
    additionalProperties: false,
    unreachableDefinitions: true,
    // minItems would become tuple types ([T, ...T[]]); the schema checks lengths at run time.
    ignoreMinAndMaxItems: true,
    style: { singleQuote: true, printWidth: 120 },
    format: true,
  });
}

import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { STAGE_KINDS } from '../../src/core/plan.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { descriptionOf, generatedDocs, stageExampleFile, yamlValue } from '../../src/spec/gen-docs.ts';
import { defs, exampleOf, fieldRows, root, type FieldRow } from '../../src/spec/schema-fields.ts';
import { validateFile } from '../../src/spec/validate.ts';

const repo = new URL('../../', import.meta.url);
const specMd = readFileSync(new URL('docs/spec.md', repo), 'utf8');

it('docs/spec.md is current with the schema and the examples (run `npm run gen:docs`)', () => {
  expect(specMd).toBe(generatedDocs());
});

describe('the spec reference', () => {
  // Every table of the reference: the pipeline's, each definition's, each alternative's.
  const tables: { where: string; rows: FieldRow[] }[] = [{ where: 'Pipeline', rows: fieldRows(root, '') }];
  for (const [name, s] of Object.entries(defs)) {
    if (s.properties || s.allOf) tables.push({ where: name, rows: fieldRows(s, `/$defs/${name}`) });
    s.oneOf?.forEach((alt, i) => {
      if (!alt.$ref && alt.properties) tables.push({ where: `${name}/oneOf/${i}`, rows: fieldRows(alt, `/$defs/${name}/oneOf/${i}`) });
    });
  }
  const rows = tables.flatMap((t) => t.rows.map((r) => ({ ...r, where: t.where })));

  it('lists the nested fields of every object, not a bare "object"', () => {
    for (const path of [
      'earlyStopping.patience',
      'checkpoint.everyEpochs',
      'warmStart.model',
      'gates[].metric',
      'strategy.weight',
      'server.port',
      'objective.direction',
      'onBreach.action',
      'drift[].threshold',
      'every[].offset',
    ]) {
      expect(specMd, path).toContain(`| \`${path}\` |`);
    }
  });

  it('gives every field a description and an example', () => {
    const undescribed = rows.filter((r) => !descriptionOf(r.schema)).map((r) => `${r.where}: ${r.path}`);
    const withoutExample = rows.filter((r) => exampleOf(r.schema) === undefined).map((r) => `${r.where}: ${r.path}`);
    expect(undescribed).toEqual([]);
    expect(withoutExample).toEqual([]);
  });

  it('gives only examples the schema accepts', () => {
    const ajv = new Ajv2020({ strict: true, strictRequired: false, discriminator: true, allowUnionTypes: true });
    ajv.addSchema(root);
    const id = root.$id as string;
    const check = (pointer: string, example: unknown) => {
      const validate = ajv.getSchema(`${id}#${pointer}`)!;
      return validate(example) ? [] : [`${pointer}: ${yamlValue(example)}: ${ajv.errorsText(validate.errors)}`];
    };
    const bad = rows.flatMap((r) => check(r.pointer, exampleOf(r.schema)));
    for (const [name, s] of Object.entries(defs)) {
      const e = exampleOf(s);
      if (e !== undefined && !name.endsWith('Stage')) bad.push(...check(`/$defs/${name}`, e));
      s.oneOf?.forEach((alt, i) => {
        if (!alt.$ref && exampleOf(alt) !== undefined) bad.push(...check(`/$defs/${name}/oneOf/${i}`, exampleOf(alt)));
      });
    }
    expect(bad).toEqual([]);
  });
});

describe.each(STAGE_KINDS)('the %s example pipeline', (kind) => {
  const file = new URL(stageExampleFile(kind), repo).pathname;

  it('is valid, compiles, has a stage of its kind, and is embedded in docs/spec.md', async () => {
    const r = await validateFile(file);
    expect(r.diagnostics).toEqual([]);
    const { plan } = await compileFile(file);
    expect(plan.nodes.map((n) => n.kind)).toContain(kind);
    expect(specMd).toContain(readFileSync(file, 'utf8').trimEnd());
  });
});

/**
 * docs/spec.md, generated from the schema (every field, nested ones too, with type, default,
 * description and example), from the stage kinds' descriptors (inputs, outputs) and from one complete
 * example pipeline per stage kind (docs/examples/stages/<kind>.yaml), so the reference cannot
 * drift from what mlpipe accepts. `npm run gen:docs` rewrites it; test/spec/docs.test.ts fails
 * when it is stale and validates every example.
 */
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { STAGE_KINDS, type StageKind } from '../core/plan.ts';
import { STAGE_DESCRIPTORS, stageOutputs } from './stages/index.ts';
import type { Stage } from './types.gen.ts';
import type { InputSpec } from './stages/descriptor.ts';
import { defs, deref, exampleOf, fieldRows, refName, root, SHARED_MIXINS, type FieldRow, type S } from './schema-fields.ts';

/** Where the example pipeline of a stage kind lives (relative to the repository root). */
export function stageExampleFile(kind: StageKind): string {
  return `docs/examples/stages/${kind}.yaml`;
}

/** The stage kind a definition describes (`TrainStage` → `train`), from the `Stage` union. */
const kindOfDef = new Map(
  (defs.Stage!.oneOf ?? []).map((alt) => [refName(alt.$ref!), defs[refName(alt.$ref!)]!.properties!.type!.const as StageKind]),
);

/**
 * Definitions only ever included through `allOf` (`TrainConfig`, `FileOrUrl`): their fields are
 * listed in the sections that include them, so they get no section of their own.
 */
const includedOnly = (() => {
  const asType = new Set<string>();
  const asPart = new Set<string>();
  const visit = (v: unknown, inAllOf: boolean): void => {
    if (Array.isArray(v)) return v.forEach((x) => visit(x, inAllOf));
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') (inAllOf ? asPart : asType).add(refName(x));
      else visit(x, k === 'allOf');
    }
  };
  visit(root, false);
  return new Set([...asPart].filter((n) => !asType.has(n) && !SHARED_MIXINS.has(n)));
})();

function link(name: string): string {
  return `[${name}](#${name.toLowerCase()})`;
}

/** A value as it is written in YAML (flow style, one line). */
export function yamlValue(v: unknown): string {
  return stringify(v, { collectionStyle: 'flow', lineWidth: 0 }).trim();
}

function code(v: unknown): string {
  return `\`${yamlValue(v)}\``;
}

function typeOf(s: S): string {
  if (s.$ref) return link(refName(s.$ref));
  if (s.const !== undefined) return code(s.const);
  if (s.enum) return s.enum.map(code).join(' | ');
  if (s.oneOf && s.discriminator) return `object, by \`${s.discriminator.propertyName}\``;
  if (s.oneOf) return s.oneOf.map(typeOf).join(' or ');
  if (s.type === 'array' && s.items) return `list of ${typeOf(s.items)}`;
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    const keys = s.propertyNames?.$ref ? ` (keys: ${link(refName(s.propertyNames.$ref))})` : '';
    return `map of ${typeOf(s.additionalProperties)}${keys}`;
  }
  if (Array.isArray(s.type)) return s.type.join(' | ');
  if (s.type) return s.type;
  return s.properties ? 'object' : 'any JSON';
}

const RANGE: [string, string][] = [
  ['minimum', '≥'],
  ['exclusiveMinimum', '>'],
  ['maximum', '≤'],
  ['exclusiveMaximum', '<'],
];

/** Allowed values beyond the type: ranges, sizes, patterns. */
function constraints(s: S): string {
  const c: string[] = [];
  for (const [k, sym] of RANGE) if (s[k] !== undefined) c.push(`${sym} ${String(s[k])}`);
  if (s.minItems !== undefined) c.push(`at least ${String(s.minItems)} item${s.minItems === 1 ? '' : 's'}`);
  if (s.maxItems !== undefined) c.push(`at most ${String(s.maxItems)} items`);
  if (s.uniqueItems) c.push('no duplicates');
  if (s.minLength !== undefined) c.push(s.minLength === 1 ? 'not empty' : `at least ${String(s.minLength)} characters`);
  if (s.maxLength !== undefined) c.push(`at most ${String(s.maxLength)} character${s.maxLength === 1 ? '' : 's'}`);
  if (s.minProperties !== undefined) c.push(`at least ${String(s.minProperties)} entr${s.minProperties === 1 ? 'y' : 'ies'}`);
  if (typeof s.pattern === 'string') c.push(`matching \`${s.pattern}\``);
  const items = s.type === 'array' && s.items && !s.items.$ref ? constraints(s.items) : '';
  if (items) c.push(`each ${items.slice(2, -1)}`);
  return c.length ? ` (${c.join(', ')})` : '';
}

function cell(text: string | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A field's own description, else that of the definition it refers to. */
export function descriptionOf(s: S): string | undefined {
  return s.description ?? (s.$ref ? deref(s).description : undefined);
}

function defaultOf(s: S): unknown {
  return s.default !== undefined ? s.default : s.$ref ? deref(s).default : undefined;
}

function table(rows: FieldRow[]): string[] {
  const lines = ['| field | type | required | default | description | example |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const where = r.only ? `With ${r.only}. ` : '';
    const def = defaultOf(r.schema);
    const example = exampleOf(r.schema);
    lines.push(
      `| \`${r.path}\` | ${cell(typeOf(r.schema) + constraints(r.schema))} | ${r.required ? 'yes' : ''} ` +
        `| ${def === undefined ? '' : cell(code(def))} | ` +
        `${cell(where + (descriptionOf(r.schema) ?? ''))} | ${example === undefined ? '' : cell(code(example))} |`,
    );
  }
  return lines;
}

function alternativeTitle(alt: S, tag: string | undefined): string {
  const t = tag ? alt.properties?.[tag] : undefined;
  if (t) return t.const !== undefined ? code(t.const) : (t.enum ?? []).map(code).join(' or ');
  return alt.properties ? 'object' : typeOf(alt);
}

function alternatives(name: string, s: S): string[] {
  const tag = s.discriminator?.propertyName;
  const out = [tag ? `One of, by \`${tag}\`:` : 'One of:', ''];
  s.oneOf!.forEach((alt, i) => {
    if (alt.$ref || !alt.properties) {
      out.push(`- ${typeOf(alt)}${constraints(alt)}`);
      return;
    }
    out.push('', `#### ${name}: ${alternativeTitle(alt, tag)}`, '');
    if (alt.description) out.push(alt.description, '');
    out.push(...table(fieldRows(alt, `/$defs/${name}/oneOf/${i}`)), '');
    const example = exampleOf(alt);
    if (example !== undefined) out.push(`Example: ${code(example)}`, '');
  });
  return out;
}

function stageExample(kind: StageKind): string[] {
  const file = stageExampleFile(kind);
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').trimEnd();
  return [
    `A complete pipeline with a \`${kind}\` stage ([${file}](${file.replace('docs/', '')}), validated by the tests):`,
    '',
    '```yaml',
    text,
    '```',
    '',
  ];
}

function section(name: string, s: S): string[] {
  const out = [`### ${name}`, ''];
  const kind = kindOfDef.get(name);
  if (s.description) out.push(s.description, '');
  const mixins = (s.allOf ?? []).filter((x) => x.$ref && SHARED_MIXINS.has(refName(x.$ref))).map((x) => link(refName(x.$ref!)));
  if (mixins.length) out.push(`Besides these fields, every stage takes those of ${mixins.join(', ')}.`, '');
  if (s.properties || s.allOf) out.push(...table(fieldRows(s, `/$defs/${name}`)), '');
  if (s.oneOf && !s.properties) out.push(...alternatives(name, s), '');
  if (s.enum) out.push(`Values: ${s.enum.map(code).join(', ')}`, '');
  if (s.pattern && !s.properties) out.push(`Pattern: \`${String(s.pattern)}\``, '');
  if (s.default !== undefined) out.push(`Default: ${code(s.default)}`, '');
  if (!s.properties && !s.allOf && !s.oneOf && exampleOf(s) !== undefined) out.push(`Example: ${code(exampleOf(s))}`, '');
  if (kind) out.push(...stageExample(kind));
  return out;
}

function stageTable(): string[] {
  const lines = ['| kind | inputs | outputs | step cache |', '| --- | --- | --- | --- |'];
  for (const kind of STAGE_KINDS) {
    const inputs = Object.entries(STAGE_DESCRIPTORS[kind].inputs)
      .map(([k, v]) => `\`${k}\` (${v.kind}${inputNote(v)})`)
      .join(', ');
    const sample: Record<StageKind, Record<string, unknown>> = {
      collect: { expect: [{}] },
      preprocess: {},
      train: { metrics: ['<m>'] },
      evaluate: { metrics: ['<metric>'] },
      predict: {},
      optimize: {},
      deploy: {},
      monitor: {},
      expect: { expect: [{}] },
      activity: { outputs: { '<name>': '<type>' } },
    };
    // placeholders for the fields outputs follow from, not a valid stage
    const outputs = Object.entries(stageOutputs({ type: kind, ...sample[kind] } as unknown as Stage))
      .map(([k, v]) => `\`${k}\` (${v})`)
      .join(', ');
    const cache = STAGE_DESCRIPTORS[kind].cacheable ? 'yes' : 'never: runs every time';
    lines.push(
      `| ${kind} | ${inputs || (kind === 'activity' ? 'any upstream output named in `inputs`' : 'none')} | ${outputs} | ${cache} |`,
    );
  }
  return lines;
}

export function generatedDocs(): string {
  const intro = readFileSync(new URL('../../docs/spec-intro.md', import.meta.url), 'utf8').trimEnd();
  const out = [
    '<!-- Generated by `npm run gen:docs` from docs/spec-intro.md, schema/pipeline.schema.json, ' +
      'src/spec/stages/ and docs/examples/stages/. Do not edit. -->',
    '',
    intro,
    '',
    '## Stage inputs and outputs',
    '',
    'Inputs bind to the nearest upstream stage that produces the artifact (set `inputs:` when two are ' +
      'equally near). Outputs are what `stages.<name>.outputs.<key>` reads in `when` and `${…}`; `<m>` ' +
      'stands for each training metric, `<metric>` for each evaluation metric; a collect stage with ' +
      '`expect:` rules also outputs `expectations` (`passed`, `failed`, `results`).',
    '',
    ...stageTable(),
    '',
    '## Reference',
    '',
    'Every field, nested ones too: `a.b` is field `b` of the object in `a`, `a[].b` field `b` of each ' +
      'item of the list `a`, `a.<name>.b` field `b` of each entry of the map `a`. A name in the type ' +
      'column links to its own section; ranges and sizes follow the type. Each stage kind ends with a ' +
      'complete example pipeline.',
    '',
    '### Pipeline',
    '',
    ...table(fieldRows(root, '')),
    '',
  ];
  for (const [name, s] of Object.entries(defs)) if (!includedOnly.has(name)) out.push(...section(name, s));
  return (
    out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

function inputNote(v: InputSpec): string {
  if (v.onlyNamed) return ', optional, only when named in `inputs`';
  if (v.unlessNamed) return `, unless \`${v.unlessNamed}\` is given`;
  return v.required ? '' : ', optional';
}

/**
 * The pipeline schema as a reference reads it: every field of a definition, nested ones too
 * (inline objects, lists of objects, maps, the alternatives of an inline `oneOf`), each with the
 * JSON pointer of its schema, and an example value for any schema. src/spec/gen-docs.ts renders
 * these; test/spec/docs.test.ts checks every example against the schema it illustrates.
 */
import { pipelineSchema } from './schema.ts';

export type S = Record<string, unknown> & {
  $ref?: string;
  properties?: Record<string, S>;
  required?: string[];
  allOf?: S[];
  oneOf?: S[];
  enum?: unknown[];
  const?: unknown;
  type?: string | string[];
  items?: S;
  additionalProperties?: S | boolean;
  propertyNames?: S;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  discriminator?: { propertyName: string };
};

export const root = pipelineSchema as S;
export const defs = root.$defs as Record<string, S>;

export function refName(ref: string): string {
  return ref.replace('#/$defs/', '');
}

export function deref(s: S): S {
  return s.$ref ? defs[refName(s.$ref)]! : s;
}

/** One row of a reference table. */
export interface FieldRow {
  /** `epochs`, `earlyStopping.patience`, `gates[].metric`, `strategy.weight` */
  path: string;
  schema: S;
  /** JSON pointer of `schema` in the schema file. */
  pointer: string;
  required: boolean;
  /** Set when the field exists only in some alternatives, e.g. "`type: canary`". */
  only?: string;
}

/** Mixins listed once in their own section instead of in every table that includes them. */
export const SHARED_MIXINS = new Set(['StageCommon']);

interface Prop {
  key: string;
  schema: S;
  pointer: string;
}

/** An object's properties with those of its `allOf` parts (its own definition of a field wins). */
function ownProps(s: S, pointer: string): { props: Prop[]; required: Set<string> } {
  const byKey = new Map<string, Prop>();
  const required = new Set<string>();
  const collect = (x: S, ptr: string) => {
    if (x.$ref) {
      const name = refName(x.$ref);
      if (SHARED_MIXINS.has(name)) return;
      return collect(defs[name]!, `/$defs/${name}`);
    }
    for (const r of x.required ?? []) required.add(r);
    // its own fields first (the kind's `type`), then those it includes, unless it redefines them
    for (const [key, v] of Object.entries(x.properties ?? {})) {
      if (!byKey.has(key)) byKey.set(key, { key, schema: v, pointer: `${ptr}/properties/${esc(key)}` });
    }
    (x.allOf ?? []).forEach((sub, i) => collect(sub, `${ptr}/allOf/${i}`));
  };
  collect(s, pointer);
  return { props: [...byKey.values()], required };
}

function esc(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Every field of the object schema at `pointer`, nested fields after their parent. */
export function fieldRows(s: S, pointer: string, prefix = '', only?: string): FieldRow[] {
  const out: FieldRow[] = [];
  const { props, required } = ownProps(s, pointer);
  for (const p of props) {
    const path = prefix + p.key;
    out.push({ path, schema: p.schema, pointer: p.pointer, required: required.has(p.key), ...(only ? { only } : {}) });
    out.push(...nestedRows(p.schema, p.pointer, path, only));
  }
  return out;
}

/** Rows for what an inline schema holds; a $ref is documented in its own section instead. */
function nestedRows(s: S, pointer: string, path: string, only: string | undefined): FieldRow[] {
  if (s.$ref) return [];
  const out: FieldRow[] = [];
  if (s.properties || s.allOf) out.push(...fieldRows(s, pointer, `${path}.`, only));
  if (s.oneOf) out.push(...alternativeRows(s, pointer, path, only));
  if (s.items && typeof s.items === 'object') out.push(...nestedRows(s.items, `${pointer}/items`, `${path}[]`, only));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    out.push(...nestedRows(s.additionalProperties, `${pointer}/additionalProperties`, `${path}.<name>`, only));
  }
  return out;
}

/** The fields of inline alternatives, merged by path; a field not in all of them says where. */
function alternativeRows(s: S, pointer: string, path: string, only: string | undefined): FieldRow[] {
  const tag = s.discriminator?.propertyName;
  const merged = new Map<string, { rows: FieldRow[]; labels: string[] }>();
  s.oneOf!.forEach((alt, i) => {
    if (alt.$ref) return;
    const label = alternativeLabel(alt, tag);
    for (const r of nestedRows(alt, `${pointer}/oneOf/${i}`, path, undefined)) {
      const m = merged.get(r.path) ?? { rows: [], labels: [] };
      m.rows.push(r);
      if (label) m.labels.push(label);
      merged.set(r.path, m);
    }
  });
  return [...merged.values()].map(({ rows, labels }) => {
    const first = rows[0]!;
    const everywhere = rows.length === s.oneOf!.length;
    const where = [only, everywhere ? '' : labels.join(', '), first.only].filter(Boolean).join('; ');
    return {
      ...first,
      schema: rows.length > 1 ? mergeSchemas(rows.map((r) => r.schema)) : first.schema,
      required: rows.every((r) => r.required),
      ...(where ? { only: where } : {}),
    };
  });
}

function alternativeLabel(alt: S, tag: string | undefined): string {
  const t = tag ? alt.properties?.[tag] : undefined;
  if (t) return `\`${tag}: ${(t.const !== undefined ? [t.const] : (t.enum ?? [])).map(String).join(' | ')}\``;
  return alt.properties ? 'the object form' : '';
}

/** One schema for a field that differs between alternatives: a union of their values. */
function mergeSchemas(all: S[]): S {
  if (all.every((x) => JSON.stringify(x) === JSON.stringify(all[0]))) return all[0]!;
  if (all.every((x) => x.const !== undefined || x.enum)) {
    const values = all.flatMap((x) => (x.const !== undefined ? [x.const] : x.enum!));
    const description = all.find((x) => x.description)?.description;
    return { enum: [...new Set(values)], ...(description ? { description } : {}) };
  }
  return { oneOf: all };
}

/**
 * An example value: the schema's own `examples`, else one that follows from it (a constant, an
 * allowed value, the other boolean, a list or object of examples). Undefined when nothing says.
 */
export function exampleOf(s: S): unknown {
  if (s.examples?.length) return s.examples[0];
  if (s.$ref) return exampleOf(deref(s));
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum.find((v) => v !== s.default) ?? s.enum[0];
  if (s.type === 'boolean') return s.default !== true;
  if (s.default !== undefined) return s.default;
  if (s.oneOf) {
    for (const alt of s.oneOf) {
      const e = exampleOf(alt);
      if (e !== undefined) return e;
    }
    return undefined;
  }
  if (s.type === 'array' && s.items) {
    const e = exampleOf(s.items);
    return e === undefined ? undefined : [e];
  }
  if (s.properties || s.allOf) return composedExample(s);
  return undefined;
}

/** An object of its required fields' examples (or its first field's, when none is required). */
function composedExample(s: S): Record<string, unknown> | undefined {
  const { props, required } = ownProps(s, '');
  const chosen = props.filter((p) => required.has(p.key));
  if (chosen.length === 0 && props[0]) chosen.push(props[0]);
  const out: Record<string, unknown> = {};
  for (const p of chosen) {
    const e = exampleOf(p.schema);
    if (e === undefined) return undefined;
    out[p.key] = e;
  }
  return out;
}

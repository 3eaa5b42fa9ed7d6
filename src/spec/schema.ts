/**
 * The pipeline JSON Schema (schema/pipeline.schema.json, the one source of truth) compiled with
 * ajv in strict mode, and ajv's errors turned into located, plain-language diagnostics.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { closest, distance } from 'fastest-levenshtein';
import { type Diagnostic, parsePointer } from './diagnostics.ts';
import type { LoadedSpec } from './load.ts';

export const SCHEMA_PATH = new URL('../../schema/pipeline.schema.json', import.meta.url);
export const pipelineSchema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as SchemaNode;

type SchemaNode = {
  $ref?: string;
  allOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  description?: string;
  const?: unknown;
  enum?: unknown[];
  [k: string]: unknown;
};

let validator: ValidateFunction | undefined;

function getValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({
      strict: true,
      strictRequired: false, // `required` may name properties that an allOf branch defines
      allErrors: true,
      verbose: true,
      discriminator: true,
      allowUnionTypes: true,
    });
    validator = ajv.compile(pipelineSchema);
  }
  return validator;
}

/** Validates spec data against the schema. `ignore(path)` drops errors at runtime-template values. */
export function schemaDiagnostics(spec: LoadedSpec, data: unknown, ignore: (ptr: string) => boolean = () => false): Diagnostic[] {
  const validate = getValidator();
  if (validate(data)) return [];
  const errors = pruneErrors((validate.errors ?? []).filter((e) => !ignore(e.instancePath)));
  return errors.map((e) => toDiagnostic(spec, e));
}

/**
 * ajv reports every failed branch of a `oneOf`: keep the `oneOf` error and drop its branches'
 * errors, so the user reads one message per place instead of a cascade.
 */
function pruneErrors(errors: ErrorObject[]): ErrorObject[] {
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const missing = new Set(
    errors
      .filter((e) => e.keyword === 'required')
      .map((e) => `${e.instancePath}|${(e.params as { missingProperty: string }).missingProperty}`),
  );
  const kept = errors
    .filter(
      (e) =>
        // a propertyNames error repeats the more specific error found inside it
        e.keyword !== 'propertyNames' &&
        // "has no `type`" repeats the required-field error for the same place
        !(e.keyword === 'discriminator' && missing.has(`${e.instancePath}|${(e.params as { tag: string }).tag}`)),
    )
    .filter(
      (e) => !oneOfs.some((o) => o !== e && e.schemaPath.startsWith(o.schemaPath + '/') && e.instancePath.startsWith(o.instancePath)),
    );
  const seen = new Set<string>();
  return kept.filter((e) => {
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function resolveRef(ref: string): SchemaNode {
  const name = ref.replace('#/$defs/', '');
  return (pipelineSchema.$defs as Record<string, SchemaNode>)[name]!;
}

/** All property names a schema allows, following $ref and allOf. */
export function allowedProperties(schema: SchemaNode): string[] {
  const s = schema.$ref ? resolveRef(schema.$ref) : schema;
  const names = new Set(Object.keys(s.properties ?? {}));
  for (const sub of s.allOf ?? []) for (const n of allowedProperties(sub)) names.add(n);
  return [...names].sort();
}

/** Values a discriminated oneOf accepts for its tag. */
function tagValues(schema: SchemaNode, tag: string): string[] {
  const out: string[] = [];
  for (const branch of schema.oneOf ?? []) {
    const b = branch.$ref ? resolveRef(branch.$ref) : branch;
    const p = b.properties?.[tag];
    if (p?.const !== undefined) out.push(String(p.const));
    for (const v of p?.enum ?? []) out.push(String(v));
  }
  return out;
}

export function suggest(word: string, options: readonly string[]): string | undefined {
  if (options.length === 0) return undefined;
  const best = closest(word, options as string[]);
  const limit = Math.max(2, Math.floor(word.length / 3));
  return distance(word.toLowerCase(), best.toLowerCase()) <= limit ? best : undefined;
}

/** `model.layers[0].units` from ['model', 'layers', '0', 'units']. */
export function dotted(path: readonly string[]): string {
  return path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function where(path: string[]): string {
  if (path.length === 0) return 'the pipeline';
  if (path[0] === 'stages' && path.length >= 2) {
    const rest = path.slice(2);
    return rest.length ? `\`${dotted(rest)}\` of stage \`${path[1]}\`` : `stage \`${path[1]}\``;
  }
  return `\`${dotted(path)}\``;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 37) + '…' : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${show(v)}`;
}

function toDiagnostic(spec: LoadedSpec, e: ErrorObject): Diagnostic {
  const path = parsePointer(e.instancePath);
  const parent = (e.parentSchema ?? {}) as SchemaNode;
  let at = path;
  let which: 'key' | 'value' = 'value';
  let code = `schema.${e.keyword}`;
  let message = `${where(path)} ${e.message ?? 'is invalid'}`;
  let hint: string | undefined;

  const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    // An error about a map key (a stage or param name), not about a value.
    const pos = spec.locate([...path, propertyName], 'key');
    return {
      file: spec.file,
      line: pos.line,
      column: pos.column,
      severity: 'error',
      code: 'schema.name',
      message:
        `name \`${propertyName}\` in ${where(path)} is not valid` + (parent.description ? `: ${parent.description}` : ` (${e.message})`),
      path: e.instancePath,
    };
  }
  switch (e.keyword) {
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const prop = String(
        (e.params as { additionalProperty?: string; unevaluatedProperty?: string }).additionalProperty ??
          (e.params as { unevaluatedProperty?: string }).unevaluatedProperty,
      );
      at = [...path, prop];
      which = 'key';
      code = 'schema.unknown-field';
      const isMapOfNames = path.length === 0 || parent.properties === undefined;
      const allowed = isMapOfNames && path.length !== 0 ? [] : allowedProperties(parent);
      message = `unknown field \`${prop}\` in ${where(path)}`;
      const s = suggest(prop, allowed);
      hint = s ? `did you mean \`${s}\`?` : allowed.length ? `allowed: ${allowed.join(', ')}` : undefined;
      break;
    }
    case 'required': {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      which = path.length && path[0] === 'stages' && path.length === 2 ? 'key' : 'value';
      code = 'schema.missing-field';
      message = `${where(path)} is missing the required field \`${prop}\``;
      break;
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      code = 'schema.enum';
      message = `${where(path)}: ${show(e.data)} is not allowed; use one of ${allowed.join(', ')}`;
      const s = typeof e.data === 'string' ? suggest(e.data, allowed) : undefined;
      if (s) hint = `did you mean \`${s}\`?`;
      break;
    }
    case 'const':
      code = 'schema.const';
      message = `${where(path)} must be ${show((e.params as { allowedValue: unknown }).allowedValue)}, not ${show(e.data)}`;
      break;
    case 'discriminator': {
      const p = e.params as { error: string; tag: string; tagValue: unknown };
      const allowed = tagValues(parent, p.tag);
      code = 'schema.unknown-type';
      at = [...path, p.tag];
      if (p.error === 'tag' && p.tagValue === undefined) {
        message = `${where(path)} has no \`${p.tag}\``;
        at = path;
      } else {
        message = `${where(path)}: unknown ${p.tag} ${show(p.tagValue)}; use one of ${allowed.join(', ')}`;
        const s = typeof p.tagValue === 'string' ? suggest(p.tagValue, allowed) : undefined;
        if (s) hint = `did you mean \`${s}\`?`;
      }
      break;
    }
    case 'type':
      code = 'schema.type';
      // a union type comes as a list (or, from older ajv, as `a,b`)
      message =
        `${where(path)} must ` +
        `be ${[(e.params as { type: string | string[] }).type].flat().join(',').replace(/,/g, ' or ')}, ` +
        `not ${typeName(e.data)}`;
      break;
    case 'pattern':
      code = 'schema.pattern';
      message =
        `${where(path)}: ${show(e.data)} is not valid` +
        (parent.description ? `: ${parent.description}` : ` (must match ${(e.params as { pattern: string }).pattern})`);
      break;
    case 'oneOf':
      code = 'schema.one-of';
      message =
        `${where(path)}: ${show(e.data)} is not valid` +
        (parent.description ? `: ${parent.description}` : ' (matches none of the allowed forms)');
      break;
    case 'minProperties':
      code = 'schema.min-properties';
      message =
        `${where(path)} must have at ` + `least ${(e.params as { limit: number }).limit} ${path.at(-1) === 'stages' ? 'stage' : 'entry'}`;
      break;
    case 'additionalItems':
    case 'minItems':
    case 'maxItems':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'minLength':
    case 'maxLength':
    case 'uniqueItems':
      code = `schema.${e.keyword.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
      message =
        `${where(path)} ${e.message}` +
        (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(e.keyword) ? `, got ${show(e.data)}` : '');
      if (e.keyword === 'minItems' && Array.isArray(e.data) && e.data.length === 0) {
        const limit = (e.params as { limit: number }).limit;
        message = `${where(path)} is an empty list; it needs at least ${limit} ${limit === 1 ? 'item' : 'items'}`;
      }
      break;
  }
  const pos = spec.locate(at, which);
  return { file: spec.file, line: pos.line, column: pos.column, severity: 'error', code, message, hint, path: e.instancePath };
}

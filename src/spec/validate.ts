/**
 * Validation pipeline of one file: YAML (positions kept) → params resolved → `${params.*}`
 * substituted → JSON Schema → semantic checks. Every step reports located diagnostics; a
 * step runs only when the one before it found the data usable.
 */
import type { ParamType, ParamValue } from '../core/plan.ts';
import { findTemplates, references, resolveTemplates } from '../core/expr.ts';
import { maskCredentials } from './literal-secrets.ts';
import { SpecError, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { loadSpecFile, type LoadedSpec } from './load.ts';
import { planSizeDiagnostics } from './plan-size.ts';
import { reservedNameDiagnostics } from './reserved-names.ts';
import { schemaDiagnostics, suggest } from './schema.ts';
import { paramValueProblem, semanticDiagnostics } from './semantic.ts';
import type { Param, Pipeline } from './types.gen.ts';

export interface ValidSpec {
  spec: LoadedSpec;
  /** The pipeline with `${params.*}` substituted (runtime references to stages left in place). */
  pipeline: Pipeline;
  params: Record<string, ParamValue>;
  paramTypes: Record<string, ParamType>;
}

export interface ValidationResult {
  file: string;
  diagnostics: Diagnostic[];
  valid?: ValidSpec;
}

/** Parses a `--param` string into the param's type. Throws with a message naming the fix. */
export function parseParamValue(name: string, param: Param, raw: string): ParamValue {
  let value: ParamValue = raw;
  if (param.type === 'integer' || param.type === 'number') {
    value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      throw new Error(
        `param \`${name}\` must be ${param.type === 'integer' ? 'an integer' : 'a number'}, not ${raw === '' ? 'empty' : `\`${raw}\``}`,
      );
    }
  } else if (param.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new Error(`param \`${name}\` must be true or false, not \`${raw}\``);
    value = raw === 'true';
  } else if (param.type === 'enum') {
    const match = param.values?.find((v) => String(v) === raw);
    value = match ?? raw;
  }
  const problem = paramValueProblem(param, value);
  if (problem) throw new Error(`param \`${name}\` ${problem}`);
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Param values of a run: declared defaults overridden by `overrides` (raw strings from the CLI). */
function resolveParams(spec: LoadedSpec, data: Record<string, unknown>, overrides: Record<string, string>, diags: Diagnostic[]) {
  const declared = (isObject(data.params) ? data.params : {}) as Record<string, Param>;
  // Keyed by names from the spec and the command line: no prototype to collide with.
  const params: Record<string, ParamValue> = Object.create(null) as Record<string, ParamValue>;
  const paramTypes: Record<string, ParamType> = Object.create(null) as Record<string, ParamType>;
  const err = (path: (string | number)[], code: string, message: string, hint?: string) => {
    const pos = spec.locate(path, 'key');
    diags.push({ file: spec.file, ...pos, severity: 'error', code, message, hint, path: '' });
  };
  for (const [name, p] of Object.entries(declared)) {
    if (!isObject(p)) continue;
    paramTypes[name] = p.type as ParamType;
    // A default of the wrong type is reported at the param; it is not substituted into stages.
    if (p.default !== undefined && !paramValueProblem(p, p.default)) params[name] = p.default;
  }
  for (const [name, raw] of Object.entries(overrides)) {
    const p = Object.hasOwn(declared, name) ? declared[name] : undefined;
    if (!p || !isObject(p)) {
      const s = suggest(name, Object.keys(declared));
      err(
        ['params'],
        'params.unknown-override',
        `--param ${name}: the pipeline declares no param \`${name}\``,
        s
          ? `did you mean \`${s}\`?`
          : Object.keys(declared).length
            ? `its params: ${Object.keys(declared).join(', ')}`
            : 'it declares no params',
      );
      continue;
    }
    try {
      params[name] = parseParamValue(name, p, raw);
    } catch (e) {
      err(['params', name], 'params.override-type', `--param ${name}=${raw}: ${(e as Error).message}`);
    }
  }
  for (const [name, p] of Object.entries(declared)) {
    if (isObject(p) && p.required && !(name in params)) {
      err(['params', name], 'params.missing', `param \`${name}\` is required`, `pass --param ${name}=<value>`);
    }
  }
  return { params, paramTypes };
}

/** True when every `${…}` in `s` reads params only (so the compiler can resolve it). */
function paramsOnly(expr: string): boolean {
  try {
    const refs = references(expr);
    return refs.length > 0 && refs.every((r) => r[0] === 'params');
  } catch {
    return false;
  }
}

function substituteParams(
  data: Record<string, unknown>,
  params: Record<string, ParamValue>,
  paramTypes: Record<string, ParamType>,
): Record<string, unknown> {
  if (!isObject(data.stages)) return data;
  const ctx = { params, paramTypes, stages: {} };
  const stages: Record<string, unknown> = {};
  for (const [name, stage] of Object.entries(data.stages)) {
    if (!isObject(stage)) {
      stages[name] = stage;
      continue;
    }
    const { when, ...rest } = stage;
    let resolved: unknown;
    try {
      resolved = resolveTemplates(rest as never, ctx, (e) => paramsOnly(e) && referencedParamsKnown(e, params));
    } catch {
      resolved = rest; // an expression that fails here is reported with its place by the semantic checks
    }
    stages[name] = when === undefined ? resolved : { ...(resolved as object), when };
  }
  return { ...data, stages };
}

function referencedParamsKnown(expr: string, params: Record<string, ParamValue>): boolean {
  return references(expr).every((r) => r[1] === undefined || r[1] in params);
}

/** Values that still hold a `${…}` are checked when the workflow resolves them, not by the schema. */
function holdsTemplate(data: unknown, ptr: string): boolean {
  let v: unknown = data;
  for (const seg of ptr.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return false;
    v = (v as Record<string, unknown>)[seg.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  if (typeof v !== 'string') return false;
  try {
    // An escaped `$${` (literal text, or a substituted param holding `${`) is no template.
    return findTemplates(v).length > 0;
  } catch {
    return true; // unclosed `${`: the semantic checks report its syntax with a better message
  }
}

/**
 * Sorted, with credential-looking values masked in messages and hints: several rules quote spec
 * values (a pattern mismatch, an override), and a secret pasted into the file must not reach
 * CI logs through them (src/spec/literal-secrets.ts reports the paste itself).
 */
function finish(diagnostics: Diagnostic[]): Diagnostic[] {
  return sortDiagnostics(diagnostics).map((d) => ({
    ...d,
    message: maskCredentials(d.message),
    ...(d.hint ? { hint: maskCredentials(d.hint) } : {}),
  }));
}

/** Validates loaded YAML; never throws for bad input (diagnostics say what is wrong). */
export function validateLoaded(spec: LoadedSpec, overrides: Record<string, string> = {}): ValidationResult {
  const diagnostics: Diagnostic[] = [];
  if (!isObject(spec.data)) {
    const pos = spec.locate([]);
    diagnostics.push({
      file: spec.file,
      ...pos,
      severity: 'error',
      code: 'schema.type',
      message: 'a pipeline file must be a map with apiVersion, metadata and stages',
      path: '',
    });
    return { file: spec.file, diagnostics };
  }
  const reserved = reservedNameDiagnostics(spec);
  if (reserved.length) return { file: spec.file, diagnostics: finish(reserved) };
  const { params, paramTypes } = resolveParams(spec, spec.data, overrides, diagnostics);
  const data = substituteParams(spec.data, params, paramTypes);
  const schemaDiags = schemaDiagnostics(spec, data, (ptr) => holdsTemplate(data, ptr));
  diagnostics.push(...schemaDiags);
  if (schemaDiags.length) return { file: spec.file, diagnostics: finish(diagnostics) };
  const pipeline = data as unknown as Pipeline;
  diagnostics.push(...semanticDiagnostics(spec, pipeline));
  if (!diagnostics.some((d) => d.severity === 'error')) diagnostics.push(...planSizeDiagnostics(spec, pipeline));
  const sorted = finish(diagnostics);
  return sorted.some((d) => d.severity === 'error')
    ? { file: spec.file, diagnostics: sorted }
    : { file: spec.file, diagnostics: sorted, valid: { spec, pipeline, params, paramTypes } };
}

export async function validateFile(file: string, overrides: Record<string, string> = {}): Promise<ValidationResult> {
  try {
    return validateLoaded(await loadSpecFile(file), overrides);
  } catch (err) {
    if (err instanceof SpecError) return { file, diagnostics: err.diagnostics };
    throw err;
  }
}

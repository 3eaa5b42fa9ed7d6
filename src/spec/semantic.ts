/**
 * Checks the schema cannot express: the DAG (unknown needs, cycles), references in `when` and
 * `${…}`, artifact types between stages, param defaults, cron and time zones, optimize targets,
 * credentials written into the file instead of `${secrets.NAME}` (literal-secrets.ts), and the
 * column names a local csv/Parquet source's header can confirm (source-columns.ts).
 * Runs on schema-valid data only, so shapes can be trusted here.
 */
import { Cron } from 'croner';
import type { ArtifactKind, ParamType } from '../core/plan.ts';
import { checkSyntax, ExpressionError, findTemplates, references } from '../core/expr.ts';
import { findCycle, isUpstream, type Needs } from './dag.ts';
import { type Diagnostic, pointer } from './diagnostics.ts';
import type { LoadedSpec } from './load.ts';
import { suggest } from './schema.ts';
import { isArtifactType } from './stage-common.ts';
import { descriptorOf, stageOutputs } from './stages/index.ts';
import type { Path } from './stages/descriptor.ts';
import { checkLiteralSecrets } from './literal-secrets.ts';
import { checkExpressionCost } from './expr-cost.ts';
import { checkForEach, forEachOf } from './for-each.ts';
import { checkSourceColumns } from './source-columns.ts';
import type { Param, Pipeline, Stage } from './types.gen.ts';

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly spec: LoadedSpec) {}
  error(path: Path, code: string, message: string, hint?: string, which: 'key' | 'value' = 'value'): void {
    const pos = this.spec.locate(path, which);
    this.diagnostics.push({ file: this.spec.file, ...pos, severity: 'error', code, message, hint, path: pointer(path) });
  }
}

export function stageNeeds(p: Pipeline): Needs {
  return Object.fromEntries(Object.entries(p.stages).map(([n, s]) => [n, (s as Stage).needs ?? []]));
}

export function semanticDiagnostics(spec: LoadedSpec, p: Pipeline): Diagnostic[] {
  const r = new Reporter(spec);
  checkParams(r, p);
  const dagOk = checkNeeds(r, p);
  if (dagOk) {
    checkReferences(r, p);
    checkExpressionCost(r, p);
    checkInputs(r, p);
  }
  checkStageRules(r, p, dagOk);
  if (dagOk) checkSourceColumns(r, p, spec.file, (name) => bindInputs(p, stageNeeds(p), name));
  checkForEach(r, p, dagOk ? stageNeeds(p) : undefined);
  checkLiteralSecrets(r, spec.data, p);
  checkSchedule(r, p);
  return r.diagnostics;
}

// ---- params ---------------------------------------------------------------------------------

/** Why `value` does not fit `param`, or null when it does. */
export function paramValueProblem(param: Param, value: unknown): string | null {
  switch (param.type as ParamType) {
    case 'string':
      if (typeof value !== 'string') return `must be a string, not ${JSON.stringify(value)}`;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return `must be true or false, not ${JSON.stringify(value)}`;
      break;
    case 'number':
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value))
        return `must be ${param.type === 'integer' ? 'an integer' : 'a number'}, not ${JSON.stringify(value)}`;
      if (param.type === 'integer' && !Number.isInteger(value)) return `must be an integer, not ${value}`;
      if (param.minimum !== undefined && value < param.minimum) return `must be >= ${param.minimum}, not ${value}`;
      if (param.maximum !== undefined && value > param.maximum) return `must be <= ${param.maximum}, not ${value}`;
      break;
    case 'enum':
      if (!param.values?.includes(value as string | number)) {
        return `must be one of ${(param.values ?? []).join(', ')}, not ${JSON.stringify(value)}`;
      }
      break;
  }
  return null;
}

function checkParams(r: Reporter, p: Pipeline): void {
  for (const [name, param] of Object.entries(p.params ?? {})) {
    const at = ['params', name];
    if (param.type === 'enum' && !param.values) {
      r.error(at, 'params.enum-values', `param \`${name}\` is an enum but lists no \`values\``, 'add `values: [a, b]`', 'key');
    }
    if (param.type !== 'enum' && param.values) {
      r.error(
        [...at, 'values'],
        'params.values-not-enum',
        `param \`${name}\` has \`values\` but its type is ${param.type}`,
        'use `type: enum`',
        'key',
      );
    }
    if (param.default === undefined) {
      if (!param.required) {
        r.error(
          at,
          'params.no-default',
          `param \`${name}\` has no default`,
          'add `default: …`, or `required: true` so each run must set it',
          'key',
        );
      }
      continue;
    }
    if (param.required) {
      r.error(
        [...at, 'required'],
        'params.required-with-default',
        `param \`${name}\` is required but has a default`,
        'drop one of them',
        'key',
      );
    }
    if (param.type === 'enum' && !param.values) continue;
    const problem = paramValueProblem(param, param.default);
    if (problem) r.error([...at, 'default'], 'params.default-type', `default of param \`${name}\` ${problem}`);
  }
}

// ---- DAG ------------------------------------------------------------------------------------

function checkNeeds(r: Reporter, p: Pipeline): boolean {
  const names = Object.keys(p.stages);
  let ok = true;
  for (const [name, stage] of Object.entries(p.stages)) {
    (stage.needs ?? []).forEach((need, i) => {
      if (need === name) {
        r.error(['stages', name, 'needs', i], 'dag.self-need', `stage \`${name}\` needs itself`, 'remove it from `needs`');
        ok = false;
      } else if (!Object.hasOwn(p.stages, need)) {
        const s = suggest(need, names);
        r.error(
          ['stages', name, 'needs', i],
          'dag.unknown-need',
          `stage \`${name}\` needs \`${need}\`, which is not a stage of this pipeline`,
          s ? `did you mean \`${s}\`?` : `stages: ${names.join(', ')}`,
        );
        ok = false;
      }
    });
  }
  if (!ok) return false;
  const cycle = findCycle(stageNeeds(p));
  if (cycle) {
    const first = cycle[0]!;
    const second = cycle[1]!;
    const idx = (p.stages[second]!.needs ?? []).indexOf(first);
    r.error(['stages', second, 'needs', idx], 'dag.cycle', `stages form a cycle: ${cycle.join(' → ')}`, 'remove one of these needs');
    return false;
  }
  return true;
}

// ---- references in `when` and `${…}` --------------------------------------------------------

/** Every string in a stage with a `${…}`, and the `when` expression, with their paths. */
export function* expressionsOf(name: string, stage: Stage): Generator<{ path: Path; expr: string; isWhen: boolean }> {
  if (stage.when !== undefined) yield { path: ['stages', name, 'when'], expr: stage.when, isWhen: true };
  function* walk(v: unknown, path: Path): Generator<{ path: Path; expr: string; isWhen: boolean }> {
    if (typeof v === 'string') {
      let parts;
      try {
        parts = findTemplates(v);
      } catch {
        yield { path, expr: v, isWhen: false }; // reported as a syntax error by the caller
        return;
      }
      for (const t of parts) yield { path, expr: t.expr, isWhen: false };
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) yield* walk(v[i], [...path, i]);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) yield* walk(x, [...path, k]);
    }
  }
  for (const [k, v] of Object.entries(stage)) {
    if (k !== 'when') yield* walk(v, ['stages', name, k]);
  }
}

function checkReferences(r: Reporter, p: Pipeline): void {
  const needs = stageNeeds(p);
  const params = Object.keys(p.params ?? {});
  for (const [name, stage] of Object.entries(p.stages)) {
    for (const { path, expr, isWhen } of expressionsOf(name, stage)) {
      let refs: string[][];
      try {
        if (expr.includes('${')) findTemplates(expr);
        checkSyntax(expr);
        refs = references(expr);
      } catch (err) {
        const msg = err instanceof ExpressionError ? err.message : String(err);
        r.error(path, 'expr.syntax', msg, 'see docs/spec.md#expressions');
        continue;
      }
      const where = isWhen ? `\`when\` of stage \`${name}\`` : `stage \`${name}\``;
      if (refs.some((r) => r[0] === 'secrets')) {
        if (isWhen) {
          r.error(
            path,
            'expr.secret-in-when',
            `${where} reads a secret`,
            'conditions run in the workflow, which never sees secrets: use a param',
          );
        } else if (!/^secrets\.[A-Z][A-Z0-9_]*$/.test(expr)) {
          r.error(
            path,
            'expr.secret-form',
            `${where}: \`\${${expr}}\` is not of the form \${secrets.NAME}`,
            'write it as ${secrets.NAME} (upper-case letters, digits, _), on its own inside the string; the ' +
              'worker reads MLPIPE_SECRET_NAME',
          );
        }
      }
      for (const ref of refs) {
        const [root, a, b, c] = ref;
        if (root === 'params') {
          if (a === undefined) continue;
          if (!params.includes(a)) {
            const s = suggest(a, params);
            r.error(
              path,
              'expr.unknown-param',
              `${where} refers to \`params.${a}\`, which is not declared`,
              s ? `did you mean \`params.${s}\`?` : 'declare it under `params:`',
            );
          }
        } else if (root === 'stages') {
          if (a === undefined) continue;
          if (!Object.hasOwn(p.stages, a)) {
            const s = suggest(a, Object.keys(p.stages));
            r.error(
              path,
              'expr.unknown-stage',
              `${where} refers to stage \`${a}\`, which does not exist`,
              s ? `did you mean \`${s}\`?` : undefined,
            );
            continue;
          }
          if (!isUpstream(needs, name, a)) {
            r.error(
              path,
              'expr.not-upstream',
              `${where} refers to stage \`${a}\`, which does not run before it`,
              `add \`${a}\` to \`needs\``,
            );
            continue;
          }
          if (b === 'status' || b === undefined) continue;
          if (b === 'items' && forEachOf(p.stages[a]!)) continue; // a forEach stage's items: [{ item, status, outputs }]
          if (b !== 'outputs') {
            r.error(
              path,
              'expr.unknown-field',
              `${where} refers to \`stages.${a}.${b}\``,
              `use \`stages.${a}.outputs.<name>\` or \`stages.${a}.status\``,
            );
            continue;
          }
          const target = p.stages[a]!;
          const outputs = stageOutputs(target);
          if (c !== undefined && !(c in outputs)) {
            const s = suggest(c, Object.keys(outputs));
            r.error(
              path,
              'expr.unknown-output',
              `${where} refers to output \`${c}\` of stage \`${a}\` (a ${target.type} stage), which it does not produce`,
              s ? `did you mean \`${s}\`?` : `its outputs: ${Object.keys(outputs).join(', ') || 'none'}`,
            );
          }
        }
      }
    }
  }
}

// ---- inputs and artifact types --------------------------------------------------------------

// Memo of nearestProducers per needs map (one per pipeline), so that a long chain is walked once.
const producerMemo = new WeakMap<Needs, Map<string, { stages: string[]; distance: number }>>();

/**
 * The upstream stages nearest to `name` (fewest `needs` edges) that produce an artifact of
 * `kind`; several when there is a tie. Memoised per stage and kind: linear in the DAG's size.
 */
function nearestProducers(p: Pipeline, needs: Needs, name: string, kind: ArtifactKind): string[] {
  let memo = producerMemo.get(needs);
  if (!memo) producerMemo.set(needs, (memo = new Map()));
  const produces = (s: string) => Object.values(stageOutputs(p.stages[s]!)).includes(kind);
  const visit = (s: string): { stages: string[]; distance: number } => {
    const key = `${s}\u0000${kind}`;
    const known = memo!.get(key);
    if (known) return known;
    let best = { stages: [] as string[], distance: Infinity };
    for (const n of needs[s] ?? []) {
      const found = produces(n) ? { stages: [n], distance: 1 } : (({ stages, distance }) => ({ stages, distance: distance + 1 }))(visit(n));
      if (found.distance < best.distance) best = { stages: [...found.stages], distance: found.distance };
      else if (found.distance === best.distance) best.stages.push(...found.stages);
    }
    const result = { stages: [...new Set(best.stages)].sort(), distance: best.distance };
    memo!.set(key, result);
    return result;
  };
  return visit(name).stages;
}

export interface Binding {
  stage: string;
  output: string;
}

/**
 * Resolves where each input of `name` comes from: an explicit `inputs:` entry, else the nearest
 * upstream stage that produces an artifact of the input's kind (ambiguity is an error).
 */
export function bindInputs(p: Pipeline, needs: Needs, name: string, report?: Reporter): Record<string, Binding> {
  const stage = p.stages[name]!;
  const kind = stage.type;
  const out: Record<string, Binding> = {};
  const specs = descriptorOf(stage).inputs;
  const explicit = stage.inputs ?? {};
  const outputsOf = (s: string) => stageOutputs(p.stages[s]!);

  for (const [input, ref] of Object.entries(explicit)) {
    const at = ['stages', name, 'inputs', input];
    const spec = specs[input];
    if (!spec && kind !== 'activity') {
      report?.error(
        at,
        'inputs.unknown',
        `stage \`${name}\` (${kind}) has no input \`${input}\``,
        Object.keys(specs).length ? `its inputs: ${Object.keys(specs).join(', ')}` : `${kind} stages take no inputs`,
        'key',
      );
      continue;
    }
    const [src, outName] = ref.split('.') as [string, string | undefined];
    if (!Object.hasOwn(p.stages, src)) {
      const s = suggest(src, Object.keys(p.stages));
      report?.error(
        at,
        'inputs.unknown-stage',
        `input \`${input}\` of stage \`${name}\` comes from \`${src}\`, which is not a stage`,
        s ? `did you mean \`${s}\`?` : undefined,
      );
      continue;
    }
    if (!isUpstream(needs, name, src)) {
      report?.error(
        at,
        'inputs.not-upstream',
        `input \`${input}\` of stage \`${name}\` comes from \`${src}\`, which does not run before it`,
        `add \`${src}\` to \`needs\``,
      );
      continue;
    }
    const outs = outputsOf(src);
    const chosen = outName ?? Object.keys(outs).find((o) => (spec ? outs[o] === spec.kind : isArtifactType(outs[o]!)));
    if (!chosen || !(chosen in outs)) {
      report?.error(
        at,
        'inputs.type-mismatch',
        `input \`${input}\` of stage \`${name}\` needs ${spec ? `a ${spec.kind}` : 'an artifact'}, but \`${ref}\` is not one`,
        `\`${src}\` produces: ${
          Object.entries(outs)
            .map(([k, t]) => `${k} (${t})`)
            .join(', ') || 'nothing'
        }`,
      );
      continue;
    }
    if (spec && outs[chosen] !== spec.kind) {
      report?.error(
        at,
        'inputs.type-mismatch',
        `input \`${input}\` of stage \`${name}\` needs a ${spec.kind}, but \`${src}.${chosen}\` is a ${outs[chosen]}`,
      );
      continue;
    }
    out[input] = { stage: src, output: chosen };
  }

  for (const [input, spec] of Object.entries(specs)) {
    if (input in explicit || spec.onlyNamed || (spec.unlessNamed && spec.unlessNamed in explicit)) continue;
    const found = nearestProducers(p, needs, name, spec.kind).map((s) => {
      const outs = outputsOf(s);
      return { stage: s, output: outs[input] === spec.kind ? input : Object.keys(outs).find((o) => outs[o] === spec.kind)! };
    });
    if (found.length === 1) {
      out[input] = found[0]!;
    } else if (found.length > 1 && spec.required) {
      report?.error(
        ['stages', name, 'type'],
        'inputs.ambiguous',
        `stage \`${name}\` could take its ${input} from ${found.map((f) => `\`${f.stage}\``).join(' or ')}`,
        `say which: \`inputs: { ${input}: ${found[0]!.stage} }\``,
      );
    } else if (found.length === 0 && spec.required) {
      const direct = needs[name] ?? [];
      report?.error(
        ['stages', name, direct.length ? 'needs' : 'type'],
        'inputs.missing',
        `stage \`${name}\` (${kind}) needs a ${spec.kind}, but no stage it needs produces one`,
        direct.length
          ? `its needs (${direct.join(', ')}) produce no ${spec.kind}: add a stage that does to \`needs\``
          : `add \`needs: [<a stage producing a ${spec.kind}>]\``,
      );
    }
  }
  return out;
}

function checkInputs(r: Reporter, p: Pipeline): void {
  const needs = stageNeeds(p);
  for (const name of Object.keys(p.stages)) bindInputs(p, needs, name, r);
}

// ---- per-kind rules -------------------------------------------------------------------------

/** Each stage against its kind's own rules (src/spec/stages/<kind>.ts). */
function checkStageRules(r: Reporter, p: Pipeline, dagOk: boolean): void {
  const needs = stageNeeds(p);
  for (const [name, stage] of Object.entries(p.stages)) {
    const desc = descriptorOf(stage);
    if (!desc.cacheable && cacheAskedFor(stage.cache)) {
      r.error(
        ['stages', name, 'cache'],
        'cache.side-effect',
        `stage \`${name}\` (${stage.type}) runs every time: the step cache never answers for a ${stage.type} stage`,
        `a ${stage.type} stage is there for its side effect, which a cache hit would skip: remove \`cache\``,
        'key',
      );
    }
    const boundInputs = dagOk ? () => bindInputs(p, needs, name) : undefined;
    desc.check?.(stage, { name, pipeline: p, report: r, at: (...rest) => ['stages', name, ...rest], boundInputs });
  }
}

/** The stage turns the step cache on itself (`cache: true`, a ttl, `enabled: true`). */
function cacheAskedFor(c: Stage['cache']): boolean {
  return c === true || (typeof c === 'object' && c.enabled !== false);
}

// ---- schedule -------------------------------------------------------------------------------

export function timezoneProblem(tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return null;
  } catch {
    return `unknown time zone \`${tz}\``;
  }
}

export function cronProblem(expr: string): string | null {
  const fields = expr.trim().split(/\s+/);
  if (!expr.startsWith('@') && fields.length !== 5) {
    return `cron \`${expr}\` has ${fields.length} fields; use five: minute hour day-of-month month day-of-week`;
  }
  try {
    new Cron(expr, { paused: true });
    return null;
  } catch (err) {
    return `invalid cron \`${expr}\`: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function checkSchedule(r: Reporter, p: Pipeline): void {
  const s = p.schedule;
  if (!s) return;
  if (s.cron === undefined && s.every === undefined) {
    r.error(['schedule'], 'schedule.empty', 'schedule has neither `cron` nor `every`', 'add `cron: "0 3 * * *"` or `every: 6h`', 'key');
  }
  const crons = s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron];
  crons.forEach((c, i) => {
    const problem = cronProblem(c);
    if (problem)
      r.error(
        Array.isArray(s.cron) ? ['schedule', 'cron', i] : ['schedule', 'cron'],
        'schedule.cron',
        problem,
        'e.g. "0 3 * * *" for 03:00 every day',
      );
  });
  if (s.timezone) {
    const problem = timezoneProblem(s.timezone);
    if (problem) r.error(['schedule', 'timezone'], 'schedule.timezone', problem, 'use an IANA name such as UTC or Europe/Berlin');
  }
  for (const [k, v] of Object.entries(s.params ?? {})) {
    const param = p.params?.[k];
    if (!param) {
      const sg = suggest(k, Object.keys(p.params ?? {}));
      r.error(
        ['schedule', 'params', k],
        'schedule.unknown-param',
        `schedule sets param \`${k}\`, which is not declared`,
        sg ? `did you mean \`${sg}\`?` : undefined,
        'key',
      );
    } else {
      const problem = paramValueProblem(param, v);
      if (problem) r.error(['schedule', 'params', k], 'schedule.param-type', `schedule's value of param \`${k}\` ${problem}`);
    }
  }
}

/**
 * mlpipe's expression language: CEL (Common Expression Language) through @marcbachmann/cel-js.
 * CEL is side-effect free, not Turing complete and deterministic, so the same functions run in
 * the compiler (to check references) and inside the workflow (to evaluate `when` and `${…}`).
 * Nothing here does I/O or reads clocks: `workflows/` imports this module.
 *
 * Variables an expression sees:
 *   params.<name>                    the run's params (integer params are CEL ints)
 *   stages.<name>.outputs.<key>      an upstream stage's outputs (numbers are CEL doubles)
 *   stages.<name>.status             'succeeded' | 'skipped' | …
 *   item (or its `as` name)          in a forEach stage: the item this unit runs for
 */
import { parse } from '@marcbachmann/cel-js';
import { EXPR_COST_LIMIT, expressionCost, formatCost, shapeOf, UnboundedExpression, type Shape } from './expr-cost.ts';
import type { JsonValue, ParamType, ParamValue } from './plan.ts';

export interface ExprContext {
  params: Record<string, ParamValue>;
  paramTypes: Record<string, ParamType>;
  stages: Record<string, { status: string; outputs: Record<string, JsonValue>; items?: JsonValue[] }>;
  /** More root variables: a forEach item under its `as` name. */
  vars?: Record<string, JsonValue>;
}

/**
 * How evaluation behaves; both on by default. The workflow turns them off only to replay
 * histories recorded before they existed (`patched()` in workflows/pipeline.ts).
 */
export interface ExprOptions {
  /**
   * Before evaluating, bound the expression's cost with the sizes of the values it reads
   * (src/core/expr-cost.ts) and refuse it over EXPR_COST_LIMIT: it never runs long enough
   * to stall a workflow task.
   */
  bounded?: boolean;
  /**
   * A value substituted into a template is data: its `${` are escaped (`$${`), so no later
   * phase (the workflow's stage outputs, the worker's secrets) resolves them.
   */
  escapeValues?: boolean;
}

export class ExpressionError extends Error {
  override name = 'ExpressionError';
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(message);
  }
}

type Compiled = ReturnType<typeof parse>;
const cache = new Map<string, Compiled>();

function compile(expr: string): Compiled {
  let fn = cache.get(expr);
  if (!fn) {
    try {
      fn = parse(expr);
    } catch (err) {
      throw new ExpressionError(`invalid expression \`${expr}\`: ${firstLine(err)}`, expr);
    }
    cache.set(expr, fn);
  }
  return fn;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/**
 * The cost bound of evaluating `expr` when its variables have `roots`' shapes (validate's
 * assumed sizes). Throws UnboundedExpression for what no size bounds.
 */
export function costOf(expr: string, roots: Record<string, Shape>): number {
  return expressionCost((compile(expr) as unknown as { ast: unknown }).ast, roots);
}

/** Throws ExpressionError when `expr` does not parse. */
export function checkSyntax(expr: string): void {
  compile(expr);
}

function celContext(ctx: ExprContext): Record<string, unknown> {
  const params = Object.fromEntries(
    Object.entries(ctx.params).map(([k, v]) => [k, ctx.paramTypes[k] === 'integer' && typeof v === 'number' ? BigInt(v) : v]),
  );
  return { ...ctx.vars, params, stages: ctx.stages };
}

/** Refuses `expr` when evaluating it over `vars` could cost more than EXPR_COST_LIMIT. */
function checkCost(expr: string, fn: Compiled, vars: Record<string, unknown>): void {
  let cost: number;
  try {
    const roots = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, shapeOf(v)]));
    cost = expressionCost((fn as unknown as { ast: unknown }).ast, roots);
  } catch (err) {
    const why = err instanceof UnboundedExpression ? err.message : `its cost cannot be bounded (${firstLine(err)})`;
    throw new ExpressionError(`\`${expr}\`: ${why}`, expr);
  }
  if (!(cost <= EXPR_COST_LIMIT)) {
    throw new ExpressionError(
      `\`${expr}\` would cost about ${formatCost(cost)} to evaluate with this run's values, over the limit ` +
        `of ${formatCost(EXPR_COST_LIMIT)} ` +
        '(nested .all/.exists/.map/.filter multiply by the size of each list): compute it in an upstream stage, or nest less',
      expr,
    );
  }
}

/** Evaluates one expression; bigint results come back as numbers so they stay JSON. */
export function evaluate(expr: string, ctx: ExprContext, opts: ExprOptions = {}): JsonValue {
  let value: unknown;
  try {
    const fn = compile(expr);
    const vars = celContext(ctx);
    if (opts.bounded !== false) checkCost(expr, fn, vars);
    value = fn(vars);
  } catch (err) {
    if (err instanceof ExpressionError) throw err;
    throw new ExpressionError(`cannot evaluate \`${expr}\`: ${firstLine(err)}`, expr);
  }
  return toJson(value, expr);
}

function toJson(value: unknown, expr: string): JsonValue {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
    return value as JsonValue;
  }
  if (Array.isArray(value)) return value.map((v) => toJson(v, expr));
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v, expr)]));
  }
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v, expr)]));
  }
  throw new ExpressionError(`\`${expr}\` gave a value that is not JSON (${typeof value})`, expr);
}

/** Evaluates a `when` condition; anything but a boolean is an error, not a truthy guess. */
export function evaluateCondition(expr: string, ctx: ExprContext, opts: ExprOptions = {}): boolean {
  const value = evaluate(expr, ctx, opts);
  if (typeof value !== 'boolean') {
    throw new ExpressionError(`\`${expr}\` must give true or false, got ${JSON.stringify(value)}`, expr);
  }
  return value;
}

/** A `${…}` occurrence in a string: where it starts/ends and the expression inside. */
export interface TemplatePart {
  start: number;
  end: number;
  expr: string;
}

/**
 * Finds `${…}` in a string. Braces inside the expression (CEL maps) and string literals are
 * balanced, so `${ {"a": 1}["a"] }` is one part. `$${` escapes a literal `${`.
 */
export function findTemplates(s: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let i = 0;
  while ((i = s.indexOf('${', i)) !== -1) {
    if (i > 0 && s[i - 1] === '$') {
      i += 2;
      continue;
    }
    let depth = 1;
    let j = i + 2;
    let quote: string | null = null;
    for (; j < s.length && depth > 0; j++) {
      const c = s[j];
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '{') depth++;
      else if (c === '}') depth--;
    }
    if (depth !== 0) {
      throw new ExpressionError(`unclosed \`\${\` in "${s}"`, s.slice(i));
    }
    parts.push({ start: i, end: j, expr: s.slice(i + 2, j - 1).trim() });
    i = j;
  }
  return parts;
}

/**
 * Replaces every `${expr}` in strings found anywhere in `value`. A string that is exactly one
 * `${expr}` takes the expression's typed value (so `epochs: ${params.epochs}` stays a number).
 * `filter` decides which expressions to resolve now; others are left in place (the compiler
 * resolves params-only expressions and leaves stage references for the workflow).
 *
 * Escapes (`$${`) are kept: templates are resolved in three phases (params when compiling,
 * stage outputs in the workflow, secrets on the worker), and unescaping early would turn a
 * literal into a template for the next phase. The worker's last phase unescapes
 * (`unescapeTemplates`). For the same reason a substituted value is escaped (`escapeValues`):
 * a param or an upstream output holding `${secrets.X}` is text, never a template.
 */
export function resolveTemplates(
  value: JsonValue,
  ctx: ExprContext,
  filter: (expr: string) => boolean = () => true,
  opts: ExprOptions = {},
): JsonValue {
  if (typeof value === 'string') return resolveString(value, ctx, filter, opts);
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, ctx, filter, opts));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines keys: a `__proto__` key in user data stays data
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, ctx, filter, opts)]));
  }
  return value;
}

function resolveString(s: string, ctx: ExprContext, filter: (expr: string) => boolean, opts: ExprOptions): JsonValue {
  const parts = findTemplates(s);
  if (parts.length === 0) return s;
  const only = parts[0]!;
  const escapeValues = opts.escapeValues !== false;
  if (parts.length === 1 && only.start === 0 && only.end === s.length) {
    if (!filter(only.expr)) return s;
    const v = evaluate(only.expr, ctx, opts);
    return escapeValues ? escapeTemplates(v) : v;
  }
  return substitute(
    s,
    parts,
    (p) => {
      if (!filter(p.expr)) return undefined;
      const v = evaluate(p.expr, ctx, opts);
      return typeof v === 'string' ? v : JSON.stringify(v);
    },
    escapeValues,
  );
}

/**
 * `s` with each of its template `parts` replaced by `valueOf(part)` (kept as written when that
 * gives undefined). With `escapeValues`, values are escaped so the result reads back as the same text
 * and holds no new template: `${` in a value becomes `$${`, and a value that ends in `$` just
 * before a `{` gets one more `$` (else the two would join into a `${`). A value ending in `$`
 * right before a template left for a later phase is an ExpressionError: no text expresses it.
 */
export function substitute(
  s: string,
  parts: TemplatePart[],
  valueFor: (p: TemplatePart) => string | undefined,
  escapeValues = true,
): string {
  let out = '';
  let last = 0;
  let dollarEnd = false; // the text so far ends with a substituted value's `$`
  const append = (text: string, isValue: boolean) => {
    if (text === '') return;
    if (dollarEnd && text.startsWith('{')) out += '$';
    out += text;
    dollarEnd = isValue && text.endsWith('$');
  };
  for (const p of parts) {
    append(s.slice(last, p.start), false);
    const v = valueFor(p);
    if (v === undefined && dollarEnd) {
      // `$` then `${…}` reads as an escape: no text says "a value's `$`, then a template"
      throw new ExpressionError(
        `a value ending in \`$\` stands right before \`\${${p.expr}}\` in "${s}": put a character between them`,
        p.expr,
      );
    }
    if (v === undefined) append(s.slice(p.start, p.end), false);
    else append(escapeValues ? escapeText(v) : v, escapeValues);
    last = p.end;
  }
  append(s.slice(last), false);
  return out;
}

// (a replacer function: in a replacement string `$$` would mean one `$`)
const escapeText = (s: string): string => s.replaceAll('${', () => '$${');

/** `${` → `$${` in every string of `value` (not in keys, which no phase reads as templates). */
export function escapeTemplates<T extends JsonValue>(value: T): T {
  if (typeof value === 'string') return escapeText(value) as T;
  if (Array.isArray(value)) return value.map((v) => escapeTemplates(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeTemplates(v)])) as T;
  }
  return value;
}

/** `$${` → `${` in every string of `value`: the literal text, once no phase resolves templates. */
export function unescapeTemplates<T extends JsonValue>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('$${', () => '${') as T;
  if (Array.isArray(value)) return value.map((v) => unescapeTemplates(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unescapeTemplates(v)])) as T;
  }
  return value;
}

/**
 * Does the expression read `secrets.*`? Those are resolved on the worker, from its environment,
 * just before a stage runs (activities/lib/secrets.ts): never by the compiler or the workflow,
 * so their values never enter a plan or a workflow history.
 */
export function readsSecrets(expr: string): boolean {
  try {
    return references(expr).some((r) => r[0] === 'secrets');
  } catch {
    return false;
  }
}

/**
 * The variable paths an expression reads, e.g. [['params','epochs'], ['stages','eval','outputs','accuracy']].
 * A path stops where a computed index starts (`stages[x]` gives ['stages']).
 */
export function references(expr: string): string[][] {
  const out: string[][] = [];
  walk((compile(expr) as unknown as { ast: AstNode }).ast, out);
  return out;
}

/** CEL macros that bind a variable (their first argument) in the rest of their arguments. */
const BINDING_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/**
 * The roots of the variables an expression reads from outside (a macro's own variable, as `x`
 * in `l.all(x, x > 0)`, is not one): what validate checks the item name against.
 */
export function freeRoots(expr: string): string[] {
  const out = new Set<string>();
  const visit = (node: unknown, bound: ReadonlySet<string>): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n, bound));
    if (!isNode(node)) return;
    if (node.op === 'id' && typeof node.args === 'string') {
      if (!bound.has(node.args)) out.add(node.args);
      return;
    }
    if (node.op === 'rcall' && Array.isArray(node.args)) {
      const [name, receiver, args] = node.args as [unknown, unknown, unknown];
      const first = Array.isArray(args) ? args[0] : undefined;
      if (typeof name === 'string' && BINDING_MACROS.has(name) && isNode(first) && first.op === 'id' && typeof first.args === 'string') {
        visit(receiver, bound);
        visit((args as unknown[]).slice(1), new Set([...bound, first.args as string]));
        return;
      }
    }
    visit(node.args, bound);
  };
  visit((compile(expr) as unknown as { ast: AstNode }).ast, new Set());
  return [...out];
}

interface AstNode {
  op: string;
  args: unknown;
}

function isNode(v: unknown): v is AstNode {
  return typeof v === 'object' && v !== null && typeof (v as AstNode).op === 'string';
}

function pathOf(node: AstNode): string[] | null {
  if (node.op === 'id' && typeof node.args === 'string') return [node.args];
  if ((node.op === '.' || node.op === '.?') && Array.isArray(node.args)) {
    const [obj, field] = node.args as [unknown, unknown];
    if (isNode(obj) && typeof field === 'string') {
      const base = pathOf(obj);
      return base ? [...base, field] : null;
    }
  }
  return null;
}

function walk(node: unknown, out: string[][]): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, out);
    return;
  }
  if (!isNode(node)) return;
  const path = pathOf(node);
  if (path) {
    out.push(path);
    return;
  }
  walk(node.args, out);
}

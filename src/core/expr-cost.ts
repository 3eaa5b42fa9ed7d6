/**
 * What evaluating a CEL expression can cost, bounded before it runs.
 *
 * The workflow evaluates `when` and `${…}` inside a workflow task: an expression that computes
 * for seconds times the task out, and the SDK's deadlock detector then takes the worker down
 * with it (a 500-byte `.all()` nested seven deep over ten-element lists did). CEL has no loops or
 * recursion, so the work an expression can do follows from its AST and the sizes of the values it
 * reads. The model is CEL's own (cel-go checker/cost.go): reading a variable or field costs 1,
 * building a list 10 and a map 30, other calls 1; a comprehension (`all`, `exists`, `exists_one`,
 * `map`, `filter`) costs its range's size times its body plus 3 per step (what a step costs
 * cel-js, measured: an empty body still counts); string work costs 0.1 per character; `in` on a
 * list its length. Sizes flow through
 * concatenation, `split`, `map` and the rest, so nested work multiplies and growing strings or
 * lists are paid for.
 *
 * One walk serves both ends: `mlpipe validate` gives unknown sizes (string params, stage
 * outputs) ASSUMED_SIZE; the workflow gives the sizes of this run's values, just before it
 * evaluates. Pure and deterministic: workflows/ imports it.
 */

/** The most an expression may cost: milliseconds of evaluation, tens on code not yet optimised. */
export const EXPR_COST_LIMIT = 300_000;
/** At validate, a string, list or map whose size is not known yet (params, stage outputs). */
export const ASSUMED_SIZE = 100;

const LIST_COST = 10;
/** One comprehension step, on top of its body: cel-js spends about what three reads cost. */
const STEP_COST = 3;
const MAP_COST = 30;
const CHAR_COST = 0.1;

/** An upper bound on a value's size, as far as cost goes. */
export interface Shape {
  /** size(): characters, bytes, elements or entries (1 for a scalar). */
  size: number;
  /** Everything inside it counted once (characters, elements, entries); at least `size`. */
  total: number;
  /** A number, bool or null: `+` on it does not grow. */
  scalar?: boolean;
  /** What a comprehension over it iterates: a list's elements, a map's keys. */
  items?: Shape;
  /** What an index or field read gives: a list's elements, a map's values. */
  values?: Shape;
  /** The exact shape of a named member, when known. */
  field?: (name: string) => Shape | undefined;
}

export const SCALAR: Shape = { size: 1, total: 1, scalar: true };

/** A value about which only its total size is known: no part of it is bigger. */
export function bounded(total: number): Shape {
  return { size: total, total };
}

const itemsOf = (s: Shape): Shape => s.items ?? bounded(s.total);
const valuesOf = (s: Shape): Shape => s.values ?? bounded(s.total);

function union(a: Shape, b: Shape): Shape {
  if (a === b) return a;
  return {
    size: Math.max(a.size, b.size),
    total: Math.max(a.total, b.total),
    ...(a.scalar && b.scalar ? { scalar: true } : {}),
    ...(a.items || b.items ? { items: union(itemsOf(a), itemsOf(b)) } : {}),
    ...(a.values || b.values ? { values: union(valuesOf(a), valuesOf(b)) } : {}),
  };
}

function unionAll(shapes: Shape[]): Shape | undefined {
  return shapes.length === 0 ? undefined : shapes.reduce(union);
}

/** Why an expression is refused whatever its cost. */
export class UnboundedExpression extends Error {}

interface Node {
  op: string;
  args: unknown;
}

interface Est {
  cost: number;
  shape: Shape;
}

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && typeof (v as Node).op === 'string';
const nodes = (v: unknown): Node[] => (Array.isArray(v) ? v.filter(isNode) : []);
const mul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : a * b);

/** The shape of a literal. */
function literal(v: unknown): Shape {
  if (typeof v === 'string') return bounded(v.length);
  if (v instanceof Uint8Array) return bounded(v.length);
  return SCALAR;
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

class Estimator {
  constructor(private readonly roots: Record<string, Shape>) {}

  est(n: Node, scope: ReadonlyMap<string, Shape>): Est {
    const a = n.args;
    switch (n.op) {
      case 'value':
        return { cost: 0, shape: literal(a) };
      case 'id': {
        const name = String(a);
        return { cost: 1, shape: scope.get(name) ?? this.roots[name] ?? bounded(ASSUMED_SIZE) };
      }
      case '.':
      case '.?': {
        const [objNode, field] = a as [Node, string];
        const obj = this.est(objNode, scope);
        return { cost: obj.cost + 1, shape: obj.shape.field?.(field) ?? valuesOf(obj.shape) };
      }
      case '[]':
      case '[?]': {
        const [o, i] = (a as [Node, Node]).map((x) => this.est(x, scope)) as [Est, Est];
        const key = (a as [Node, Node])[1];
        const named = key.op === 'value' && typeof key.args === 'string' ? o.shape.field?.(key.args) : undefined;
        return { cost: o.cost + i.cost + 1, shape: named ?? valuesOf(o.shape) };
      }
      case 'list': {
        const el = nodes(a).map((x) => this.est(x, scope));
        const item = unionAll(el.map((e) => e.shape));
        return {
          cost: LIST_COST + sum(el.map((e) => e.cost)),
          shape: { size: el.length, total: 1 + sum(el.map((e) => e.shape.total)), ...(item ? { items: item, values: item } : {}) },
        };
      }
      case 'map': {
        const entries = (a as [Node, Node][]).map(([k, v]) => [this.est(k, scope), this.est(v, scope)] as const);
        const keys = unionAll(entries.map(([k]) => k.shape));
        const vals = unionAll(entries.map(([, v]) => v.shape));
        return {
          cost: MAP_COST + sum(entries.map(([k, v]) => k.cost + v.cost)),
          shape: {
            size: entries.length,
            total: 1 + sum(entries.map(([k, v]) => k.shape.total + v.shape.total)),
            ...(keys ? { items: keys } : {}),
            ...(vals ? { values: vals } : {}),
          },
        };
      }
      case '?:': {
        const [c, t, f] = nodes(a).map((x) => this.est(x, scope)) as [Est, Est, Est];
        return { cost: c.cost + Math.max(t.cost, f.cost), shape: union(t.shape, f.shape) };
      }
      case '&&':
      case '||': {
        const [l, r] = nodes(a).map((x) => this.est(x, scope)) as [Est, Est];
        return { cost: l.cost + r.cost, shape: SCALAR };
      }
      case '!_':
      case '-_': {
        const x = this.est(a as Node, scope);
        return { cost: x.cost + 1, shape: SCALAR };
      }
      case 'call':
        return this.call(String((a as [string])[0]), nodes((a as [string, unknown])[1]), scope);
      case 'rcall': {
        const [name, receiver, args] = a as [string, Node, unknown];
        return this.method(name, receiver, nodes(args), scope);
      }
      default:
        return this.operator(
          n.op,
          nodes(a).map((x) => this.est(x, scope)),
        );
    }
  }

  /** Binary operators: arithmetic, comparison, `in`, and `+` on strings and lists. */
  private operator(op: string, [l, r]: Est[]): Est {
    if (!l || !r) throw new Error(`internal: operator ${op} without two operands`);
    const args = l.cost + r.cost;
    const smaller = Math.min(l.shape.total, r.shape.total);
    switch (op) {
      case '+': {
        if (l.shape.scalar || r.shape.scalar) return { cost: args + 1, shape: SCALAR };
        const size = l.shape.size + r.shape.size;
        const items = l.shape.items || r.shape.items ? union(itemsOf(l.shape), itemsOf(r.shape)) : undefined;
        return {
          cost: args + 1 + mul(CHAR_COST, size),
          shape: { size, total: l.shape.total + r.shape.total, ...(items ? { items, values: items } : {}) },
        };
      }
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return { cost: args + 1 + mul(CHAR_COST, smaller), shape: SCALAR };
      case 'in': {
        const each = 1 + mul(CHAR_COST, Math.min(l.shape.total, itemsOf(r.shape).total));
        return { cost: args + 1 + mul(r.shape.size, each), shape: SCALAR };
      }
      default: // - * / %
        return { cost: args + 1, shape: SCALAR };
    }
  }

  /** Global functions: conversions, size, has, dyn, timestamp, duration. */
  private call(name: string, args: Node[], scope: ReadonlyMap<string, Shape>): Est {
    const ests = args.map((x) => this.est(x, scope));
    const cost = 1 + sum(ests.map((e) => e.cost));
    const arg = ests[0]?.shape ?? SCALAR;
    const scan = mul(CHAR_COST, arg.size);
    switch (name) {
      case 'dyn':
        return { cost, shape: arg };
      case 'string':
        return { cost: cost + scan, shape: arg.scalar ? bounded(32) : bounded(Math.max(arg.size, 32)) };
      case 'bytes':
        return { cost: cost + scan, shape: bounded(4 * arg.size) };
      default: // size, has, int, uint, double, bool, type, timestamp, duration
        return { cost: cost + scan, shape: SCALAR };
    }
  }

  private method(name: string, receiver: Node, args: Node[], scope: ReadonlyMap<string, Shape>): Est {
    if (name === 'matches') {
      throw new UnboundedExpression(
        '`matches` is not available: JavaScript runs regular expressions by backtracking, where one pattern ' +
          'can take exponential time; use contains, startsWith or endsWith',
      );
    }
    if (name === 'bind' && receiver.op === 'id' && receiver.args === 'cel' && args.length === 3) {
      const [v, val, body] = args as [Node, Node, Node];
      const bound = this.est(val, scope);
      const inner = this.est(body, new Map(scope).set(String(v.args), bound.shape));
      return { cost: bound.cost + inner.cost, shape: inner.shape };
    }
    const range = this.est(receiver, scope);
    if (MACROS.has(name) && args[0]?.op === 'id') return this.comprehension(name, range, args, scope);
    const ests = args.map((x) => this.est(x, scope));
    const cost = 1 + range.cost + sum(ests.map((e) => e.cost));
    const s = range.shape;
    const arg = ests[0]?.shape ?? SCALAR;
    const scan = mul(CHAR_COST, s.size);
    switch (name) {
      case 'contains':
      case 'indexOf':
      case 'lastIndexOf':
        return { cost: cost + mul(Math.max(1, scan), Math.max(1, mul(CHAR_COST, arg.size))), shape: SCALAR };
      case 'startsWith':
      case 'endsWith':
        return { cost: cost + mul(CHAR_COST, arg.size), shape: SCALAR };
      case 'lowerAscii':
      case 'upperAscii': // a character's case can take up to three (ß → SS)
        return { cost: cost + scan, shape: bounded(3 * s.size) };
      case 'trim':
      case 'substring':
      case 'string':
        return { cost: cost + scan, shape: bounded(s.size) };
      case 'split':
        return { cost: cost + scan, shape: { size: s.size + 1, total: 2 * s.size + 1, items: bounded(s.size), values: bounded(s.size) } };
      case 'join': {
        const size = s.total + mul(s.size, arg.size);
        return { cost: cost + mul(CHAR_COST, size), shape: bounded(size) };
      }
      case 'hex':
        return { cost: cost + scan, shape: bounded(2 * s.size) };
      case 'base64':
        return { cost: cost + scan, shape: bounded(Math.ceil(s.size / 3) * 4) };
      case 'json':
        return { cost: cost + scan, shape: bounded(s.size) };
      default: // size, at, timestamp and duration getters
        return { cost, shape: SCALAR };
    }
  }

  /** `range.all(x, p)`, `exists`, `exists_one`, `map(x, t)`, `map(x, p, t)`, `filter(x, p)`. */
  private comprehension(name: string, range: Est, args: Node[], scope: ReadonlyMap<string, Shape>): Est {
    const item = itemsOf(range.shape);
    const inner = new Map(scope).set(String(args[0]!.args), item);
    const body = args.slice(1).map((x) => this.est(x, inner));
    const steps = range.shape.size;
    const cost = range.cost + mul(steps, STEP_COST + sum(body.map((b) => b.cost)));
    if (name === 'map') {
      const out = body[body.length - 1]!.shape;
      return { cost, shape: { size: steps, total: 1 + mul(steps, out.total), items: out, values: out } };
    }
    if (name === 'filter') return { cost, shape: { size: steps, total: range.shape.total, items: item, values: item } };
    return { cost, shape: SCALAR };
  }
}

function sum(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/**
 * The cost of evaluating `ast` (a cel-js AST) when its root variables have `roots`' shapes.
 * Throws UnboundedExpression for what no size can bound (`matches`).
 */
export function expressionCost(ast: unknown, roots: Record<string, Shape>): number {
  if (!isNode(ast)) return 0;
  return new Estimator(roots).est(ast, new Map()).cost;
}

/** `n` for a message: 14,322,220, or 1.2e+21 when it is huge. */
export function formatCost(n: number): string {
  return n < 1e15 ? String(Math.ceil(n)).replace(/\B(?=(\d{3})+$)/g, ',') : n.toExponential(1);
}

const shapes = new WeakMap<object, Shape>();

/**
 * The shape of an actual value (what the workflow hands CEL): exact sizes one level down, totals
 * below. Memoised per object, so the same upstream output is measured once.
 */
export function shapeOf(v: unknown): Shape {
  if (typeof v === 'string' || v instanceof Uint8Array) return bounded(v.length);
  if (v === null || typeof v !== 'object') return SCALAR;
  const known = shapes.get(v);
  if (known) return known;
  let shape: Shape;
  if (Array.isArray(v)) {
    const el = v.map(shapeOf);
    const item = largest(el);
    shape = { size: v.length, total: 1 + sum(el.map((s) => s.total)), ...(item ? { items: item, values: item } : {}) };
  } else {
    const entries = Object.entries(v as Record<string, unknown>);
    const vals = entries.map(([, x]) => shapeOf(x));
    const keys = largest(entries.map(([k]) => bounded(k.length)));
    const value = largest(vals);
    shape = {
      size: entries.length,
      total: 1 + sum(entries.map(([k], i) => k.length + vals[i]!.total)),
      ...(keys ? { items: keys } : {}),
      ...(value ? { values: value } : {}),
      field: (name) => (Object.hasOwn(v, name) ? shapeOf((v as Record<string, unknown>)[name]) : undefined),
    };
  }
  shapes.set(v, shape);
  return shape;
}

/** The largest size and total among `xs` (children bounded by those totals). */
function largest(xs: Shape[]): Shape | undefined {
  if (xs.length === 0) return undefined;
  let size = 0;
  let total = 0;
  let scalar = true;
  for (const s of xs) {
    size = Math.max(size, s.size);
    total = Math.max(total, s.total);
    scalar &&= s.scalar === true;
  }
  return { size, total, ...(scalar ? { scalar } : {}) };
}

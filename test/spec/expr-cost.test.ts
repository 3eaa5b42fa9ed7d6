/**
 * The expression cost bound (src/core/expr-cost.ts): validate's estimate with assumed sizes,
 * and the check `evaluate` makes with the actual values before it runs an expression.
 */
import { describe, expect, it } from 'vitest';
import { costOf, evaluate, evaluateCondition, ExpressionError, type ExprContext } from '../../src/core/expr.ts';
import { ASSUMED_SIZE, bounded, EXPR_COST_LIMIT, SCALAR, type Shape } from '../../src/core/expr-cost.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateLoaded } from '../../src/spec/validate.ts';

const TEN = '[0,1,2,3,4,5,6,7,8,9]';
/** `depth` nested `.all()` over ten-element lists: 10^depth steps. */
function nestedAll(depth: number, range = TEN): string {
  const vars = 'abcdefghij'.slice(0, depth).split('');
  let e = `${vars.join(' + ')} >= 0`;
  for (const v of [...vars].reverse()) e = `${range}.all(${v}, ${e})`;
  return e;
}

const unknown: Record<string, Shape> = { params: bounded(ASSUMED_SIZE), stages: bounded(ASSUMED_SIZE) };
const ctx = (outputs: Record<string, unknown> = {}, params: ExprContext['params'] = {}): ExprContext => ({
  params,
  paramTypes: Object.fromEntries(Object.keys(params).map((k) => [k, 'string'])),
  stages: { up: { status: 'succeeded', outputs: outputs as ExprContext['stages'][string]['outputs'] } },
});
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('static cost estimate', () => {
  it('keeps everyday expressions far below the limit', () => {
    expect(costOf('stages.evaluate.outputs.accuracy >= 0.97 && params.deploy', unknown)).toBeLessThan(100);
    expect(costOf('params.name.startsWith("churn") ? params.a : params.b', unknown)).toBeLessThan(100);
    expect(costOf('stages.a.outputs.names.exists(n, n == "cat")', unknown)).toBeLessThan(10_000);
  });

  it('multiplies nested comprehensions by their ranges: the 7-deep .all() is refused', () => {
    expect(costOf(nestedAll(3), unknown)).toBeLessThan(EXPR_COST_LIMIT);
    expect(costOf(nestedAll(7), unknown)).toBeGreaterThan(1e7);
  });

  it('gives unknown sizes the assumed bound: two lists of outputs nest, three do not', () => {
    const l = 'stages.a.outputs.l';
    expect(costOf(`${l}.all(x, ${l}.exists(y, x == y))`, unknown)).toBeLessThan(EXPR_COST_LIMIT);
    expect(costOf(`${l}.all(x, ${l}.all(y, ${l}.exists(z, x == y + z)))`, unknown)).toBeGreaterThan(EXPR_COST_LIMIT);
  });

  it('follows sizes through map, filter, split and bind, so growth is paid for', () => {
    // each map builds a list of the range's size: the last all() walks 100 lists of 100
    expect(costOf('stages.a.outputs.l.map(x, stages.a.outputs.l).all(r, r.all(y, y > 0))', unknown)).toBeGreaterThan(10_000);
    // a string doubled twenty times is a hundred million characters
    let e = 'params.s';
    for (let i = 0; i < 20; i++) e = `cel.bind(v${i}, ${e}, v${i} + v${i})`;
    expect(costOf(e, { params: { size: 1, total: 10, field: () => bounded(ASSUMED_SIZE) } })).toBeGreaterThan(EXPR_COST_LIMIT);
    expect(costOf('params.s.split(",").all(p, params.s.split(",").exists(q, p == q))', unknown)).toBeGreaterThan(10_000);
  });

  it('counts numbers as scalars, so arithmetic does not grow', () => {
    const roots = { params: { size: 1, total: 2, field: () => SCALAR } };
    expect(costOf('params.a + params.b * 2 - 1 > 0', roots)).toBeLessThan(20);
  });
});

describe('run-time bound in evaluate', () => {
  it('refuses the 7-deep .all() at once, with the estimate and the limit', () => {
    const deep = nestedAll(7);
    expect(() => evaluateCondition(deep, ctx())).toThrow(ExpressionError);
    expect(() => evaluateCondition(deep, ctx())).toThrow(
      /would cost about [\d,]+ to evaluate with this run's values, over the limit of 300,000/,
    );
  });

  it('measures the values of this run: a small list passes, a large one fails', () => {
    const when = 'stages.up.outputs.l.all(a, stages.up.outputs.l.all(b, a + b >= 0))';
    expect(evaluateCondition(when, ctx({ l: range(20) }))).toBe(true);
    expect(() => evaluateCondition(when, ctx({ l: range(1000) }))).toThrow(/would cost about/);
  });

  it('measures params too (a long string param)', () => {
    const e = 'params.s.split("").all(a, params.s.split("").exists(b, a == b))';
    expect(evaluate(e, ctx({}, { s: 'abc' }))).toBe(true);
    expect(() => evaluate(e, ctx({}, { s: 'x'.repeat(5000) }))).toThrow(/would cost about/);
  });

  it('refuses matches (backtracking regular expressions) before running it', () => {
    expect(() => evaluate(`params.s.matches('^(a+)+$')`, ctx({}, { s: `${'a'.repeat(40)}!` }))).toThrow(/`matches` is not available/);
  });

  it('can be turned off only explicitly (replaying histories recorded before the bound)', () => {
    expect(evaluate(nestedAll(3), ctx(), { bounded: false })).toBe(true);
  });
});

describe('validate', () => {
  const spec = (when: string) =>
    loadSpecText(
      'costly.yaml',
      `apiVersion: mlpipe/v1
metadata: { name: costly }
params:
  s: { type: string, default: abc }
stages:
  a: { type: activity, activity: noop, outputs: { l: object } }
  b: { type: activity, activity: noop, needs: [a], when: ${JSON.stringify(when)} }
  c: { type: activity, activity: noop, needs: [a], input: { v: "x-\${${nestedAll(6)} ? 1 : 2}" } }
`,
    );

  it('refuses costly expressions in `when` and in templates, where they are written', () => {
    const r = validateLoaded(spec(nestedAll(7)));
    const got = r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`);
    expect(got).toEqual(['7:58 expr.cost', '8:64 expr.cost']);
    expect(r.diagnostics[0]!.message).toMatch(/^`when` of stage `b` costs about [\d,]+ to evaluate, over the limit of 300,000$/);
    expect(r.diagnostics[1]!.message).toMatch(/^`\$\{\[0,1,2.*\.\.\.}` in stage `c` costs about/);
  });

  it('accepts what costs less than the limit', () => {
    const ok = validateLoaded(
      loadSpecText(
        'costly.yaml',
        `apiVersion: mlpipe/v1
metadata: { name: cheap }
stages:
  a: { type: activity, activity: noop, outputs: { l: object } }
  b: { type: activity, activity: noop, needs: [a], when: "stages.a.outputs.l.exists(x, x == 1)" }
`,
      ),
    );
    expect(ok.diagnostics).toEqual([]);
  });
});

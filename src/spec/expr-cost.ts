/**
 * Expressions too costly to evaluate, refused at validate with their place: the static half of
 * the cost bound (src/core/expr-cost.ts; the workflow checks again with each run's values).
 * Sizes validate cannot know count as ASSUMED_SIZE: a string param, anything a stage outputs.
 */
import { checkSyntax, costOf } from '../core/expr.ts';
import { ASSUMED_SIZE, bounded, EXPR_COST_LIMIT, formatCost, SCALAR, UnboundedExpression, type Shape } from '../core/expr-cost.ts';
import { expressionsOf, type Reporter } from './semantic.ts';
import type { Param, Pipeline } from './types.gen.ts';

function paramShape(p: Param): Shape {
  if (p.type === 'string') return bounded(ASSUMED_SIZE);
  if (p.type !== 'enum') return SCALAR;
  const strings = (p.values ?? []).filter((v): v is string => typeof v === 'string');
  return strings.length === 0 ? SCALAR : bounded(Math.max(...strings.map((v) => v.length)));
}

/** The shapes `params`, `stages` and `secrets` have as far as validate knows. */
function staticRoots(p: Pipeline): Record<string, Shape> {
  const params = new Map(Object.entries(p.params ?? {}).map(([k, v]) => [k, paramShape(v)]));
  let total = 1;
  for (const [k, s] of params) total += k.length + s.total;
  return {
    params: { size: params.size, total, field: (name) => params.get(name) },
    stages: bounded(ASSUMED_SIZE),
    secrets: bounded(ASSUMED_SIZE),
  };
}

export function checkExpressionCost(r: Reporter, p: Pipeline): void {
  const roots = staticRoots(p);
  for (const [name, stage] of Object.entries(p.stages)) {
    for (const { path, expr, isWhen } of expressionsOf(name, stage)) {
      const where = isWhen
        ? `\`when\` of stage \`${name}\``
        : `\`\${${expr.length > 60 ? `${expr.slice(0, 57)}...` : expr}}\` in stage \`${name}\``;
      let cost: number;
      try {
        checkSyntax(expr); // a syntax error is reported by the reference checks
      } catch {
        continue;
      }
      try {
        cost = costOf(expr, roots);
      } catch (err) {
        if (!(err instanceof UnboundedExpression)) throw err;
        r.error(path, 'expr.unsupported', `${where}: ${err.message}`);
        continue;
      }
      if (cost > EXPR_COST_LIMIT) {
        r.error(
          path,
          'expr.cost',
          `${where} costs about ${formatCost(cost)} to evaluate, over the limit of ${formatCost(EXPR_COST_LIMIT)}`,
          `nested .all/.exists/.map/.filter multiply by the size of each list (${ASSUMED_SIZE} where validate ` +
            'cannot know it): nest less, or compute the value in an upstream stage',
        );
      }
    }
  }
}

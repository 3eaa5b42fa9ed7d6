import { describe, expect, it } from 'vitest';
import {
  evaluateCondition,
  ExpressionError,
  findTemplates,
  references,
  resolveTemplates,
  unescapeTemplates,
  type ExprContext,
} from '../../src/core/expr.ts';

const ctx: ExprContext = {
  params: { epochs: 5, lr: 0.01, name: 'churn', deploy: true },
  paramTypes: { epochs: 'integer', lr: 'number', name: 'string', deploy: 'boolean' },
  stages: { evaluate: { status: 'succeeded', outputs: { accuracy: 0.975, passed: true } } },
};

describe('expressions', () => {
  it('evaluates conditions over params and upstream outputs', () => {
    expect(evaluateCondition('stages.evaluate.outputs.accuracy >= 0.97 && params.deploy', ctx)).toBe(true);
    expect(evaluateCondition('stages.evaluate.outputs.accuracy >= 0.98', ctx)).toBe(false);
    expect(evaluateCondition('params.epochs + 1 == 6', ctx)).toBe(true); // integer params are CEL ints
  });

  it('refuses a condition that is not boolean instead of guessing truthiness', () => {
    expect(() => evaluateCondition('params.epochs', ctx)).toThrow(/must give true or false/);
  });

  it('names the expression when evaluation fails', () => {
    expect(() => evaluateCondition('stages.train.outputs.x > 1', ctx)).toThrow(ExpressionError);
    expect(() => evaluateCondition('stages.train.outputs.x > 1', ctx)).toThrow(/stages\.train\.outputs\.x > 1/);
  });

  it('keeps types for whole-string templates and interpolates inside text', () => {
    expect(resolveTemplates({ e: '${params.epochs}', s: 'run-${params.name}-${params.epochs * 2}', l: '$${not}' }, ctx)).toEqual({
      e: 5,
      s: 'run-churn-10',
      l: '$${not}', // kept escaped until the worker's last phase (unescapeTemplates)
    });
    // a literal `$${stages...}` survives the compile and workflow phases as a literal
    const compiled = resolveTemplates({ t: 'a $${stages.x.outputs.y} ${params.name}' }, ctx, (e) => e.startsWith('params'));
    expect(compiled).toEqual({ t: 'a $${stages.x.outputs.y} churn' });
    expect(resolveTemplates(compiled, ctx)).toEqual(compiled);
    expect(unescapeTemplates(compiled)).toEqual({ t: 'a ${stages.x.outputs.y} churn' });
  });

  it('resolves only what the filter allows (compile time: params; run time: stages)', () => {
    const v = resolveTemplates(['${params.lr}', '${stages.evaluate.outputs.accuracy}'], ctx, (e) => e.startsWith('params'));
    expect(v).toEqual([0.01, '${stages.evaluate.outputs.accuracy}']);
  });

  it('balances braces and quotes inside templates', () => {
    expect(findTemplates('a ${ {"k": "}"}["k"] } b').map((t) => t.expr)).toEqual(['{"k": "}"}["k"]']);
    expect(() => findTemplates('${params.x')).toThrow(/unclosed/);
  });

  it('lists the variable paths an expression reads', () => {
    expect(references('has(stages.a.outputs.b) && params.c > 1')).toEqual([
      ['stages', 'a', 'outputs', 'b'],
      ['params', 'c'],
    ]);
  });

  it('is data, not code: host objects are unreachable', () => {
    expect(() => evaluateCondition('process.exit(1)', ctx)).toThrow(ExpressionError);
    expect(() => evaluateCondition('constructor.constructor("return 1")() == 1', ctx)).toThrow(ExpressionError);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeMetrics, type EvalMetricName } from '../../../src/ml/eval/metrics.ts';

interface Case {
  name: string;
  kind: 'classification' | 'regression';
  yTrue: number[];
  yPred: number[];
  yScore?: number[] | number[][];
  expected: Record<string, number | number[][]>;
}
const fixture = JSON.parse(readFileSync('test/fixtures/metrics/sklearn-cases.json', 'utf8')) as { sklearn: string; cases: Case[] };

describe(`metrics match scikit-learn ${fixture.sklearn} to 1e-9`, () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const names = Object.keys(c.expected) as EvalMetricName[];
      const got = computeMetrics(names, c.yTrue, c.yPred, c.yScore);
      for (const n of names) {
        const want = c.expected[n]!;
        if (Array.isArray(want)) expect(got[n], n).toEqual(want);
        else expect(Math.abs((got[n] as number) - want), `${n}: got ${String(got[n])}, sklearn ${want}`).toBeLessThan(1e-9);
      }
    });
  }
  it('covers every metric', () => {
    const all = new Set(fixture.cases.flatMap((c) => Object.keys(c.expected)));
    expect([...all].sort()).toEqual(
      [
        'accuracy',
        'confusionMatrix',
        'f1Macro',
        'f1Micro',
        'f1Weighted',
        'mae',
        'mse',
        'precisionMacro',
        'precisionMicro',
        'precisionWeighted',
        'r2',
        'recallMacro',
        'recallMicro',
        'recallWeighted',
        'rocAuc',
      ].sort(),
    );
  });
});

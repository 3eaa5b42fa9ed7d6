import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ks, psi } from '../../../src/ml/eval/drift.ts';

interface Case {
  name: string;
  reference: number[];
  current: number[];
  psi: number;
  ks: number;
}
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/drift/reference.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('drift statistics against numpy/scipy (test/fixtures/drift/make.py)', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: PSI and KS to 1e-9`, () => {
      expect(Math.abs(psi(c.reference, c.current).value - c.psi)).toBeLessThan(1e-9);
      expect(Math.abs(ks(c.reference, c.current) - c.ks)).toBeLessThan(1e-9);
    });
  }

  it('identical samples have no drift; missing values are ignored', () => {
    const x = Array.from({ length: 100 }, (_, i) => i / 10);
    expect(psi(x, x).value).toBe(0);
    expect(ks(x, [...x, NaN])).toBe(0);
  });

  it('an empty sample is an error, not a silent zero', () => {
    expect(() => psi([1, 2], [])).toThrow(/finite value/);
    expect(() => ks([], [1])).toThrow(/finite value/);
  });
});

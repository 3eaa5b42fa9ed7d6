// The search report's parallel-coordinates chart: an axis per parameter and one for the objective,
// a line per finished trial (broken where a conditional parameter is absent), the best in red.
import { describe, expect, it } from 'vitest';
import { parallelCoordinates, type ParallelTrial } from '../../../src/ml/report/parallel.ts';
import { renderSearch } from '../../../src/ml/report/search.ts';

const trials: ParallelTrial[] = [
  { id: 0, params: { 'optimizer.learningRate': 0.0001, activation: 'relu', momentum: 0.9 }, value: 0.71 },
  { id: 1, params: { 'optimizer.learningRate': 0.01, activation: 'tanh' }, value: 0.93 },
  { id: 2, params: { 'optimizer.learningRate': 0.1, activation: 'relu', momentum: 0.5 }, value: 0.85 },
  { id: 3, params: { 'optimizer.learningRate': 0.05, activation: 'gelu', momentum: 0.7 }, value: null },
];

const lines = (svg: string) => [...svg.matchAll(/<polyline data-trial="(\d+)"[^>]*stroke="([^"]+)"[^>]*points="([^"]+)"/g)];

describe('parallel coordinates', () => {
  it('an axis per parameter and the objective; a line per finished trial; the best on top, in red', () => {
    const svg = parallelCoordinates('t', trials, 'val_accuracy', 'maximize', 1);
    const axes = [...svg.matchAll(/<line x1="([\d.]+)" y1="44" x2="\1"/g)];
    expect(axes).toHaveLength(4); // activation, momentum, optimizer.learningRate, val_accuracy
    expect(svg).toContain('>optimizer.learningRate (log)<'); // 1e-4 to 1e-1: three decades
    expect(svg).toContain('>val_accuracy<');
    expect(svg).toMatch(/>relu<.*>tanh</); // choices of finished trials, in order of appearance
    expect(svg).not.toContain('>gelu<');
    const drawn = lines(svg);
    expect(drawn.map((l) => l[1])).not.toContain('3'); // no value: not drawn
    expect(drawn.at(-1)![1]).toBe('1'); // the best last, over the others
    expect(drawn.at(-1)![2]).toBe('#d62728');
    // trial 1 has no momentum: its line breaks there (its activation alone is a dot)
    expect(drawn.filter((l) => l[1] === '1').map((l) => l[3]!.split(' ').length)).toEqual([2]);
    expect(svg).toMatch(/<circle data-trial="1" /);
    expect(drawn.filter((l) => l[1] === '0')).toHaveLength(1);
    expect(drawn.find((l) => l[1] === '0')![3]!.split(' ')).toHaveLength(4);
  });

  it('darker is better in the search direction', () => {
    const color = (svg: string, id: string) => lines(svg).find((l) => l[1] === id)![2];
    const lum = (c: string) =>
      c
        .match(/\d+/g)!
        .map(Number)
        .reduce((a, b) => a + b, 0);
    const max = parallelCoordinates('t', trials, 'acc', 'maximize');
    expect(lum(color(max, '2')!)).toBeLessThan(lum(color(max, '0')!)); // 0.85 beats 0.71
    const min = parallelCoordinates('t', trials, 'loss', 'minimize');
    expect(lum(color(min, '0')!)).toBeLessThan(lum(color(min, '2')!)); // 0.71 beats 0.85
  });

  it('is part of the search section of the run report', () => {
    const html = renderSearch({
      stage: 'tune',
      tunes: 'train',
      method: 'tpe',
      metric: 'val_accuracy',
      direction: 'maximize',
      best: 1,
      trials: trials.map((t) => ({ ...t, state: t.value === null ? 'failed' : 'complete', bestSoFar: null })),
    });
    expect(html).toContain('aria-label="parameters and val_accuracy"');
  });
});

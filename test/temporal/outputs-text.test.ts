import { describe, expect, it } from 'vitest';
import { outputsText } from '../../src/temporal/outputs-text.ts';

const ref = { kind: 'model', uri: 'file:///x/sha256/ab/abcd', digest: 'sha256:abcd', sizeBytes: 10 };

describe('a finished stage in one line', () => {
  it('shows scalars and small objects, leaves artifact references and lists out', () => {
    expect(outputsText({ dataset: ref, rows: 150, droppedRows: 2 })).toBe('rows=150 droppedRows=2');
    expect(outputsText({ metrics: ref, passed: true, accuracy: 0.966666666, f1: 0.9 })).toBe('passed=true accuracy=0.9667 f1=0.9');
    expect(outputsText({ deployment: ref, version: 'v2', endpoint: 'http://127.0.0.1:8501/v1/models/iris' })).toBe(
      'version=v2 endpoint=http://127.0.0.1:8501/v1/models/iris',
    );
    expect(outputsText({ model: ref, best: { lr: 0.0001234, units: 32 }, bestValue: 0.95, trials: ref })).toBe(
      'best.lr=1.234e-4 best.units=32 bestValue=0.95',
    );
    expect(outputsText({ history: [1, 2], loss: null })).toBe('');
    expect(outputsText(undefined)).toBe('');
  });

  it('stays one readable line', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`metric_${i}`, i / 7]));
    const line = outputsText(many);
    expect(line.length).toBeLessThanOrEqual(162);
    expect(line.endsWith(' …')).toBe(true);
  });
});

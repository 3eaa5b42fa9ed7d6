import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import { validateFile } from '../../src/spec/validate.ts';

const dir = new URL('../../pipelines/', import.meta.url).pathname;
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('example pipelines', () => {
  it('there are at least the four documented examples', () => {
    expect(examples).toEqual(expect.arrayContaining(['mnist-lenet.yaml', 'iris-mlp.yaml', 'regression.yaml', 'lifecycle.yaml']));
  });

  it.each(examples)('%s validates and compiles deterministically', async (f) => {
    const r = await validateFile(dir + f);
    expect(r.diagnostics).toEqual([]);
    const a = await compileFile(dir + f);
    const b = await compileFile(dir + f);
    expect(JSON.stringify(a.plan)).toBe(JSON.stringify(b.plan));
    expect(a.plan.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(JSON.stringify(a.plan))).toEqual(a.plan);
  });

  it('the LeNet example has the seed model', async () => {
    const { plan } = await compileFile(dir + 'mnist-lenet.yaml');
    const train = plan.nodes.find((n) => n.id === 'train')!;
    const layers = (train.config.model as { layers: { type: string; filters?: number; units?: number; kernelSize?: number }[] }).layers;
    expect(layers.map((l) => l.type)).toEqual(['conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'dense', 'dense', 'dense']);
    expect(layers.map((l) => l.filters ?? l.units ?? null)).toEqual([6, null, 16, null, null, 120, 84, 10]);
    expect(layers[0]).toMatchObject({ kernelSize: 5, activation: 'relu', padding: 'same' }); // 28x28 digits; the seed's input was 32x32
  });

  it('the life-cycle example uses every stage kind and has a schedule', async () => {
    const { plan } = await compileFile(dir + 'lifecycle.yaml');
    expect(new Set(plan.nodes.map((n) => n.kind))).toEqual(
      new Set(['collect', 'preprocess', 'train', 'optimize', 'evaluate', 'deploy', 'monitor', 'activity']),
    );
    expect(plan.schedule).toMatchObject({ cron: ['0 3 * * *'], timezone: 'Europe/Berlin', overlap: 'skip', catchupWindowMs: 6 * 3600_000 });
  });
});

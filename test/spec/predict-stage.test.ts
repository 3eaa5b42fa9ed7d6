// The predict stage kind in the spec: what binds to its inputs, what compiles, and the located
// errors for a wiring that cannot work.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compiler/compile.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateLoaded } from '../../src/spec/validate.ts';

const spec = (score: string) => `apiVersion: mlpipe/v1
metadata: { name: t }
stages:
  data: { type: collect, source: { type: synthetic, generator: blobs, samples: 10, seed: 1 } }
  prep: { type: preprocess, needs: [data], steps: [{ type: split, train: 0.5, test: 0.5 }] }
  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 2 }] }
    optimizer: { type: sgd }
    loss: meanSquaredError
    epochs: 1
  score: ${score}
`;

const validate = (score: string, extra = '') => validateLoaded(loadSpecText('t.yaml', spec(score) + extra), {});
const errors = (score: string, extra = '') =>
  validate(score, extra)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`);

describe('predict stage', () => {
  it('compiles: the raw rows from collect, the model from train, the transform from preprocess; cacheable', () => {
    const r = validate('{ type: predict, needs: [data, train], batchRows: 100 }');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const node = compile(r.valid!, { baseDir: '/base' }).nodes.find((n) => n.id === 'score')!;
    expect(node.kind).toBe('predict');
    expect(node.inputs).toEqual({
      dataset: { stage: 'data', output: 'dataset', kind: 'dataset' },
      model: { stage: 'train', output: 'model', kind: 'model' },
      transform: { stage: 'prep', output: 'transform', kind: 'transform' },
    });
    expect(node.outputs).toEqual({ predictions: 'dataset', rows: 'number' });
    expect(node.cache).toEqual({ enabled: true });
    expect(node.config).toEqual({ batchRows: 100 });
  });

  it('a registered model: pinned to a version it is cached; the version serving now is not', () => {
    const plan = (m: string) =>
      compile(validate(`{ type: predict, needs: [data], model: ${m} }`).valid!, { baseDir: '/b' }).nodes.find((n) => n.id === 'score')!;
    expect(plan('{ name: iris, version: v2 }').cache).toEqual({ enabled: true });
    expect(plan('{ name: iris }').cache).toEqual({ enabled: false });
  });

  it('a wrong input kind is refused where it is written', () => {
    expect(errors('{ type: predict, needs: [train], inputs: { dataset: train } }')).toEqual([
      '13:62 inputs.type-mismatch: input `dataset` of stage `score` needs a dataset, but `train` is not one',
    ]);
    expect(errors('{ type: predict, needs: [data, train], inputs: { model: data.dataset } }')).toEqual([
      '13:66 inputs.type-mismatch: input `model` of stage `score` needs a model, but `data.dataset` is a dataset',
    ]);
  });

  it('no model, two models, or the transformed data: each a located error with its fix', () => {
    expect(errors('{ type: predict, needs: [data] }')).toEqual([
      '13:18 predict.no-model: stage `score` (predict) has no model: no stage it needs produces one and `model` is not set',
    ]);
    expect(errors('{ type: predict, needs: [data, train], inputs: { model: train }, model: { name: iris } }')).toEqual([
      '13:75 predict.model-twice: stage `score` takes its model from the registry (`model`) and from `inputs.model`',
    ]);
    const r = validate('{ type: predict, needs: [train] }').diagnostics;
    expect(r.map((d) => d.code)).toEqual(['predict.transformed-dataset']);
    expect(r[0]!.hint).toBe('score the raw rows, as the model server gets them: `inputs: { dataset: data }`');
  });

  it('the schema holds its fields: a bad split or model name is refused', () => {
    expect(errors('{ type: predict, needs: [data, train], split: holdout }').join('\n')).toMatch(/split/);
    expect(errors('{ type: predict, needs: [data], model: { name: Iris } }').join('\n')).toMatch(/name/);
  });

  it("an evaluate stage scores a predict stage's output when it names it: no model or dataset bound", () => {
    const grade = '  grade: { type: evaluate, needs: [score], metrics: [accuracy], inputs: { predictions: score } }\n';
    const r = validate('{ type: predict, needs: [data, train] }', grade);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const node = compile(r.valid!, { baseDir: '/base' }).nodes.find((n) => n.id === 'grade')!;
    expect(node.inputs).toEqual({ predictions: { stage: 'score', output: 'predictions', kind: 'dataset' } });
    // Without `inputs.predictions` it needs its model and dataset, as before.
    expect(errors('{ type: predict, needs: [data, train] }', '  grade: { type: evaluate, needs: [data], metrics: [accuracy] }\n')).toEqual([
      '14:35 inputs.missing: stage `grade` (evaluate) needs a model, but no stage it needs produces one',
    ]);
    expect(
      errors(
        '{ type: predict, needs: [data, train] }',
        '  grade: { type: evaluate, needs: [score, train], metrics: [accuracy], inputs: { predictions: score, model: train } }\n',
      ),
    ).toEqual([
      '14:102 evaluate.predictions-and-model: stage `grade` scores the predictions it is given ' +
        '(`inputs.predictions`), so it takes no model',
    ]);
    expect(
      errors(
        '{ type: predict, needs: [data, train] }',
        '  grade: { type: evaluate, needs: [score, prep], metrics: [accuracy], inputs: { predictions: prep } }\n',
      ),
    ).toEqual([
      '14:94 evaluate.predictions-source: `inputs.predictions` of stage `grade` comes from `prep`, a ' +
        "preprocess stage; it takes a predict stage's output",
    ]);
  });
});

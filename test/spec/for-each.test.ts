/**
 * forEach in the spec and the plan: the two shapes compile to one plan field with defaults, plans
 * of stages without forEach carry no trace of it, and the checks the schema cannot make give
 * located messages (the corpus test/fixtures/invalid/foreach-*.yaml holds the common mistakes).
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compiler/compile.ts';
import { toDot, toMermaid } from '../../src/compiler/graph.ts';
import { freeRoots } from '../../src/core/expr.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateLoaded } from '../../src/spec/validate.ts';

const spec = (stages: string) => `apiVersion: mlpipe/v1
metadata: { name: t }
params:
  epochs: { type: integer, default: 3, minimum: 1 }
  regions: { type: string, default: "eu,us" }
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 10, seed: 1 }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: split, train: 0.5, test: 0.5 }]
${stages}`;

const train = (extra: string) => `  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 2 }] }
    optimizer: { type: sgd }
    loss: meanSquaredError
    epochs: "\${params.epochs}"
${extra}`;

function check(text: string) {
  const r = validateLoaded(loadSpecText('t.yaml', text));
  return { r, messages: r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`) };
}

function plan(text: string) {
  const { r, messages } = check(text);
  if (!r.valid) throw new Error(messages.join('\n'));
  return compile(r.valid, { baseDir: '/base' });
}

describe('forEach in the plan', () => {
  it('compiles the shorthand with defaults, keeps `${item}` for the workflow, and leaves it out of the config', () => {
    const p = plan(spec(train('    forEach: [1, 2, 3]\n    seed: "${item}"\n')));
    const n = p.nodes.find((x) => x.id === 'train')!;
    expect(n.forEach).toEqual({ items: [1, 2, 3], as: 'item', parallelism: 3, onItemFailure: 'failFast' });
    expect(n.config.seed).toBe('${item}');
    expect(n.config).not.toHaveProperty('forEach');
  });

  it('compiles the long form, with params substituted into the items', () => {
    const p = plan(
      spec(
        train(`    forEach:
      items: "\${params.regions.split(',')}"
      as: region
      parallelism: 1
      onItemFailure: continue
    description: "\${region}"
`),
      ),
    );
    expect(p.nodes.find((x) => x.id === 'train')!.forEach).toEqual({
      items: ['eu', 'us'],
      as: 'region',
      parallelism: 1,
      onItemFailure: 'continue',
    });
  });

  it('draws a forEach stage with its fan-out', () => {
    const p = plan(spec(train('    forEach: [1, 2, 3]\n')));
    expect(toMermaid(p)).toContain('train["train<br/><i>train</i><br/>for each of 3 items"]');
    expect(toDot(p)).toContain('"train" [label="train\\n(train)\\nfor each of 3 items"];');
  });

  it('adds nothing to the nodes of stages without forEach', () => {
    const p = plan(spec(train('')));
    for (const n of p.nodes) expect(n).not.toHaveProperty('forEach');
  });

  it('lets a forEach stage read item i of a forEach stage upstream, and items from its `items`', () => {
    const p = plan(
      spec(`${train('    forEach: { items: [1, 2], as: seed }\n    seed: "${seed}"\n')}  evaluate:
    type: evaluate
    needs: [train]
    forEach: "\${stages.train.items.map(t, t.item)}"
    metrics: [accuracy]
    when: "stages.train.items.exists(t, t.status == 'succeeded')"
`),
    );
    expect(p.nodes.find((x) => x.id === 'evaluate')!.inputs.model).toEqual({ stage: 'train', output: 'model', kind: 'model' });
  });
});

describe('forEach validation', () => {
  it('refuses the item under another name, and in a stage without forEach; a macro variable called item is fine', () => {
    const { messages } = check(
      spec(`${train('    forEach: { items: [1, 2], as: seed }\n    seed: "${item}"\n')}  evaluate:
    type: evaluate
    needs: [train]
    forEach: [1, 2]
    metrics: [accuracy]
    when: "stages.train.outputs.loss.all(item, item < 10.0)"
`),
    );
    expect(messages).toEqual(['22:11 forEach.item-outside stage `train` refers to `item`, but its item is called `seed`']);
  });

  it('refuses `stages.x.items` of a stage without forEach', () => {
    const { messages } = check(
      spec(`${train('')}  evaluate:
    type: evaluate
    needs: [train]
    metrics: [accuracy]
    when: "size(stages.train.items) > 0"
`),
    );
    expect(messages).toEqual(['25:11 expr.unknown-field `when` of stage `evaluate` refers to `stages.train.items`']);
  });

  it('refuses literal item lists of different lengths between a forEach stage and the one it reads from', () => {
    const { messages } = check(
      spec(`${train('    forEach: [1, 2]\n')}  evaluate:
    type: evaluate
    needs: [train]
    forEach: [1, 2, 3]
    metrics: [accuracy]
`),
    );
    expect(messages).toEqual(['25:14 forEach.length-mismatch stage `evaluate` has 3 items but reads `model` from `train`, which has 2']);
  });

  it('refuses a parallelism below 1 and unknown fields, at the field', () => {
    expect(check(spec(train('    forEach: { items: [1], parallelism: 0 }\n'))).messages).toEqual([
      '21:41 schema.minimum `forEach.parallelism` of stage `train` must be >= 1, got 0',
    ]);
    expect(check(spec(train('    forEach: { items: [1], when: x }\n'))).messages).toEqual([
      '21:28 schema.unknown-field unknown field `when` in `forEach` of stage `train`',
    ]);
  });

  it('refuses an optimize stage tuning a forEach stage unless it fans out over the same item', () => {
    const tune = (fe: string) => `  tune:
    type: optimize
    needs: [prep]
    tunes: train
${fe}    space:
      optimizer.learningRate: { type: logUniform, min: 0.0001, max: 0.05 }
    trials: 2
    objective: { metric: loss, direction: minimize }
`;
    const tuned = train('    forEach: { items: [1, 2], as: seed }\n    seed: "${seed}"\n');
    expect(check(spec(tuned + tune(''))).messages).toEqual([
      '26:12 forEach.tunes-for-each stage `tune` tunes `train`, a forEach stage: its trials would not know which item to train on',
    ]);
    expect(check(spec(tuned + tune('    forEach: { items: [1, 2], as: seed }\n'))).messages).toEqual([]);
  });

  it('finds the free variables of an expression, not those its macros bind', () => {
    expect(freeRoots('l.all(x, x > item) && stages.a.outputs.b.exists(item, item == 1)').sort()).toEqual(['item', 'l', 'stages']);
  });
});

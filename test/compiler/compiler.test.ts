import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compiler/compile.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateLoaded } from '../../src/spec/validate.ts';

const spec = (stages: string, extra = '') => `apiVersion: mlpipe/v1
metadata: { name: t }
params:
  epochs: { type: integer, default: 3, minimum: 1 }
  mode: { type: enum, values: [fast, full], default: fast }
${extra}
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 10, seed: 1 }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: split, train: 0.5, test: 0.5 }]
${stages}`;

const train = `  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 2 }] }
    optimizer: { type: sgd }
    loss: meanSquaredError
    epochs: "\${params.epochs}"
`;

function plan(text: string, params: Record<string, string> = {}) {
  const r = validateLoaded(loadSpecText('t.yaml', text), params);
  if (!r.valid) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return compile(r.valid, { baseDir: '/base' });
}

describe('compiler', () => {
  it('substitutes params with their types and hashes the result', () => {
    const a = plan(spec(train));
    const b = plan(spec(train), { epochs: '7' });
    expect(a.nodes.find((n) => n.id === 'train')!.config.epochs).toBe(3);
    expect(b.nodes.find((n) => n.id === 'train')!.config.epochs).toBe(7);
    expect(b.params).toEqual({ epochs: 7, mode: 'fast' });
    expect(a.hash).not.toBe(b.hash);
  });

  it('orders nodes by level then name, and binds inputs to upstream artifacts', () => {
    const p = plan(spec(train + `  check:\n    type: evaluate\n    needs: [train]\n    metrics: [mse]\n`));
    expect(p.nodes.map((n) => n.id)).toEqual(['data', 'prep', 'train', 'check']);
    expect(p.levels).toEqual([['data'], ['prep'], ['train'], ['check']]);
    expect(p.nodes.find((n) => n.id === 'check')!.inputs).toEqual({
      model: { stage: 'train', output: 'model', kind: 'model' },
      dataset: { stage: 'prep', output: 'dataset', kind: 'dataset' },
    });
  });

  it('fills activity options from defaults, kind defaults and stage overrides', () => {
    const p = plan(
      spec(
        train.replace('    needs: [prep]\n', '    needs: [prep]\n    resources: { gpu: 1 }\n    retry: { maxAttempts: 5 }\n'),
        'defaults:\n  retry: { initialInterval: 2s, nonRetryable: [Boom] }\n  taskQueue: ml\n',
      ),
    );
    const t = p.nodes.find((n) => n.id === 'train')!;
    expect(t.activity).toEqual({
      taskQueue: 'mlpipe-gpu',
      startToCloseTimeoutMs: 2 * 3600_000,
      heartbeatTimeoutMs: 60_000,
      retry: {
        maximumAttempts: 5,
        initialIntervalMs: 2000,
        backoffCoefficient: 2,
        maximumIntervalMs: 60_000,
        nonRetryableErrorTypes: ['Boom', 'InvalidInput'],
      },
    });
    const d = p.nodes.find((n) => n.id === 'data')!;
    expect(d.activity.taskQueue).toBe('ml');
    // every kind heartbeats, so a worker dying mid-stage is noticed within the heartbeat timeout
    for (const n of p.nodes) expect(n.activity.heartbeatTimeoutMs, n.kind).toBe(60_000);
    expect(d.location).toEqual({ baseDir: '/base' });
    expect(d.config).not.toHaveProperty('__baseDir');
    expect(t.location).toBeUndefined(); // only collect reads files relative to the spec
  });

  it('keeps stage-output references for the workflow and `when` as written', () => {
    const p = plan(
      spec(
        train +
          `  act:\n    type: activity\n    needs: [train]\n    when: stages.train.outputs.loss < 1.0 && ` +
          `params.mode == "fast"\n    activity: notify\n    input: { text: "loss \${stages.train.outputs.loss} ` +
          `in \${params.mode} mode" }\n`,
      ),
    );
    const act = p.nodes.find((n) => n.id === 'act')!;
    expect(act.when).toBe('stages.train.outputs.loss < 1.0 && params.mode == "fast"');
    expect(act.config.input).toEqual({ text: 'loss ${stages.train.outputs.loss} in fast mode' });
  });

  it('rejects run params that do not fit, naming the param', () => {
    const r = validateLoaded(loadSpecText('t.yaml', spec(train)), { epochs: '0', mode: 'slow', epoch: '1' });
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      '--param epoch: the pipeline declares no param `epoch`',
      '--param epochs=0: param `epochs` must be >= 1, not 0',
      '--param mode=slow: param `mode` must be one of fast, full, not "slow"',
    ]);
    expect(r.diagnostics[0]!.hint).toBe('did you mean `epochs`?');
  });

  it('compiles a 1,000-stage chain', () => {
    const stages = Array.from(
      { length: 1000 },
      (_, i) => `  s${i}:\n    type: activity\n    activity: noop\n${i ? `    needs: [s${i - 1}]\n` : ''}`,
    ).join('');
    const p = plan(`apiVersion: mlpipe/v1\nmetadata: { name: big }\nstages:\n${stages}`);
    expect(p.nodes).toHaveLength(1000);
    expect(p.levels).toHaveLength(1000);
    expect(p.nodes[999]!.needs).toEqual(['s998']);
  });
});

describe('compiler: optimize', () => {
  it('gives an optimize stage the tuned train stage config, params substituted', () => {
    const p = plan(
      spec(
        train +
          `  tune:\n    type: optimize\n    needs: [prep]\n    tunes: train\n    space: { epochs: { type: int, ` +
          `min: 1, max: 3 } }\n    objective: { metric: val_loss, direction: minimize }\n`,
      ),
    );
    const tune = p.nodes.find((n) => n.id === 'tune')!;
    expect(tune.tunedConfig).toMatchObject({ epochs: 3, loss: 'meanSquaredError', optimizer: { type: 'sgd' } });
    expect(tune.tunedConfig).not.toHaveProperty('needs');
    expect(tune.config).not.toHaveProperty('__tunedConfig');
    expect(tune.inputs.dataset).toEqual({ stage: 'prep', output: 'dataset', kind: 'dataset' });
  });
});

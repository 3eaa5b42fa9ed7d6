/**
 * Validate + compile of a generated 1,000-stage pipeline, side by side with plain YAML parsing
 * of the same text (the floor any YAML-based tool pays). Goal: validate + compile < 200 ms.
 */
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { compile } from '../src/compiler/compile.ts';
import { loadSpecText } from '../src/spec/load.ts';
import { validateLoaded } from '../src/spec/validate.ts';

export interface SpecBenchResult {
  stages: number;
  yamlParseMs: number;
  validateCompileMs: number;
  ratio: number;
  goalMs: number;
}

/** A pipeline shaped like real ones: collect → preprocess → many trains and evaluations. */
export function generatePipeline(stages: number): string {
  const out = [
    'apiVersion: mlpipe/v1',
    'metadata: { name: generated }',
    'params:',
    '  epochs: { type: integer, default: 3 }',
    'stages:',
    '  data:',
    '    type: collect',
    '    source: { type: synthetic, generator: blobs, samples: 100, seed: 1 }',
    '  prep:',
    '    type: preprocess',
    '    needs: [data]',
    '    steps: [{ type: split, train: 0.8, test: 0.2, seed: 1 }, { type: standardize }]',
  ];
  // two stages per round (a train and its evaluation) after collect and preprocess
  for (let i = 0; i < (stages - 2) / 2; i++) {
    out.push(
      `  train_${i}:`,
      '    type: train',
      `    needs: [${i ? `train_${i - 1}` : 'prep'}]`,
      '    model: { layers: [{ type: dense, units: 8, activation: relu }, { type: dense, units: 2, activation: softmax }] }',
      '    optimizer: { type: adam, learningRate: 0.01 }',
      '    loss: sparseCategoricalCrossentropy',
      '    metrics: [accuracy]',
      '    epochs: "${params.epochs}"',
      `  eval_${i}:`,
      '    type: evaluate',
      `    needs: [train_${i}]`,
      `    when: stages.train_${i}.outputs.val_accuracy > 0.5`,
      '    metrics: [accuracy, f1Macro]',
    );
  }
  return out.join('\n') + '\n';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function runSpecBench(stages = 1000, reps = 7): SpecBenchResult {
  const text = generatePipeline(stages);
  const parseTimes: number[] = [];
  const fullTimes: number[] = [];
  for (let i = 0; i < reps + 1; i++) {
    let t = performance.now();
    parse(text);
    const p = performance.now() - t;
    t = performance.now();
    const r = validateLoaded(loadSpecText('generated.yaml', text));
    if (!r.valid) throw new Error(`generated pipeline is invalid: ${r.diagnostics[0]?.message}`);
    const plan = compile(r.valid, { baseDir: '/bench' });
    const f = performance.now() - t;
    if (plan.nodes.length < stages) throw new Error(`expected ${stages} stages, got ${plan.nodes.length}`);
    if (i > 0) {
      // the first round warms up the JIT and compiles the schema once
      parseTimes.push(p);
      fullTimes.push(f);
    }
  }
  const yamlParseMs = median(parseTimes);
  const validateCompileMs = median(fullTimes);
  return { stages, yamlParseMs, validateCompileMs, ratio: validateCompileMs / yamlParseMs, goalMs: 200 };
}

export function formatSpecBench(r: SpecBenchResult): string {
  return [
    `spec: validate + compile of a ${r.stages}-stage pipeline (median; goal < ${r.goalMs} ms)`,
    `  yaml.parse            ${r.yamlParseMs.toFixed(1).padStart(8)} ms  1.00x`,
    `  validate + compile    ${r.validateCompileMs.toFixed(1).padStart(8)} ms  ${r.ratio.toFixed(2)}x  ` +
      `${r.validateCompileMs < r.goalMs ? 'ok' : 'over goal'}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatSpecBench(runSpecBench()));
}

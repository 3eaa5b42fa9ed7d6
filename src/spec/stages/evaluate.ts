/**
 * evaluate: scores a model on a dataset's test split and gates the run on its metrics; or, given
 * a predict stage's output (`inputs: { predictions: <stage> }`), scores those predictions.
 */
import type { OutputType } from '../../core/plan.ts';
import type { StageKindDescriptor } from './descriptor.ts';

export const evaluate: StageKindDescriptor<'evaluate'> = {
  kind: 'evaluate',
  inputs: {
    model: { kind: 'model', required: true, unlessNamed: 'predictions' },
    dataset: { kind: 'dataset', required: true, unlessNamed: 'predictions' },
    predictions: { kind: 'dataset', required: false, onlyNamed: true },
  },
  outputs(stage) {
    const out: Record<string, OutputType> = { metrics: 'metrics', passed: 'boolean' };
    for (const m of stage.metrics ?? []) out[m] = m === 'confusionMatrix' ? 'object' : 'number';
    return out;
  },
  defaultStartToClose: '10m',
  cacheable: true,
  check(stage, c) {
    const named = c.pipeline.stages[c.name]?.inputs ?? {};
    if (named.predictions && (named.model || named.dataset)) {
      c.report.error(
        c.at('inputs', named.model ? 'model' : 'dataset'),
        'evaluate.predictions-and-model',
        `stage \`${c.name}\` scores the predictions it is given (\`inputs.predictions\`), so it takes ` +
          `no ${named.model ? 'model' : 'dataset'}`,
        'keep `predictions` to score what a predict stage wrote, or `model` and `dataset` to score the model here',
        'key',
      );
    }
    const from = named.predictions?.split('.')[0];
    const producer = from ? c.pipeline.stages[from] : undefined;
    if (producer && producer.type !== 'predict') {
      c.report.error(
        c.at('inputs', 'predictions'),
        'evaluate.predictions-source',
        `\`inputs.predictions\` of stage \`${c.name}\` comes from \`${from}\`, a ${producer.type} stage; it takes a predict stage's output`,
        'name a predict stage, or use `dataset` (with a model) for a dataset',
      );
    }
    (stage.gates ?? []).forEach((g, i) => {
      if (!stage.metrics.includes(g.metric)) {
        c.report.error(
          c.at('gates', i, 'metric'),
          'evaluate.gate-metric',
          `gate on \`${g.metric}\` but stage \`${c.name}\` does not compute it`,
          `add ${g.metric} to \`metrics\``,
        );
      }
      if (g.min !== undefined && g.max !== undefined && g.min > g.max) {
        c.report.error(c.at('gates', i), 'evaluate.gate-range', `gate on \`${g.metric}\` has min ${g.min} > max ${g.max}`);
      }
    });
  },
};

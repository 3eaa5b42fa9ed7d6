/** evaluate: scores a model on a dataset's test split and gates the run on its metrics. */
import type { OutputType } from '../../core/plan.ts';
import type { StageKindDescriptor } from './descriptor.ts';

export const evaluate: StageKindDescriptor<'evaluate'> = {
  kind: 'evaluate',
  inputs: { model: { kind: 'model', required: true }, dataset: { kind: 'dataset', required: true } },
  outputs(stage) {
    const out: Record<string, OutputType> = { metrics: 'metrics', passed: 'boolean' };
    for (const m of stage.metrics ?? []) out[m] = m === 'confusionMatrix' ? 'object' : 'number';
    return out;
  },
  defaultStartToClose: '10m',
  cacheable: true,
  check(stage, c) {
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

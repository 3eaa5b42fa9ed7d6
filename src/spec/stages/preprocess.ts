/** preprocess: splits, cleans, scales and encodes a dataset, fitting a `transform` on the train split. */
import type { StageKindDescriptor } from './descriptor.ts';

export const preprocess: StageKindDescriptor<'preprocess'> = {
  kind: 'preprocess',
  inputs: { dataset: { kind: 'dataset', required: true } },
  outputs: () => ({ dataset: 'dataset', transform: 'transform', rows: 'number' }),
  defaultStartToClose: '10m',
  cacheable: true,
  check(stage, c) {
    stage.steps.forEach((s, i) => {
      if (s.type === 'split') {
        const sum = s.train + (s.validation ?? 0) + (s.test ?? 0);
        if (Math.abs(sum - 1) > 1e-9)
          c.report.error(
            c.at('steps', i),
            'preprocess.split-sum',
            `split shares add up to ${sum}, not 1`,
            'make train + validation + test = 1',
          );
      }
      if (s.type === 'minMaxScale' && s.min !== undefined && s.max !== undefined && s.min >= s.max) {
        c.report.error(c.at('steps', i), 'preprocess.range', `minMaxScale has min ${s.min} >= max ${s.max}`);
      }
      if (s.type === 'impute' && s.strategy === 'constant' && s.value === undefined) {
        c.report.error(c.at('steps', i), 'preprocess.impute-value', 'impute with strategy constant needs `value`');
      }
    });
  },
};

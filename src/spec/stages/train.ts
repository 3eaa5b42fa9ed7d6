/** train: fits a model on a dataset (optionally warm-started from an upstream model). */
import type { OutputType } from '../../core/plan.ts';
import { suggest } from '../schema.ts';
import type { StageKindDescriptor, StageOf } from './descriptor.ts';

/** Loss, history and every metric, on the train and the validation split. */
export function trainOutputs(stage: Pick<StageOf<'train'>, 'metrics'>): Record<string, OutputType> {
  const out: Record<string, OutputType> = {
    model: 'model',
    history: 'metrics',
    loss: 'number',
    val_loss: 'number',
    epochs: 'number',
    backend: 'string',
  };
  for (const m of stage.metrics ?? []) {
    out[m] = 'number';
    out[`val_${m}`] = 'number';
  }
  return out;
}

export const train: StageKindDescriptor<'train'> = {
  kind: 'train',
  inputs: { dataset: { kind: 'dataset', required: true }, model: { kind: 'model', required: false } },
  outputs: trainOutputs,
  defaultStartToClose: '2h',
  cacheable: true,
  check(stage, c) {
    const m = stage.earlyStopping?.monitor;
    if (!m) return;
    const outs = trainOutputs(stage);
    if (!(m in outs) || outs[m] !== 'number') {
      const s = suggest(
        m,
        Object.keys(outs).filter((k) => outs[k] === 'number'),
      );
      c.report.error(
        c.at('earlyStopping', 'monitor'),
        'train.monitor',
        `early stopping monitors \`${m}\`, which stage \`${c.name}\` does not report`,
        s ? `did you mean \`${s}\`?` : undefined,
      );
    }
  },
};

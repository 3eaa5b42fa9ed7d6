/** train: fits a model on a dataset (optionally warm-started from an upstream model). */
import type { OutputType } from '../../core/plan.ts';
import { allowedProperties, suggest } from '../schema.ts';
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
    checkParams(stage, c);
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

let trainProps: string[] | undefined;

/** `params` written out (not a `${…}` of a search's result): every path starts at a train field. */
function checkParams(stage: StageOf<'train'>, c: Parameters<NonNullable<StageKindDescriptor<'train'>['check']>>[1]): void {
  const params: unknown = stage.params;
  if (!params || typeof params !== 'object') return;
  trainProps ??= allowedProperties({ $ref: '#/$defs/TrainConfig' }).filter((p) => p !== 'params');
  for (const key of Object.keys(params)) {
    const head = key.split(/[.[]/)[0]!;
    if (trainProps.includes(head)) continue;
    const s = suggest(head, trainProps);
    c.report.error(
      c.at('params', key),
      'train.params-path',
      `params \`${key}\` does not name a field of a train stage`,
      s ? `did you mean \`${s}\`?` : undefined,
      'key',
    );
  }
}

/** optimize: searches hyper-parameters of a train stage, training its config once per trial. */
import { allDimensions, SpaceError, type Space } from '../../core/search/space.ts';
import { allowedProperties, suggest } from '../schema.ts';
import { ownFields } from '../stage-common.ts';
import type { StageKindDescriptor } from './descriptor.ts';
import { trainOutputs } from './train.ts';

let trainProps: string[] | undefined;

export const optimize: StageKindDescriptor<'optimize'> = {
  kind: 'optimize',
  inputs: { dataset: { kind: 'dataset', required: true } },
  outputs: () => ({ model: 'model', best: 'object', bestValue: 'number', trials: 'metrics' }),
  defaultStartToClose: '2h',
  cacheable: true,
  check(stage, c) {
    const target = c.pipeline.stages[stage.tunes];
    if (!target) {
      const s = suggest(stage.tunes, Object.keys(c.pipeline.stages));
      c.report.error(
        c.at('tunes'),
        'optimize.unknown-stage',
        `stage \`${c.name}\` tunes \`${stage.tunes}\`, which is not a stage`,
        s ? `did you mean \`${s}\`?` : undefined,
      );
    } else if (target.type !== 'train') {
      c.report.error(
        c.at('tunes'),
        'optimize.not-train',
        `stage \`${c.name}\` tunes \`${stage.tunes}\`, a ${target.type} stage; only train stages can be tuned`,
      );
    } else {
      trainProps ??= allowedProperties({ $ref: '#/$defs/TrainConfig' });
      for (const key of Object.keys(stage.space)) {
        const head = key.split(/[.[]/)[0]!;
        if (!trainProps.includes(head)) {
          const s = suggest(head, trainProps);
          c.report.error(
            c.at('space', key),
            'optimize.unknown-path',
            `search dimension \`${key}\` does not name a field of a train stage`,
            s ? `did you mean \`${s}\`?` : undefined,
            'key',
          );
        }
      }
      const outs = trainOutputs(target);
      const metric = stage.objective.metric;
      if (!(metric in outs) || !['number'].includes(outs[metric]!)) {
        const s = suggest(metric, Object.keys(outs));
        c.report.error(
          c.at('objective', 'metric'),
          'optimize.unknown-metric',
          `objective \`${metric}\` is not a metric stage \`${stage.tunes}\` reports`,
          s ? `did you mean \`${s}\`?` : `add it to \`metrics\` of \`${stage.tunes}\``,
        );
      }
    }
    const before = c.report.diagnostics.length;
    for (const [key, dim] of Object.entries(stage.space)) {
      if ('min' in dim && dim.min >= dim.max)
        c.report.error(c.at('space', key), 'optimize.range', `search dimension \`${key}\` has min ${dim.min} >= max ${dim.max}`);
      if (dim.type === 'logUniform' && dim.min <= 0)
        c.report.error(c.at('space', key, 'min'), 'optimize.log-range', `logUniform \`${key}\` needs min > 0`);
    }
    // Sub-spaces (a choice value's `space`) and the rules the schema cannot say: the search
    // library's own check, naming the dimension by its place (`optimizer.type = "sgd" → ...`).
    let dims: ReturnType<typeof allDimensions> | undefined;
    try {
      dims = allDimensions(stage.space as Space);
    } catch (e) {
      if (!(e instanceof SpaceError)) throw e;
      // the top-level ranges were reported above, where they are
      if (c.report.diagnostics.length === before) {
        c.report.error(c.at('space'), 'optimize.space', e.message.replace(/^space: /, 'search space: '));
      }
    }
    const nested = [...(dims ?? new Map()).entries()].filter(([path]) => !(path in stage.space));
    if (target?.type === 'train') {
      trainProps ??= allowedProperties({ $ref: '#/$defs/TrainConfig' });
      for (const [path, { at }] of nested) {
        const head = path.split(/[.[]/)[0]!;
        if (!trainProps.includes(head))
          c.report.error(c.at('space'), 'optimize.unknown-path', `search dimension \`${at}\` does not name a field of a train stage`);
      }
    }
    const continuous = [...(dims ?? new Map()).values()].some((d) => d.dim.type === 'uniform' || d.dim.type === 'logUniform');
    if (
      stage.method === 'grid' &&
      (continuous || Object.values(stage.space).some((d) => d.type === 'uniform' || d.type === 'logUniform'))
    ) {
      c.report.error(
        c.at('method'),
        'optimize.grid-continuous',
        'grid search needs discrete dimensions (int or choice)',
        'use method: random, or choice values',
      );
    }
  },
  // Trials train the tuned stage's model with overrides: they need its whole config, except its
  // own `params` overrides (usually this search's result, which trials cannot read yet).
  compile: (stage, c) => {
    const { params: _, ...tuned } = ownFields(c.pipeline.stages[stage.tunes]!);
    return { tunedConfig: tuned };
  },
};

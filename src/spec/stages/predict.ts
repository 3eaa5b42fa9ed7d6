/** predict: scores a dataset with a model (upstream or registered) through its saved transform. */
import type { StageKindDescriptor } from './descriptor.ts';

export const predict: StageKindDescriptor<'predict'> = {
  kind: 'predict',
  inputs: {
    dataset: { kind: 'dataset', required: true },
    // Optional: `model: { name }` takes a registered version instead (checked below).
    model: { kind: 'model', required: false },
    transform: { kind: 'transform', required: false },
  },
  outputs: () => ({ predictions: 'dataset', rows: 'number' }),
  defaultStartToClose: '30m',
  // Its output is a function of its inputs: the same dataset, model and transform give the same rows.
  cacheable: true,
  // A registered model without a version is whatever the registry serves now: the key cannot see it.
  cacheOffByDefault: (stage) => !!stage.model && stage.model.version === undefined,
  check(stage, c) {
    const bound = c.boundInputs?.();
    if (!bound) return;
    const explicit = c.pipeline.stages[c.name]?.inputs ?? {};
    if (stage.model && explicit.model) {
      c.report.error(
        c.at('model'),
        'predict.model-twice',
        `stage \`${c.name}\` takes its model from the registry (\`model\`) and from \`inputs.model\``,
        'keep one: `model: { name, version }` for a registered version, or `inputs.model` for an upstream train stage',
        'key',
      );
    }
    // The transform applied to the data it already transformed would score features twice scaled.
    if (bound.dataset && bound.dataset.stage === bound.transform?.stage) {
      const raw = c.pipeline.stages[bound.dataset.stage]?.needs?.[0];
      c.report.error(
        c.at(...(explicit.dataset ? ['inputs', 'dataset'] : ['type'])),
        'predict.transformed-dataset',
        `stage \`${c.name}\` would score \`${bound.dataset.stage}\`'s output, which its transform has already been applied to`,
        `score the raw rows, as the model server gets them: \`inputs: { dataset: ${raw ?? '<collect stage>'} }\``,
      );
    }
    // (a wrong explicit `inputs.model` has its own error already)
    if (!stage.model && !bound.model && !explicit.model) {
      c.report.error(
        c.at('type'),
        'predict.no-model',
        `stage \`${c.name}\` (predict) has no model: no stage it needs produces one and \`model\` is not set`,
        'add a train or optimize stage to `needs`, or name a registered version: `model: { name: <model>, version: v1 }`',
      );
    }
  },
};

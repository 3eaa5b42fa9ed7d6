/** deploy: registers a model version in the registry, sets its traffic and serves it. */
import type { StageKindDescriptor } from './descriptor.ts';

export const deploy: StageKindDescriptor<'deploy'> = {
  kind: 'deploy',
  inputs: { model: { kind: 'model', required: true }, transform: { kind: 'transform', required: false } },
  outputs: () => ({ deployment: 'deployment', version: 'string', endpoint: 'string' }),
  defaultStartToClose: '10m',
  // Its purpose is the registry's state: a rerun must deploy again, whatever the registry serves now.
  cacheable: false,
};

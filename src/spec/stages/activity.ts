/** activity: a user's own function (`--activities <file>`), run in a child process of the worker. */
import type { OutputType } from '../../core/plan.ts';
import type { StageKindDescriptor } from './descriptor.ts';

export const activity: StageKindDescriptor<'activity'> = {
  kind: 'activity',
  inputs: {},
  outputs: (stage) => ({ ...((stage.outputs as Record<string, OutputType> | undefined) ?? {}) }),
  defaultStartToClose: '10m',
  // mlpipe cannot tell a pure function from one that notifies, writes or calls out: it always runs.
  cacheable: false,
};

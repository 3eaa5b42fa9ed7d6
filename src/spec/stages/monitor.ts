/** monitor: checks a deployment's live metrics and its inputs' drift; alerts or retrains on a breach. */
import { reportUrlCredentials, type StageKindDescriptor } from './descriptor.ts';

export const monitor: StageKindDescriptor<'monitor'> = {
  kind: 'monitor',
  inputs: { deployment: { kind: 'deployment', required: false }, dataset: { kind: 'dataset', required: false } },
  outputs: () => ({ report: 'metrics', drifted: 'boolean', breached: 'boolean' }),
  defaultStartToClose: '10m',
  // It observes the world as it is now, and may alert or start a retrain.
  cacheable: false,
  check(stage, c) {
    reportUrlCredentials(c, c.at('onBreach', 'webhook'), stage.onBreach?.webhook);
    if (stage.onBreach?.action === 'retrain' && stage.onBreach.webhook) {
      c.report.error(c.at('onBreach', 'webhook'), 'monitor.webhook', '`webhook` goes with action alert', 'drop it or use action: alert');
    }
  },
};

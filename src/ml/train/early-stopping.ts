// Early stopping for fit(): watch one logged value per epoch, remember the best epoch (and, if
// asked, its weights) and say when patience has run out. Its bookkeeping travels in checkpoints,
// so a resumed run stops where an uninterrupted one would.
import type * as TfModule from '@tensorflow/tfjs';
import type { EarlyStopping, EpochLogs, TrainingState } from './fit.ts';

type Tf = typeof TfModule;
type Best = NonNullable<TrainingState['best']>;

export class EarlyStopper {
  private readonly monitor: string;
  private readonly mode: 'min' | 'max';
  private readonly minDelta: number;
  private best: Best;
  /** The best epoch's weights, with restoreBestWeights. */
  private bestWeights: TfModule.Tensor[] | null = null;

  /** `es` undefined: nothing is watched and training never stops early. */
  constructor(
    private readonly tf: Tf,
    private readonly es: EarlyStopping | undefined,
    hasValidation: boolean,
    resumed: Best | undefined,
  ) {
    this.monitor = es?.monitor ?? (hasValidation ? 'val_loss' : 'loss');
    this.mode = monitorMode(this.monitor, es?.mode);
    this.minDelta = Math.abs(es?.minDelta ?? 0);
    this.best = resumed ?? { value: this.mode === 'min' ? Infinity : -Infinity, epoch: -1, wait: 0 };
  }

  /** Record an epoch's logs; true when training should stop here. */
  update(model: TfModule.LayersModel, epoch: number, logs: EpochLogs): boolean {
    const es = this.es;
    if (!es) return false;
    const current = logs[this.monitor];
    if (current === undefined) {
      throw new Error(`earlyStopping.monitor: '${this.monitor}' is not logged; available: ${Object.keys(logs).join(', ')}`);
    }
    const improved = this.mode === 'min' ? current < this.best.value - this.minDelta : current > this.best.value + this.minDelta;
    if (improved) {
      this.best = { value: current, epoch, wait: 0 };
      if (es.restoreBestWeights) {
        this.tf.dispose(this.bestWeights ?? []);
        this.bestWeights = model.getWeights().map((w) => this.tf.keep(w.clone()));
      }
      return false;
    }
    return ++this.best.wait >= Math.max(1, es.patience ?? 0);
  }

  /** What a checkpoint records (nothing without early stopping). */
  checkpointBest(): Best | undefined {
    return this.es ? this.best : undefined;
  }

  /** The best epoch so far, or null (none yet, or no early stopping). */
  bestEpoch(): number | null {
    return this.es && this.best.epoch >= 0 ? this.best.epoch : null;
  }

  /** Put the best epoch's weights back, if they were kept; returns that epoch, else null. */
  restoreBest(model: TfModule.LayersModel): number | null {
    if (!this.bestWeights) return null;
    model.setWeights(this.bestWeights);
    return this.best.epoch;
  }

  dispose(): void {
    this.tf.dispose(this.bestWeights ?? []);
    this.bestWeights = null;
  }
}

function monitorMode(monitor: string, mode: EarlyStopping['mode']): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  return /acc|precision|recall|auc|f1/i.test(monitor) ? 'max' : 'min';
}

// The `model`, `optimizer`, `learningRateSchedule` and `loss` parts of a train stage, as the
// training engine sees them. The shapes come from the types generated from the pipeline JSON
// Schema (src/spec/types.gen.ts), so the engine cannot drift from what a spec may say. Field
// names are tfjs-style camelCase so they map 1:1 onto layer configs.
import type {
  Activation,
  Initializer,
  IntOrPair,
  Layer,
  LearningRateSchedule,
  Loss,
  Model,
  Optimizer,
  Regularizer,
} from '../../spec/types.gen.ts';

export type { Activation, Initializer, Regularizer };

/** A size given once for every spatial dimension, or per dimension. */
export type Size2 = IntOrPair;
export type Padding = 'valid' | 'same';

export type LayerSpec = Layer;
export type DenseLayer = Extract<LayerSpec, { type: 'dense' }>;
export type Conv2dLayer = Extract<LayerSpec, { type: 'conv2d' }>;

export type ModelSpec = Model;
export type OptimizerSpec = Optimizer;
export type LearningRateScheduleSpec = LearningRateSchedule;
export type LossName = Loss;

/**
 * Metric names of the training engine (tfjs's vocabulary). The spec's train `metrics`
 * (accuracy, mse, mae, precision, recall) map onto these in activities/train.ts.
 */
export type MetricName =
  | 'accuracy'
  | 'categoricalAccuracy'
  | 'sparseCategoricalAccuracy'
  | 'binaryAccuracy'
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'precision'
  | 'recall';

/** Everything needed to build and compile a model. */
export interface TrainModelSpec {
  model: ModelSpec;
  optimizer: OptimizerSpec;
  learningRateSchedule?: LearningRateScheduleSpec;
  loss: LossName;
  metrics?: MetricName[];
}

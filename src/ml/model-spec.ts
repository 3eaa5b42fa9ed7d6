// The `model`, `optimizer`, `learningRateSchedule`, `loss` and `metrics` parts of a train stage.
// Hand-written to match the pipeline JSON Schema; to be replaced by the types generated from it
// (`npm run gen:types`). Field names are tfjs-style camelCase so they map 1:1 onto layer configs.

export type Activation =
  | 'relu'
  | 'relu6'
  | 'sigmoid'
  | 'hardSigmoid'
  | 'tanh'
  | 'softmax'
  | 'softplus'
  | 'softsign'
  | 'linear'
  | 'elu'
  | 'selu'
  | 'swish'
  | 'mish'
  | 'gelu';

export type Initializer =
  | 'glorotUniform'
  | 'glorotNormal'
  | 'heNormal'
  | 'heUniform'
  | 'leCunNormal'
  | 'leCunUniform'
  | 'zeros'
  | 'ones'
  | 'randomNormal'
  | 'randomUniform'
  | 'truncatedNormal'
  | 'orthogonal';

export interface Regularizer {
  l1?: number;
  l2?: number;
}

export type Padding = 'valid' | 'same';
/** A size given once for every spatial dimension, or per dimension. */
export type Size2 = number | [number, number];

interface LayerBase {
  name?: string;
  /** false freezes the layer's weights (fine-tuning, warm starts). */
  trainable?: boolean;
}

interface WeightedLayer extends LayerBase {
  activation?: Activation;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

export interface DenseLayer extends WeightedLayer {
  type: 'dense';
  units: number;
}
export interface Conv2dLayer extends WeightedLayer {
  type: 'conv2d';
  filters: number;
  kernelSize: Size2;
  strides?: Size2;
  padding?: Padding;
  dilationRate?: Size2;
}
export interface Pooling2dLayer extends LayerBase {
  type: 'maxPooling2d' | 'averagePooling2d';
  poolSize?: Size2;
  strides?: Size2;
  padding?: Padding;
}
export interface FlattenLayer extends LayerBase {
  type: 'flatten';
}
export interface DropoutLayer extends LayerBase {
  type: 'dropout';
  rate: number;
}
export interface BatchNormalizationLayer extends LayerBase {
  type: 'batchNormalization';
  momentum?: number;
  epsilon?: number;
  axis?: number;
  center?: boolean;
  scale?: boolean;
}
export interface RecurrentLayer extends LayerBase {
  type: 'lstm' | 'gru';
  units: number;
  returnSequences?: boolean;
  activation?: Activation;
  recurrentActivation?: Activation;
  dropout?: number;
  recurrentDropout?: number;
  kernelInitializer?: Initializer;
  recurrentInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
}
export interface EmbeddingLayer extends LayerBase {
  type: 'embedding';
  inputDim: number;
  outputDim: number;
  embeddingsInitializer?: Initializer;
  embeddingsRegularizer?: Regularizer;
}

export type LayerSpec =
  | DenseLayer
  | Conv2dLayer
  | Pooling2dLayer
  | FlattenLayer
  | DropoutLayer
  | BatchNormalizationLayer
  | RecurrentLayer
  | EmbeddingLayer;

export type LayerType = LayerSpec['type'];

export interface ModelSpec {
  /** Shape of one sample without the batch dimension; else the dataset gives it. */
  inputShape?: number[];
  layers: LayerSpec[];
}

export type OptimizerSpec =
  | { type: 'sgd'; learningRate?: number; momentum?: number; nesterov?: boolean }
  | { type: 'adam'; learningRate?: number; beta1?: number; beta2?: number; epsilon?: number }
  | { type: 'rmsprop'; learningRate?: number; rho?: number; momentum?: number; epsilon?: number }
  | { type: 'adagrad'; learningRate?: number; initialAccumulatorValue?: number };

export type OptimizerType = OptimizerSpec['type'];

export type LearningRateScheduleSpec =
  | { type: 'step'; stepEpochs: number; gamma: number }
  | { type: 'exponential'; decayRate: number; decayEpochs?: number }
  | { type: 'cosine'; minLearningRate?: number };

export type LossName =
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy'
  | 'binaryCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError';

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

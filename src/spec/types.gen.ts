/* Generated from schema/pipeline.schema.json by `npm run gen:types`. Do not edit. */

/**
 * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Duration".
 */
export type Duration = string;
/**
 * Step cache: `true`/`false`, or `{ enabled, ttl }`. On by default.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Cache".
 */
export type Cache =
  | boolean
  | {
      enabled?: boolean;
      ttl?: Duration;
    };
/**
 * `fail` (default): the run fails when retries are exhausted. `wait`: it waits for an operator's retry or skip (fix and continue).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "OnFailure".
 */
export type OnFailure = 'fail' | 'wait';
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Stage".
 */
export type Stage =
  | CollectStage
  | PreprocessStage
  | TrainStage
  | EvaluateStage
  | OptimizeStage
  | DeployStage
  | MonitorStage
  | ActivityStage;
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "CollectStage".
 */
export type CollectStage = StageCommon & {
  type: 'collect';
  source: CsvSource | JsonSource | MnistSource | SyntheticSource;
  schema?: {
    /**
     * @minItems 1
     */
    columns?: Column[];
    /**
     * The target column.
     */
    label?: string;
  };
  /**
   * Rows that do not fit the schema: fail (default) or drop them, counted.
   */
  onBadRows?: 'fail' | 'drop';
};
/**
 * A stage name: lower-case letters, digits and `_`, starting with a letter (usable as `stages.<name>` in expressions).
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "StageName".
 */
export type StageName = string;
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "CsvSource".
 */
export type CsvSource = FileOrUrl & {
  type: 'csv';
  /**
   * First row names the columns. Default true.
   */
  header?: boolean;
  delimiter?: string;
};
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "JsonSource".
 */
export type JsonSource = FileOrUrl & {
  type: 'json' | 'ndjson';
};
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "PreprocessStage".
 */
export type PreprocessStage = StageCommon & {
  type: 'preprocess';
  /**
   * The target column (default: the dataset's declared label).
   */
  label?: string;
  /**
   * @minItems 1
   */
  steps: PreprocessStep[];
};
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "PreprocessStep".
 */
export type PreprocessStep =
  | {
      type: 'select' | 'drop';
      columns: Columns;
    }
  | {
      type: 'impute';
      columns?: Columns;
      strategy?: 'mean' | 'median' | 'mostFrequent' | 'constant';
      value?: string | number | boolean;
    }
  | {
      type: 'standardize';
      columns?: Columns;
    }
  | {
      type: 'minMaxScale';
      columns?: Columns;
      min?: number;
      max?: number;
    }
  | {
      type: 'oneHot' | 'labelEncode';
      columns: Columns;
    }
  | {
      type: 'reshape';
      /**
       * @minItems 1
       */
      shape: number[];
    }
  | {
      type: 'augment';
      flipHorizontal?: boolean;
      flipVertical?: boolean;
      shiftPixels?: number;
      /**
       * Augmented copies per training example. Default 1.
       */
      copies?: number;
      seed?: number;
    }
  | {
      type: 'shuffle';
      seed?: number;
    }
  | {
      type: 'split';
      train: number;
      validation?: number;
      test?: number;
      seed?: number;
      /**
       * Keep the label's class shares in every split.
       */
      stratify?: boolean;
    };
/**
 * @minItems 1
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Columns".
 */
export type Columns = string[];
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "TrainStage".
 */
export type TrainStage = StageCommon &
  TrainConfig & {
    type: 'train';
  };
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Layer".
 */
export type Layer =
  | {
      type: 'dense';
      name?: string;
      units: number;
      activation?: Activation;
      useBias?: boolean;
      kernelInitializer?: Initializer;
      kernelRegularizer?: Regularizer;
      biasRegularizer?: Regularizer;
      trainable?: boolean;
      biasInitializer?: Initializer;
    }
  | {
      type: 'conv2d';
      name?: string;
      filters: number;
      kernelSize: IntOrPair;
      strides?: IntOrPair;
      padding?: 'valid' | 'same';
      activation?: Activation;
      useBias?: boolean;
      kernelInitializer?: Initializer;
      kernelRegularizer?: Regularizer;
      trainable?: boolean;
      biasInitializer?: Initializer;
      biasRegularizer?: Regularizer;
      dilationRate?: IntOrPair;
    }
  | {
      type: 'maxPooling2d' | 'averagePooling2d';
      name?: string;
      poolSize?: IntOrPair;
      strides?: IntOrPair;
      padding?: 'valid' | 'same';
      trainable?: boolean;
    }
  | {
      type: 'flatten';
      name?: string;
      trainable?: boolean;
    }
  | {
      type: 'dropout';
      name?: string;
      rate: number;
      trainable?: boolean;
    }
  | {
      type: 'batchNormalization';
      name?: string;
      momentum?: number;
      epsilon?: number;
      trainable?: boolean;
      axis?: number;
      center?: boolean;
      scale?: boolean;
    }
  | {
      type: 'lstm' | 'gru';
      name?: string;
      units: number;
      activation?: Activation;
      returnSequences?: boolean;
      dropout?: number;
      kernelInitializer?: Initializer;
      kernelRegularizer?: Regularizer;
      trainable?: boolean;
      recurrentActivation?: Activation;
      recurrentDropout?: number;
      recurrentInitializer?: Initializer;
    }
  | {
      type: 'embedding';
      name?: string;
      inputDim: number;
      outputDim: number;
      trainable?: boolean;
      embeddingsInitializer?: Initializer;
      embeddingsRegularizer?: Regularizer;
    };
/**
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
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "IntOrPair".
 */
export type IntOrPair = number | number[];
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Optimizer".
 */
export type Optimizer =
  | {
      type: 'sgd';
      learningRate?: number;
      momentum?: number;
      nesterov?: boolean;
    }
  | {
      type: 'adam';
      learningRate?: number;
      beta1?: number;
      beta2?: number;
      epsilon?: number;
    }
  | {
      type: 'rmsprop';
      learningRate?: number;
      rho?: number;
      momentum?: number;
      epsilon?: number;
    }
  | {
      type: 'adagrad';
      learningRate?: number;
      initialAccumulatorValue?: number;
    };
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "LearningRateSchedule".
 */
export type LearningRateSchedule =
  | {
      type: 'step';
      stepEpochs: number;
      gamma: number;
    }
  | {
      type: 'exponential';
      decayRate: number;
      decayEpochs?: number;
    }
  | {
      type: 'cosine';
      minLearningRate?: number;
    };
/**
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
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "TrainMetric".
 */
export type TrainMetric = 'accuracy' | 'mse' | 'mae' | 'precision' | 'recall';
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "EvaluateStage".
 */
export type EvaluateStage = StageCommon & {
  type: 'evaluate';
  /**
   * Default test.
   */
  split?: 'test' | 'validation' | 'train';
  /**
   * @minItems 1
   */
  metrics: EvalMetric[];
  /**
   * Thresholds; the `passed` output is true when every gate holds.
   */
  gates?: {
    metric: EvalMetric;
    min?: number;
    max?: number;
  }[];
  /**
   * A label in the evaluated data that the model was not trained on (its class ids come from the training transform): `error` (default) fails the stage naming the label and its rows; `ownClass` counts each such label as a class of its own (every such row is a miss) and warns in the metrics artifact and the report.
   */
  unseenLabels?: 'error' | 'ownClass';
};
/**
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
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "OptimizeStage".
 */
export type OptimizeStage = StageCommon & {
  type: 'optimize';
  /**
   * A stage name: lower-case letters, digits and `_`, starting with a letter (usable as `stages.<name>` in expressions).
   */
  tunes: string;
  /**
   * Dimension per config path of the tuned stage, e.g. `optimizer.learningRate`, `model.layers[2].units`.
   */
  space: {
    [k: string]: SearchDimension;
  };
  /**
   * Default random.
   */
  method?: 'grid' | 'random' | 'successiveHalving';
  /**
   * Trials in all (random, successive halving). Default 10.
   */
  trials?: number;
  /**
   * Trials running at once. Default 1.
   */
  parallelism?: number;
  seed?: number;
  objective: {
    /**
     * A metric of the tuned stage's outputs, e.g. `val_accuracy`.
     */
    metric: string;
    direction: 'minimize' | 'maximize';
  };
};
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "SearchDimension".
 */
export type SearchDimension =
  | {
      type: 'uniform' | 'logUniform';
      min: number;
      max: number;
    }
  | {
      type: 'int';
      min: number;
      max: number;
      step?: number;
    }
  | {
      type: 'choice';
      /**
       * @minItems 1
       */
      values: (string | number | boolean)[];
    };
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "DeployStage".
 */
export type DeployStage = StageCommon & {
  type: 'deploy';
  modelName: string;
  /**
   * How the new version is named. Default increment.
   */
  versionPolicy?: 'increment' | 'gitSha' | 'timestamp';
  strategy?:
    | {
        type: 'replace';
      }
    | {
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
        type: 'shadow';
      };
  rollback?: {
    errorRateAbove?: number;
    latencyP95Above?: Duration;
    accuracyBelow?: number;
  };
  server?: {
    /**
     * Default 127.0.0.1.
     */
    host?: string;
    port?: number;
  };
};
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "MonitorStage".
 */
export type MonitorStage = StageCommon & {
  type: 'monitor';
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  window?: string;
  metrics?: ('latencyP50' | 'latencyP95' | 'errorRate' | 'requests' | 'accuracy')[];
  drift?: {
    feature: string;
    test: 'psi' | 'ks';
    threshold: number;
  }[];
  onBreach?: {
    action: 'alert' | 'retrain';
    /**
     * The pipeline to start on retrain (default: this one).
     */
    pipeline?: string;
    params?: {
      [k: string]: string | number | boolean;
    };
    webhook?: string;
  };
};
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "ActivityStage".
 */
export type ActivityStage = StageCommon & {
  type: 'activity';
  /**
   * Name of an activity registered by the worker (`mlpipe worker --activities <module>`).
   */
  activity: string;
  /**
   * Any JSON; `${…}` references are resolved.
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
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Metadata".
 */
export interface Metadata {
  /**
   * Pipeline name (DNS label: lower-case letters, digits and `-`, at most 63 characters).
   */
  name: string;
  description?: string;
  labels?: {
    [k: string]: string;
  };
  owners?: string[];
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Param".
 */
export interface Param {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'enum';
  /**
   * Value when a run does not set it; required unless `required: true`.
   */
  default?: string | number | boolean;
  description?: string;
  /**
   * Allowed values of an `enum` param.
   *
   * @minItems 1
   */
  values?: (string | number)[];
  minimum?: number;
  maximum?: number;
  /**
   * The run must set it (no default).
   */
  required?: boolean;
}
/**
 * Options every stage gets unless it sets its own.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Defaults".
 */
export interface Defaults {
  retry?: RetryPolicy;
  timeouts?: Timeouts;
  heartbeatTimeout?: Duration;
  /**
   * Default `mlpipe`.
   */
  taskQueue?: string;
  /**
   * Queue of stages with resources.gpu > 0. Default `mlpipe-gpu`.
   */
  gpuTaskQueue?: string;
  cache?: Cache;
  onFailure?: OnFailure;
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "RetryPolicy".
 */
export interface RetryPolicy {
  /**
   * Attempts in all, the first included. Default 3.
   */
  maxAttempts?: number;
  /**
   * Wait before the first retry. Default 1s.
   */
  initialInterval?: string;
  /**
   * Multiplier of the wait after each retry. Default 2.
   */
  backoff?: number;
  /**
   * Longest wait between retries. Default 1m.
   */
  maxInterval?: string;
  /**
   * Error types that fail the stage at once.
   */
  nonRetryable?: string[];
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Timeouts".
 */
export interface Timeouts {
  /**
   * Longest one attempt may run. Default 10m (train and optimize: 2h).
   */
  startToClose?: string;
  /**
   * Longest all attempts together may take.
   */
  scheduleToClose?: string;
}
/**
 * Retrain on a schedule: becomes a Temporal Schedule with `mlpipe apply`.
 *
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Schedule".
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
            every: Duration;
            offset?: Duration;
          }
      )[];
  /**
   * IANA time zone of the cron expressions, e.g. `Europe/Berlin`. Default UTC.
   */
  timezone?: string;
  jitter?: Duration;
  /**
   * What to do when a run is due while the last one is still running. Default `skip`.
   */
  overlap?: 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther' | 'allowAll';
  /**
   * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
   */
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  paused?: boolean;
  note?: string;
  /**
   * Params of scheduled runs.
   */
  params?: {
    [k: string]: string | number | boolean;
  };
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "StageCommon".
 */
export interface StageCommon {
  type?: 'collect' | 'preprocess' | 'train' | 'evaluate' | 'optimize' | 'deploy' | 'monitor' | 'activity';
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
  retry?: RetryPolicy;
  timeouts?: Timeouts;
  heartbeatTimeout?: Duration;
  taskQueue?: string;
  resources?: Resources;
  cache?: Cache;
  onFailure?: OnFailure;
  /**
   * Wait for `mlpipe approve <run> <stage>` before starting.
   */
  approval?: boolean;
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Resources".
 */
export interface Resources {
  cpu?: number;
  /**
   * E.g. `512Mi`, `4Gi`.
   */
  memory?: string;
  /**
   * GPUs; a stage with gpu > 0 runs on the GPU task queue.
   */
  gpu?: number;
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "FileOrUrl".
 */
export interface FileOrUrl {
  /**
   * A file, relative to the pipeline file's directory; it may not leave it.
   */
  path?: string;
  /**
   * An http(s) URL, streamed.
   */
  url?: string;
  /**
   * Expected SHA-256 of the file: 64 lower-case hex digits.
   */
  sha256?: string;
  /**
   * Size limit. Default 100 MiB.
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
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "MnistSource".
 */
export interface MnistSource {
  type: 'mnist';
  /**
   * How many of the 10,000 digits. Default all.
   */
  limit?: number;
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "SyntheticSource".
 */
export interface SyntheticSource {
  type: 'synthetic';
  generator: 'blobs' | 'regression' | 'images';
  samples?: number;
  features?: number;
  classes?: number;
  noise?: number;
  imageSize?: number;
  seed?: number;
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Column".
 */
export interface Column {
  name: string;
  type: 'number' | 'integer' | 'string' | 'boolean' | 'category';
  nullable?: boolean;
  /**
   * Allowed values of a category column.
   */
  values?: (string | number | boolean)[];
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "TrainConfig".
 */
export interface TrainConfig {
  model?: Model;
  optimizer?: Optimizer;
  learningRateSchedule?: LearningRateSchedule;
  loss?: Loss;
  metrics?: TrainMetric[];
  epochs?: number;
  /**
   * Default 32.
   */
  batchSize?: number;
  /**
   * Share of the training split held out when the dataset has no validation split.
   */
  validationSplit?: number;
  shuffle?: boolean;
  seed?: number;
  earlyStopping?: {
    /**
     * Default `val_loss`.
     */
    monitor?: string;
    patience?: number;
    minDelta?: number;
    mode?: 'min' | 'max';
    restoreBest?: boolean;
  };
  classWeights?:
    | 'balanced'
    | {
        [k: string]: number;
      };
  checkpoint?: {
    everyEpochs?: number;
    everyMinutes?: number;
    /**
     * Default 3.
     */
    keepLast?: number;
  };
  warmStart?: {
    /**
     * A registered model name (see deploy).
     */
    model: string;
    /**
     * Default: the latest.
     */
    version?: string;
    /**
     * Freeze the first N layers (transfer learning).
     */
    freezeLayers?: number;
  };
  /**
   * Default auto: GPU if one initialises, else native CPU.
   */
  backend?: 'auto' | 'gpu' | 'cpu';
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Model".
 */
export interface Model {
  /**
   * Shape of one example; by default the dataset's.
   *
   * @minItems 1
   */
  inputShape?: number[];
  /**
   * @minItems 1
   */
  layers: Layer[];
}
/**
 * This interface was referenced by `Pipeline`'s JSON-Schema
 * via the `definition` "Regularizer".
 */
export interface Regularizer {
  l1?: number;
  l2?: number;
}

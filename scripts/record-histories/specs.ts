/**
 * The pipelines the history recorder runs besides the examples in pipelines/: each is small and
 * fast, and together they take every path of the interpreter workflow. `activity` stages call
 * test/support/activities.ts (noop, sleepFor, flaky, fail, needsFix), which the recorder's
 * worker loads. No two stages share a config: the step cache would answer the second.
 */
const head = (name: string) => `apiVersion: mlpipe/v1\nmetadata: { name: ${name} }\n`;

export const fixAndContinue = `${head('fix-and-continue')}
params:
  round: { type: integer, default: 1 }
stages:
  first: { type: activity, activity: noop, input: { value: first } }
  fragile:
    type: activity
    activity: needsFix
    needs: [first]
    onFailure: wait
    retry: { maxAttempts: 1 }
  optional:
    type: activity
    activity: fail
    input: { message: a failure the operator skips, nonRetryable: true }
    needs: [first]
    onFailure: wait
  after_optional: { type: activity, activity: noop, input: { value: after_optional }, needs: [optional] }
  last: { type: activity, activity: noop, input: { value: last }, needs: [fragile], when: "params.round == 2" }
`;

export const approvalGate = `${head('approval-gate')}
stages:
  build: { type: activity, activity: noop, input: { value: build } }
  ship: { type: activity, activity: noop, input: { value: ship }, needs: [build], approval: true }
  announce: { type: activity, activity: noop, input: { value: announce }, needs: [ship] }
  risky: { type: activity, activity: noop, input: { value: risky }, needs: [build], approval: true }
  after_risky: { type: activity, activity: noop, input: { value: after_risky }, needs: [risky] }
`;

export const whenSkips = `${head('when-skips')}
params:
  threshold: { type: number, default: 0.9 }
stages:
  score: { type: activity, activity: noop, input: { value: 0.5 }, outputs: { value: number } }
  flaky:
    type: activity
    activity: flaky
    input: { failTimes: 1 }
    retry: { maxAttempts: 2, initialInterval: 100ms }
  deploy: { type: activity, activity: noop, input: { value: deploy }, needs: [score, flaky], when: "stages.score.outputs.value > params.threshold" }
  notify: { type: activity, activity: noop, input: { value: notify }, needs: [deploy] }
  report: { type: activity, activity: noop, input: { value: report }, needs: [score], when: "stages.score.outputs.value <= params.threshold" }
`;

export const failedRun = `${head('failed-run')}
stages:
  slow:
    type: activity
    activity: sleepFor
    input: { ms: 30000, beatMs: 100 }
    heartbeatTimeout: 2s
  bad:
    type: activity
    activity: fail
    input: { message: bad data in column x, nonRetryable: true }
  after: { type: activity, activity: noop, input: { value: after }, needs: [bad] }
`;

export const cancelledRun = `${head('cancelled-run')}
stages:
  long:
    type: activity
    activity: sleepFor
    input: { ms: 60000, beatMs: 100 }
    heartbeatTimeout: 2s
  next: { type: activity, activity: noop, input: { value: next }, needs: [long] }
`;

/** A chain of `n` no-op stages. */
export function chain(n: number): string {
  const id = (i: number) => `n${String(i).padStart(2, '0')}`;
  const stages = Array.from(
    { length: n },
    (_, i) => `  ${id(i)}: { type: activity, activity: noop, input: { value: ${i} }${i ? `, needs: [${id(i - 1)}]` : ''} }`,
  );
  return `${head('continue-as-new')}stages:\n${stages.join('\n')}\n`;
}

/** Never fires by itself (1 January, 03:00): the recorder triggers it. */
export const scheduled = `${head('scheduled-run')}
params:
  value: { type: integer, default: 1 }
schedule:
  cron: "0 3 1 1 *"
  overlap: skip
  params: { value: 7 }
stages:
  first: { type: activity, activity: noop, input: { value: "\${params.value}" } }
  second: { type: activity, activity: noop, input: { value: second }, needs: [first] }
`;

const smallModel = `
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 400, features: 4, classes: 2, noise: 1, seed: 1 }
  prep:
    type: preprocess
    needs: [data]
    steps:
      - { type: split, train: 0.8, test: 0.2, seed: 1 }
      - { type: standardize }
  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 2, activation: softmax }] }
    optimizer: { type: adam, learningRate: 0.05 }
    loss: sparseCategoricalCrossentropy
    epochs: 2
    batchSize: 32
    seed: 1
  evaluate:
    type: evaluate
    needs: [train, prep]
    metrics: [accuracy]`;

/** v1 takes all traffic; v2 (same run) goes out as a 20% canary beside it. */
export const deployCanary = `${head('deploy-canary')}
stages:${smallModel}
  stable:
    type: deploy
    needs: [evaluate, train, prep]
    modelName: record-canary
    strategy: { type: replace }
  canary:
    type: deploy
    needs: [stable, train, prep]
    modelName: record-canary
    strategy: { type: canary, weight: 20, duration: 10m }
    rollback: { errorRateAbove: 0.5 }
`;

/** test/durability/train-kill.test.ts's spec: long enough (16 epochs) to be killed in the middle of training. */
export const trainKill = (queue: string) => `${head('worker-killed')}
defaults:
  taskQueue: ${queue}
  retry: { maxAttempts: 5, initialInterval: 200ms }
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 12000, features: 16, classes: 4, noise: 8, seed: 5 }
  prep:
    type: preprocess
    needs: [data]
    steps:
      - { type: split, train: 0.8, validation: 0.1, test: 0.1, seed: 2, stratify: true }
      - { type: standardize }
  train:
    type: train
    needs: [prep]
    heartbeatTimeout: 3s
    model:
      layers:
        - { type: dense, units: 128, activation: relu }
        - { type: dense, units: 128, activation: relu }
        - { type: dense, units: 4, activation: softmax }
    optimizer: { type: sgd, learningRate: 0.01, momentum: 0.9 }
    loss: sparseCategoricalCrossentropy
    metrics: [accuracy]
    epochs: 16
    batchSize: 16
    seed: 8
    checkpoint: { everyEpochs: 1, keepLast: 2 }
  evaluate:
    type: evaluate
    needs: [train]
    metrics: [accuracy]
`;

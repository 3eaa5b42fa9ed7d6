/**
 * The pipeline the durability tests kill mid-training: synthetic blobs → split and standardize →
 * an MLP that checkpoints every epoch with a 3 s heartbeat timeout (so a dead worker's stage moves
 * quickly) → evaluate; `extra` appends stages (YAML, indented as stages).
 */
export function killableTrainSpec(o: { name: string; queue: string; samples: number; epochs: number; extra?: string }): string {
  return `apiVersion: mlpipe/v1
metadata: { name: ${o.name} }
defaults:
  taskQueue: ${o.queue}
  retry: { maxAttempts: 5, initialInterval: 200ms }
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: ${o.samples}, features: 16, classes: 4, noise: 8, seed: 5 }
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
    epochs: ${o.epochs}
    batchSize: 16
    seed: 8
    checkpoint: { everyEpochs: 1, keepLast: 2 }
  evaluate:
    type: evaluate
    needs: [train]
    metrics: [accuracy]
${o.extra ?? ''}`;
}

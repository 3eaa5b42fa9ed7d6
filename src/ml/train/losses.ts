// Per-sample losses and metric accumulators for src/ml/train/fit.ts. Written against tf ops directly
// (not the layers API's string losses) so that logits and probabilities, sparse labels and
// class weights are all handled in one place.
import type * as TfModule from '@tensorflow/tfjs';
import type { LossName, MetricName } from './model-spec.ts';
import type { OutputKind } from './model.ts';

type Tf = typeof TfModule;
type Tensor = TfModule.Tensor;

const EPS = 1e-7;

/** Labels as class indices [B] (sparse) for one-hot or index labels. */
function labelIndices(y: Tensor, loss: LossName): Tensor {
  if (loss === 'sparseCategoricalCrossentropy') return y.reshape([-1]).toInt();
  return y.argMax(-1);
}

/**
 * Per-sample loss [B]. `out` is the model output; `kind` says whether it holds logits.
 * sparseCategoricalCrossentropy takes integer class labels of shape [B] or [B, 1].
 */
export function perSampleLoss(tf: Tf, loss: LossName, out: Tensor, y: Tensor, kind: OutputKind): Tensor {
  switch (loss) {
    case 'categoricalCrossentropy':
    case 'sparseCategoricalCrossentropy': {
      const classes = out.shape[out.shape.length - 1]!;
      const target = loss === 'sparseCategoricalCrossentropy' ? tf.oneHot(y.reshape([-1]).toInt(), classes).toFloat() : y;
      const logp = kind === 'logits' ? tf.logSoftmax(out) : tf.log(tf.clipByValue(out, EPS, 1 - EPS));
      return tf.neg(tf.sum(tf.mul(target, logp), -1));
    }
    case 'binaryCrossentropy': {
      const yy = y.reshape(out.shape).toFloat();
      let l: Tensor;
      if (kind === 'logits') {
        // max(x,0) - x*y + log(1 + exp(-|x|)): stable for large |x|
        l = tf.add(tf.sub(tf.relu(out), tf.mul(out, yy)), tf.log1p(tf.exp(tf.neg(tf.abs(out)))));
      } else {
        const p = tf.clipByValue(out, EPS, 1 - EPS);
        l = tf.neg(tf.add(tf.mul(yy, tf.log(p)), tf.mul(tf.sub(1, yy), tf.log(tf.sub(1, p)))));
      }
      return meanOverSample(tf, l);
    }
    case 'meanSquaredError':
      return meanOverSample(tf, tf.squaredDifference(out, y.reshape(out.shape)));
    case 'meanAbsoluteError':
      return meanOverSample(tf, tf.abs(tf.sub(out, y.reshape(out.shape))));
    default:
      throw new Error(
        `loss: unknown loss ${JSON.stringify(loss)}; use categoricalCrossentropy, ` +
          'sparseCategoricalCrossentropy, binaryCrossentropy, meanSquaredError or meanAbsoluteError',
      );
  }
}

function meanOverSample(tf: Tf, t: Tensor): Tensor {
  if (t.rank === 1) return t;
  return tf.mean(t.reshape([t.shape[0]!, -1]), 1);
}

/** How metrics are computed for a loss: classification metrics need a class per sample. */
export function isClassification(loss: LossName): boolean {
  return loss.endsWith('rossentropy');
}

/**
 * Per-batch sums that add up across batches into epoch metrics. Classification: `correct`
 * count and a confusion matrix (for precision/recall); regression: squared and absolute error
 * sums. Returned tensors are scalars or [C, C].
 */
export function metricSums(
  tf: Tf,
  loss: LossName,
  metrics: MetricName[],
  out: Tensor,
  y: Tensor,
  kind: OutputKind,
): Record<string, Tensor> {
  const sums: Record<string, Tensor> = {};
  const needs = new Set(metrics.map(normaliseMetric));
  if (isClassification(loss) && (needs.has('accuracy') || needs.has('precision') || needs.has('recall'))) {
    let pred: Tensor;
    let truth: Tensor;
    let classes: number;
    if (loss === 'binaryCrossentropy') {
      const threshold = kind === 'logits' ? 0 : 0.5;
      pred = tf.greater(out, threshold).toInt().reshape([-1]);
      truth = tf.greater(y.reshape([-1]), 0.5).toInt();
      classes = 2;
    } else {
      pred = out.argMax(-1);
      truth = labelIndices(y, loss);
      classes = out.shape[out.shape.length - 1]!;
    }
    sums.correct = tf.sum(tf.equal(pred, truth).toFloat());
    if (needs.has('precision') || needs.has('recall')) {
      sums.confusion = tf.matMul(tf.oneHot(truth, classes).toFloat(), tf.oneHot(pred, classes).toFloat(), true, false);
    }
  }
  if (needs.has('meanSquaredError')) sums.se = tf.sum(tf.squaredDifference(out, y.reshape(out.shape)));
  if (needs.has('meanAbsoluteError')) sums.ae = tf.sum(tf.abs(tf.sub(out, y.reshape(out.shape))));
  if (needs.has('meanSquaredError') || needs.has('meanAbsoluteError')) sums.elements = tf.scalar(out.size);
  return sums;
}

type CanonicalMetric = 'accuracy' | 'precision' | 'recall' | 'meanSquaredError' | 'meanAbsoluteError';

function normaliseMetric(m: MetricName): CanonicalMetric {
  switch (m) {
    case 'accuracy':
    case 'categoricalAccuracy':
    case 'sparseCategoricalAccuracy':
    case 'binaryAccuracy':
      return 'accuracy';
    case 'precision':
    case 'recall':
    case 'meanSquaredError':
    case 'meanAbsoluteError':
      return m;
    default:
      throw new Error(
        `metrics: unknown metric ${JSON.stringify(m)}; use accuracy, precision, recall, meanSquaredError or meanAbsoluteError`,
      );
  }
}

/** Turn accumulated sums (host numbers) into named metric values, keyed as the spec names them. */
export function finishMetrics(metrics: MetricName[], samples: number, sums: Record<string, number | Float32Array>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    const c = normaliseMetric(m);
    if (c === 'accuracy' && typeof sums.correct === 'number') out[m] = sums.correct / samples;
    if (c === 'meanSquaredError' && typeof sums.se === 'number') out[m] = sums.se / (sums.elements as number);
    if (c === 'meanAbsoluteError' && typeof sums.ae === 'number') out[m] = sums.ae / (sums.elements as number);
    if ((c === 'precision' || c === 'recall') && sums.confusion instanceof Float32Array) {
      out[m] = macro(sums.confusion, c);
    }
  }
  return out;
}

/** Macro-averaged precision or recall from a row-major confusion matrix (rows: truth). */
function macro(conf: Float32Array, which: 'precision' | 'recall'): number {
  const k = Math.round(Math.sqrt(conf.length));
  // Binary: the positive class only, as is usual.
  const classes = k === 2 ? [1] : [...Array(k).keys()];
  let total = 0;
  let counted = 0;
  for (const c of classes) {
    let denom = 0;
    for (let j = 0; j < k; j++) denom += which === 'precision' ? conf[j * k + c]! : conf[c * k + j]!;
    const tp = conf[c * k + c]!;
    if (denom > 0) {
      total += tp / denom;
      counted++;
    }
  }
  return counted ? total / counted : 0;
}

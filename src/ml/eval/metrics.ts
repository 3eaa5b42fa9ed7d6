// Evaluation metrics with scikit-learn's definitions (sklearn.metrics, zero_division=0):
// classes are the sorted union of the true and predicted labels (unless given), the confusion
// matrix has true labels in rows, F1 per class is 2·tp / (2·tp + fp + fn), macro is the plain
// mean over classes, weighted weighs by true support, ROC AUC is binary or one-vs-rest macro.
// Checked against scikit-learn's own numbers in test/ml/eval/metrics.test.ts.

import type { EvalMetric } from '../../spec/types.gen.ts';

/** The evaluate stage's metric names, as the schema defines them. */
export type EvalMetricName = EvalMetric;

export const REGRESSION_METRICS: readonly EvalMetricName[] = ['mse', 'mae', 'r2'];

type Labels = ArrayLike<number>;

function check(yTrue: ArrayLike<unknown>, yPred: ArrayLike<unknown>): void {
  if (yTrue.length !== yPred.length) throw new Error(`metrics: ${yTrue.length} true values but ${yPred.length} predictions`);
  if (yTrue.length === 0) throw new Error('metrics: no samples');
}

export function accuracy(yTrue: Labels, yPred: Labels): number {
  check(yTrue, yPred);
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

export function classLabels(yTrue: Labels, yPred: Labels): number[] {
  return [...new Set([...Array.from(yTrue), ...Array.from(yPred)])].sort((a, b) => a - b);
}

/** Rows: true label, columns: predicted label, both in `labels` order. */
export function confusionMatrix(yTrue: Labels, yPred: Labels, labels = classLabels(yTrue, yPred)): number[][] {
  check(yTrue, yPred);
  const index = new Map(labels.map((l, i) => [l, i]));
  const m = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = index.get(yTrue[i]!);
    const p = index.get(yPred[i]!);
    if (t !== undefined && p !== undefined) m[t]![p]!++;
  }
  return m;
}

const div = (a: number, b: number) => (b === 0 ? 0 : a / b); // zero_division=0

export interface PrfScores {
  precision: number;
  recall: number;
  f1: number;
}

/** Precision, recall and F1 under one averaging, as sklearn's precision_recall_fscore_support. */
export function precisionRecallF1(
  yTrue: Labels,
  yPred: Labels,
  average: 'micro' | 'macro' | 'weighted',
  labels = classLabels(yTrue, yPred),
): PrfScores {
  const cm = confusionMatrix(yTrue, yPred, labels);
  const k = labels.length;
  const tp = cm.map((r, i) => r[i]!);
  const predicted = labels.map((_, j) => cm.reduce((s, r) => s + r[j]!, 0));
  const support = cm.map((r) => r.reduce((a, b) => a + b, 0));
  if (average === 'micro') {
    const TP = tp.reduce((a, b) => a + b, 0);
    const P = predicted.reduce((a, b) => a + b, 0);
    const S = support.reduce((a, b) => a + b, 0);
    return { precision: div(TP, P), recall: div(TP, S), f1: div(2 * TP, P + S) };
  }
  const p = tp.map((t, i) => div(t, predicted[i]!));
  const r = tp.map((t, i) => div(t, support[i]!));
  const f = tp.map((t, i) => div(2 * t, predicted[i]! + support[i]!));
  if (average === 'macro') {
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / k;
    return { precision: mean(p), recall: mean(r), f1: mean(f) };
  }
  const total = support.reduce((a, b) => a + b, 0);
  const wmean = (a: number[]) =>
    div(
      a.reduce((s, v, i) => s + v * support[i]!, 0),
      total,
    );
  return { precision: wmean(p), recall: wmean(r), f1: wmean(f) };
}

/** Binary ROC AUC of `score` for `positive` (Mann-Whitney U with average ranks for ties). */
export function binaryRocAuc(isPositive: ArrayLike<boolean>, score: ArrayLike<number>): number {
  const n = score.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a]! - score[b]!);
  const rank = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]!] === score[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) rank[order[k]!] = avg;
    i = j + 1;
  }
  let pos = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (isPositive[i]) {
      pos++;
      sum += rank[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) {
    throw new Error('rocAuc is undefined when only one class is present in the true labels');
  }
  return (sum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * ROC AUC. `scores`: one number per sample (the positive class's score; binary labels 0/1), or
 * per-class scores [n][k] (one-vs-rest, macro-averaged; class c is column c).
 */
export function rocAuc(yTrue: Labels, scores: ArrayLike<number> | number[][]): number {
  check(yTrue, scores);
  const first = scores[0];
  if (typeof first === 'number') {
    const s = scores as ArrayLike<number>;
    const classes = classLabels(yTrue, []);
    if (classes.length > 2) throw new Error('rocAuc with one score per sample needs binary labels; give per-class scores');
    const positive = classes[classes.length - 1]!;
    return binaryRocAuc(
      Array.from(yTrue, (v) => v === positive),
      s,
    );
  }
  const m = scores as number[][];
  const k = m[0]!.length;
  if (k === 2)
    return binaryRocAuc(
      Array.from(yTrue, (v) => v === 1),
      m.map((r) => r[1]!),
    );
  let total = 0;
  for (let c = 0; c < k; c++)
    total += binaryRocAuc(
      Array.from(yTrue, (v) => v === c),
      m.map((r) => r[c]!),
    );
  return total / k;
}

export function meanSquaredError(yTrue: Labels, yPred: Labels): number {
  check(yTrue, yPred);
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += (yTrue[i]! - yPred[i]!) ** 2;
  return s / yTrue.length;
}

export function meanAbsoluteError(yTrue: Labels, yPred: Labels): number {
  check(yTrue, yPred);
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i]! - yPred[i]!);
  return s / yTrue.length;
}

/** R²; a constant truth gives 1 for a perfect fit, else 0 (sklearn's force_finite). */
export function r2Score(yTrue: Labels, yPred: Labels): number {
  check(yTrue, yPred);
  let mean = 0;
  for (let i = 0; i < yTrue.length; i++) mean += yTrue[i]!;
  mean /= yTrue.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < yTrue.length; i++) {
    res += (yTrue[i]! - yPred[i]!) ** 2;
    tot += (yTrue[i]! - mean) ** 2;
  }
  if (tot === 0) return res === 0 ? 1 : 0;
  return 1 - res / tot;
}

export type MetricValue = number | number[][];

/**
 * Compute the requested metrics. Classification needs `yPred` class ids (and `scores` for
 * rocAuc); regression needs `yPred` values. `classIds`: the confusion matrix's rows and columns
 * (every class the model knows, so it lines up with the class names), default the ids present.
 */
export function computeMetrics(
  names: readonly EvalMetricName[],
  yTrue: Labels,
  yPred: Labels,
  scores?: ArrayLike<number> | number[][],
  classIds?: number[],
): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  for (const name of names) {
    switch (name) {
      case 'accuracy':
        out[name] = accuracy(yTrue, yPred);
        break;
      case 'confusionMatrix':
        out[name] = confusionMatrix(yTrue, yPred, classIds ?? classLabels(yTrue, yPred));
        break;
      case 'rocAuc':
        if (!scores) throw new Error('rocAuc needs prediction scores');
        out[name] = rocAuc(yTrue, scores);
        break;
      case 'mse':
        out[name] = meanSquaredError(yTrue, yPred);
        break;
      case 'mae':
        out[name] = meanAbsoluteError(yTrue, yPred);
        break;
      case 'r2':
        out[name] = r2Score(yTrue, yPred);
        break;
      default: {
        const m = /^(precision|recall|f1)(Micro|Macro|Weighted)$/.exec(name);
        if (!m) throw new Error(`unknown metric ${name}`);
        const prf = precisionRecallF1(yTrue, yPred, m[2]!.toLowerCase() as 'micro' | 'macro' | 'weighted');
        out[name] = prf[m[1] as keyof PrfScores];
      }
    }
  }
  return out;
}

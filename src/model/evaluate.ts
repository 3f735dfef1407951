/**
 * Evaluation metrics for binary scores (pure functions; labels are 0/1, scores are probabilities).
 * Conventions:
 *  - ROC-AUC is the Mann-Whitney statistic with average ranks, so a tie between a positive and a
 *    negative counts one half; null when a class is missing.
 *  - PR-AUC is average precision, sum over distinct score thresholds (descending) of
 *    (recall gain) x (precision at that threshold), tied scores entering together (as scikit-learn's
 *    average_precision_score); null without positives.
 *  - Log loss clips probabilities to [1e-15, 1 - 1e-15]; Brier score is the mean squared error.
 *  - A score predicts positive when score >= threshold. The default threshold maximizes F1 on the
 *    validation split (`bestF1Threshold`), because classes are imbalanced and 0.5 is arbitrary; a
 *    fixed threshold can be configured instead.
 *  - Calibration: equal-width bins over [0, 1] (the last bin includes 1).
 */

export interface ThresholdMetrics {
  threshold: number;
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean score in the bin; null when empty. */
  meanPredicted: number | null;
  /** Fraction of positives in the bin; null when empty. */
  observedRate: number | null;
}

function checkInputs(labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  if (labels.length !== scores.length) {
    throw new RangeError(`labels (${labels.length}) and scores (${scores.length}) differ in length`);
  }
}

/** Example indices in ascending score order, ties by index (a typed array: compact, off the JS heap). */
export function scoreOrder(scores: ArrayLike<number>): Uint32Array {
  if (scores instanceof Float32Array) {
    // A float in [+0, 1] orders as its bits: no comparator call per comparison.
    const bits = new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
    const packed = orderByKey(scores.length, (i) => bits[i]!);
    if (packed) return packed;
  }
  return ascendingOrder(scores);
}

/** Indices by ascending value, ties by index: packed keys where the values allow (orderByKey), else a comparator. */
export function ascendingOrder(values: ArrayLike<number>): Uint32Array {
  const packed = orderByKey(values.length, (i) => values[i]!);
  if (packed) return packed;
  const order = new Uint32Array(values.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => values[a]! - values[b]! || a - b);
}

const INDEX_BITS = 23;
/** Keys below 2^30, so key · 2^23 + index stays an exact double (below 2^53). */
const MAX_KEY = 0x3f800000;

/**
 * Indices 0..n-1 by ascending key(i), ties by index, where every key is an integer in
 * [0, MAX_KEY] (the bits of a float in [+0, 1] are) and n ≤ 2^23; null otherwise. Sorts one
 * Float64Array of key · 2^23 + index natively: about 12 bytes an element, where sorting indices
 * with a comparator takes several times that (V8 copies them into tagged arrays) and is slower.
 */
export function orderByKey(n: number, key: (i: number) => number): Uint32Array | null {
  if (n > 2 ** INDEX_BITS) return null;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = key(i);
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_KEY)) return null;
    packed[i] = k * 2 ** INDEX_BITS + i;
  }
  packed.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = packed[i]! % 2 ** INDEX_BITS;
  return order;
}

/**
 * ROC-AUC of a weighted sample, example i counted `weights[i]` times (0: left out), given
 * `order = scoreOrder(scores)`: the value rocAuc gives on the sample written out (ties count ½),
 * in one pass without sorting again. Null when the sample lacks a class.
 */
export function weightedRocAuc(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  order: Uint32Array,
  weights: ArrayLike<number>,
): number | null {
  let positives = 0;
  let negativesBelow = 0;
  let pairs = 0;
  for (let i = 0; i < order.length; ) {
    const score = scores[order[i]!]!;
    let p = 0;
    let q = 0;
    for (; i < order.length && scores[order[i]!] === score; i++) {
      const k = order[i]!;
      if (labels[k] === 1) p += weights[k]!;
      else q += weights[k]!;
    }
    pairs += p * negativesBelow + 0.5 * p * q;
    positives += p;
    negativesBelow += q;
  }
  if (positives === 0 || negativesBelow === 0) return null;
  return pairs / (positives * negativesBelow);
}

/** Indices by descending score (tied scores adjacent, in no particular order: callers take ties whole). */
export function descendingScoreOrder(scores: ArrayLike<number>): Uint32Array {
  return scoreOrder(scores).reverse();
}

export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  checkInputs(labels, scores);
  const n = labels.length;
  const order = scoreOrder(scores);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  checkInputs(labels, scores);
  const order = descendingScoreOrder(scores);
  let totalPositives = 0;
  for (let i = 0; i < labels.length; i++) totalPositives += labels[i] === 1 ? 1 : 0;
  if (totalPositives === 0) return null;
  let tp = 0;
  let seen = 0;
  let previousRecall = 0;
  let ap = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) {
      tp += labels[order[j]!] === 1 ? 1 : 0;
      seen++;
      j++;
    }
    const recall = tp / totalPositives;
    ap += (recall - previousRecall) * (tp / seen);
    previousRecall = recall;
    i = j;
  }
  return ap;
}

const EPS = 1e-15;

export function logLoss(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  checkInputs(labels, scores);
  if (labels.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, scores[i]!));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

export function brierScore(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  checkInputs(labels, scores);
  if (labels.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (scores[i]! - labels[i]!) ** 2;
  return sum / labels.length;
}

/** Precision, recall and F1 when `score >= threshold` predicts positive (0/0 counts as 0). */
export function thresholdMetrics(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): ThresholdMetrics {
  checkInputs(labels, scores);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i]! >= threshold;
    const positive = labels[i] === 1;
    if (predicted && positive) tp++;
    else if (predicted) fp++;
    else if (positive) fn++;
    else tn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    threshold,
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
    precision,
    recall,
    f1,
  };
}

/**
 * The threshold (one of the scores) that maximizes F1; on equal F1 the higher threshold (fewer
 * alerts). 0.5 when there are no positives.
 */
export function bestF1Threshold(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkInputs(labels, scores);
  const order = descendingScoreOrder(scores);
  let totalPositives = 0;
  for (let i = 0; i < labels.length; i++) totalPositives += labels[i] === 1 ? 1 : 0;
  if (totalPositives === 0) return 0.5;
  let best = 0.5;
  let bestF1 = -1;
  let tp = 0;
  let predicted = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) {
      tp += labels[order[j]!] === 1 ? 1 : 0;
      predicted++;
      j++;
    }
    const f1 = (2 * tp) / (predicted + totalPositives);
    if (f1 > bestF1) {
      bestF1 = f1;
      best = scores[order[i]!]!;
    }
    i = j;
  }
  return best;
}

export function calibrationTable(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  checkInputs(labels, scores);
  const count = new Array<number>(bins).fill(0);
  const sumScore = new Array<number>(bins).fill(0);
  const sumLabel = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const s = scores[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(s * bins)));
    count[b] = (count[b] ?? 0) + 1;
    sumScore[b] = (sumScore[b] ?? 0) + s;
    sumLabel[b] = (sumLabel[b] ?? 0) + (labels[i] ?? 0);
  }
  return count.map((c, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: c,
    meanPredicted: c === 0 ? null : sumScore[b]! / c,
    observedRate: c === 0 ? null : sumLabel[b]! / c,
  }));
}

/** Every metric of one split at one threshold. */
export interface SplitMetrics {
  examples: number;
  positives: number;
  rocAuc: number | null;
  prAuc: number | null;
  logLoss: number | null;
  brier: number | null;
  atThreshold: ThresholdMetrics;
  calibration: CalibrationBin[];
}

export function splitMetrics(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
  calibrationBins = 10,
): SplitMetrics {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  return {
    examples: labels.length,
    positives,
    rocAuc: rocAuc(labels, scores),
    prAuc: averagePrecision(labels, scores),
    logLoss: logLoss(labels, scores),
    brier: brierScore(labels, scores),
    atThreshold: thresholdMetrics(labels, scores, threshold),
    calibration: calibrationTable(labels, scores, calibrationBins),
  };
}

/**
 * Label drift between two splits: their positive rates and the two-proportion z statistic. A model
 * tuned on a train split whose outcome rate differs from the test window's is judged on another
 * problem: its calibration and threshold no longer hold. Flagged when the shift is both unlikely from
 * sampling alone (|z| >= DRIFT_Z) and large (relative change >= DRIFT_RELATIVE).
 */
export const DRIFT_Z = 3;
export const DRIFT_RELATIVE = 0.2;

export interface LabelDrift {
  trainPositiveRate: number;
  testPositiveRate: number;
  /** (test - train) / train; null when train has no positives. */
  relativeChange: number | null;
  /** Two-proportion z statistic; null when undefined (a split empty or one class overall). */
  z: number | null;
  flagged: boolean;
}

export function labelDrift(
  train: { sessions: number; positives: number },
  test: { sessions: number; positives: number },
): LabelDrift {
  const p1 = train.sessions === 0 ? 0 : train.positives / train.sessions;
  const p2 = test.sessions === 0 ? 0 : test.positives / test.sessions;
  const pooled = (train.positives + test.positives) / Math.max(1, train.sessions + test.sessions);
  const se = Math.sqrt(
    pooled * (1 - pooled) * (1 / Math.max(1, train.sessions) + 1 / Math.max(1, test.sessions)),
  );
  const z = train.sessions === 0 || test.sessions === 0 || se === 0 ? null : (p2 - p1) / se;
  const relativeChange = p1 === 0 ? null : (p2 - p1) / p1;
  return {
    trainPositiveRate: p1,
    testPositiveRate: p2,
    relativeChange,
    z,
    flagged:
      z !== null &&
      Math.abs(z) >= DRIFT_Z &&
      (relativeChange === null || Math.abs(relativeChange) >= DRIFT_RELATIVE),
  };
}

/**
 * ROC and precision-recall curves of binary scores (pure), as the points a plot draws: one point
 * per distinct score threshold (descending; tied scores enter together, as in `rocAuc` and
 * `averagePrecision`), thinned to at most `maxPoints` so a card's SVG stays small whatever the
 * test split's size. The first and last points are always kept.
 */
import { descendingScoreOrder } from './evaluate.js';

export interface CurvePoint {
  x: number;
  y: number;
}

function check(labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  if (labels.length !== scores.length) {
    throw new RangeError(`labels (${labels.length}) and scores (${scores.length}) differ in length`);
  }
}

/**
 * (true positives, predicted positives) after each distinct threshold, descending, in typed arrays:
 * a test split has about as many distinct scores as examples, so per-threshold objects would cost
 * tens of bytes each where these cost eight.
 */
function cumulativeCounts(labels: ArrayLike<number>, scores: ArrayLike<number>) {
  const order = descendingScoreOrder(scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  const tp = new Uint32Array(order.length);
  const predicted = new Uint32Array(order.length);
  let count = 0;
  let truePositives = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) {
      truePositives += labels[order[j]!] === 1 ? 1 : 0;
      j++;
    }
    tp[count] = truePositives;
    predicted[count++] = j;
    i = j;
  }
  return { tp, predicted, count, positives, negatives: labels.length - positives };
}

/** The points `point(0..count-1)`, at most `maxPoints` of them as thin() keeps them, built only where kept. */
function thinnedPoints(count: number, maxPoints: number, point: (k: number) => CurvePoint): CurvePoint[] {
  if (maxPoints < 2) throw new RangeError(`maxPoints must be at least 2, got ${maxPoints}`);
  if (count <= maxPoints) return Array.from({ length: count }, (_, k) => point(k));
  const stride = (count - 1) / (maxPoints - 1);
  return Array.from({ length: maxPoints }, (_, k) => point(Math.round(k * stride)));
}

/** Keeps at most `maxPoints` points, evenly spaced by index, the first and last included. */
export function thin(points: CurvePoint[], maxPoints: number): CurvePoint[] {
  return thinnedPoints(points.length, maxPoints, (k) => points[k]!);
}

/** False positive rate (x) against true positive rate (y), from (0, 0) to (1, 1); null when a class is missing. */
export function rocCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  maxPoints = 200,
): CurvePoint[] | null {
  check(labels, scores);
  const { tp, predicted, count, positives, negatives } = cumulativeCounts(labels, scores);
  if (positives === 0 || negatives === 0) return null;
  // Point 0 is (0, 0); point k + 1 is after the k-th threshold.
  return thinnedPoints(count + 1, maxPoints, (k) =>
    k === 0 ? { x: 0, y: 0 } : { x: (predicted[k - 1]! - tp[k - 1]!) / negatives, y: tp[k - 1]! / positives },
  );
}

/** Recall (x) against precision (y), one point per threshold; null without positives. */
export function precisionRecallCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  maxPoints = 200,
): CurvePoint[] | null {
  check(labels, scores);
  const { tp, predicted, count, positives } = cumulativeCounts(labels, scores);
  if (positives === 0) return null;
  return thinnedPoints(count, maxPoints, (k) => ({ x: tp[k]! / positives, y: tp[k]! / predicted[k]! }));
}

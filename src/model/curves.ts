/**
 * ROC and precision-recall curves of binary scores (pure), as the points a plot draws: one point
 * per distinct score threshold (descending; tied scores enter together, as in `rocAuc` and
 * `averagePrecision`), thinned to at most `maxPoints` so a card's SVG stays small whatever the
 * test split's size. The first and last points are always kept.
 */

export interface CurvePoint {
  x: number;
  y: number;
}

function check(labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  if (labels.length !== scores.length) {
    throw new RangeError(`labels (${labels.length}) and scores (${scores.length}) differ in length`);
  }
}

/** (true positives, predicted positives) after each distinct threshold, descending. */
function cumulativeCounts(labels: ArrayLike<number>, scores: ArrayLike<number>) {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  const steps: { tp: number; predicted: number }[] = [];
  let tp = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) {
      tp += labels[order[j]!] === 1 ? 1 : 0;
      j++;
    }
    steps.push({ tp, predicted: j });
    i = j;
  }
  return { steps, positives, negatives: labels.length - positives };
}

/** Keeps at most `maxPoints` points, evenly spaced by index, the first and last included. */
export function thin(points: CurvePoint[], maxPoints: number): CurvePoint[] {
  if (maxPoints < 2) throw new RangeError(`maxPoints must be at least 2, got ${maxPoints}`);
  if (points.length <= maxPoints) return points;
  const out: CurvePoint[] = [];
  const stride = (points.length - 1) / (maxPoints - 1);
  for (let k = 0; k < maxPoints; k++) out.push(points[Math.round(k * stride)]!);
  return out;
}

/** False positive rate (x) against true positive rate (y), from (0, 0) to (1, 1); null when a class is missing. */
export function rocCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  maxPoints = 200,
): CurvePoint[] | null {
  check(labels, scores);
  const { steps, positives, negatives } = cumulativeCounts(labels, scores);
  if (positives === 0 || negatives === 0) return null;
  const points: CurvePoint[] = [{ x: 0, y: 0 }];
  for (const s of steps) points.push({ x: (s.predicted - s.tp) / negatives, y: s.tp / positives });
  return thin(points, maxPoints);
}

/** Recall (x) against precision (y), one point per threshold; null without positives. */
export function precisionRecallCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  maxPoints = 200,
): CurvePoint[] | null {
  check(labels, scores);
  const { steps, positives } = cumulativeCounts(labels, scores);
  if (positives === 0) return null;
  const points = steps.map((s) => ({ x: s.tp / positives, y: s.tp / s.predicted }));
  return thin(points, maxPoints);
}

/**
 * Paired bootstrap of a ROC-AUC difference: is model A really better than model B on this test
 * set, or is the gap within what another draw of test sessions would change? Each resample draws
 * sessions with replacement and scores BOTH models on the same draw (paired), so what they share
 * (hard and easy sessions) cancels out; the interval is the percentile interval of the resampled
 * differences. Examples that belong together (the prefixes of one session) are drawn as a group,
 * because they are not independent. Seeded: the same inputs and seed give the same interval.
 */
import { Rng, seedFor } from '../util/random.js';
import { ascendingOrder, rocAuc, scoreOrder, weightedRocAuc } from './evaluate.js';

export interface BootstrapOptions {
  resamples: number;
  seed: number;
  /** Two-sided coverage of the interval (default 0.95). */
  confidence?: number;
  /** Group of each example (e.g. its session index): groups are drawn whole. Default: each example alone. */
  groups?: ArrayLike<number>;
}

export interface AucDifference {
  /** ROC-AUC of A minus that of B on the whole set; null when a class is missing. */
  difference: number | null;
  lower: number | null;
  upper: number | null;
  confidence: number;
  /** Resamples drawn, and those with both classes (the others have no ROC-AUC and are left out). */
  resamples: number;
  used: number;
  seed: number;
}

/** Linear interpolation between order statistics (type 7, as numpy's default percentile). */
function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/**
 * Each example's group as 0..groupCount-1, numbered in ascending order of the group values (in
 * first-seen order where the values never decrease, as session indices do). Sorting indices by
 * group costs a few bytes per example; a Map from value to number cost tens.
 */
function denseGroups(n: number, groups?: ArrayLike<number>): { groupIndex: Int32Array; groupCount: number } {
  const groupIndex = new Int32Array(n);
  if (!groups) {
    for (let i = 0; i < n; i++) groupIndex[i] = i;
    return { groupIndex, groupCount: n };
  }
  const order = ascendingOrder(groups);
  let groupCount = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && groups[order[k]!] !== groups[order[k - 1]!]) groupCount++;
    groupIndex[order[k]!] = groupCount;
  }
  return { groupIndex, groupCount: n === 0 ? 0 : groupCount + 1 };
}

export function pairedBootstrapAucDifference(
  labels: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: BootstrapOptions,
): AucDifference {
  const n = labels.length;
  if (a.length !== n || b.length !== n) {
    throw new RangeError(`labels (${n}) and scores (${a.length}, ${b.length}) differ in length`);
  }
  const confidence = options.confidence ?? 0.95;
  const aucA = rocAuc(labels, a);
  const aucB = rocAuc(labels, b);
  const difference = aucA === null || aucB === null ? null : aucA - aucB;

  // A resample is a count per group (how often it was drawn), given to every member as its weight;
  // the ROC-AUC of the weighted sample is read off each model's score order, sorted once. Memory is
  // a few arrays of the test set's size however many resamples run, and no resample sorts.
  const { groupIndex, groupCount } = denseGroups(n, options.groups);
  const orderA = scoreOrder(a);
  const orderB = scoreOrder(b);
  const drawn = new Int32Array(groupCount);
  const weights = new Int32Array(n);
  const rng = new Rng(seedFor(options.seed, 'paired-bootstrap'));
  const differences: number[] = [];
  for (let r = 0; r < options.resamples; r++) {
    drawn.fill(0);
    for (let k = 0; k < groupCount; k++) drawn[Math.floor(rng.uniform() * groupCount)]! += 1;
    for (let i = 0; i < n; i++) weights[i] = drawn[groupIndex[i]!]!;
    const ra = weightedRocAuc(labels, a, orderA, weights);
    const rb = weightedRocAuc(labels, b, orderB, weights);
    if (ra !== null && rb !== null) differences.push(ra - rb);
  }
  differences.sort((p, q) => p - q);
  const tail = (1 - confidence) / 2;
  const empty = differences.length === 0;
  return {
    difference,
    lower: empty ? null : quantile(differences, tail),
    upper: empty ? null : quantile(differences, 1 - tail),
    confidence,
    resamples: options.resamples,
    used: differences.length,
    seed: options.seed,
  };
}

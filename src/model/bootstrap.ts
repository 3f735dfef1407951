/**
 * Paired bootstrap of a ROC-AUC difference: is model A really better than model B on this test
 * set, or is the gap within what another draw of test sessions would change? Each resample draws
 * sessions with replacement and scores BOTH models on the same draw (paired), so what they share
 * (hard and easy sessions) cancels out; the interval is the percentile interval of the resampled
 * differences. Examples that belong together (the prefixes of one session) are drawn as a group,
 * because they are not independent. Seeded: the same inputs and seed give the same interval.
 */
import { Rng, seedFor } from '../util/random.js';
import { rocAuc } from './evaluate.js';

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

  // Groups as one flat list of members (start offsets per group): a resample is drawn into three
  // typed buffers reused across resamples, so memory stays at a few copies of the test set however
  // many resamples run (per-resample arrays let the heap grow with the resample count).
  const groupOf = new Map<number, number>();
  const sizes: number[] = [];
  const groupIndex = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const key = options.groups ? options.groups[i]! : i;
    let g = groupOf.get(key);
    if (g === undefined) {
      g = sizes.length;
      groupOf.set(key, g);
      sizes.push(0);
    }
    groupIndex[i] = g;
    sizes[g]! += 1;
  }
  groupOf.clear();
  const groupCount = sizes.length;
  const start = new Int32Array(groupCount + 1);
  let largest = 0;
  for (let g = 0; g < groupCount; g++) {
    start[g + 1] = start[g]! + sizes[g]!;
    largest = Math.max(largest, sizes[g]!);
  }
  const members = new Int32Array(n);
  const filled = start.slice(0, groupCount);
  for (let i = 0; i < n; i++) members[filled[groupIndex[i]!]!++] = i;
  const rng = new Rng(seedFor(options.seed, 'paired-bootstrap'));
  const differences: number[] = [];
  // A resample holds groupCount groups of at most `largest` members.
  const capacity = Math.max(1, Math.min(groupCount * largest, 2 * n));
  let l = new Float64Array(capacity);
  let x = new Float64Array(capacity);
  let y = new Float64Array(capacity);
  const grow = (need: number) => {
    const size = Math.max(need, 2 * l.length);
    const bigger = (old: Float64Array) => {
      const next = new Float64Array(size);
      next.set(old);
      return next;
    };
    [l, x, y] = [bigger(l), bigger(x), bigger(y)];
  };
  for (let r = 0; r < options.resamples; r++) {
    let m = 0;
    for (let k = 0; k < groupCount; k++) {
      const g = Math.floor(rng.uniform() * groupCount);
      const end = start[g + 1]!;
      if (m + end - start[g]! > l.length) grow(m + end - start[g]!);
      for (let j = start[g]!; j < end; j++) {
        const i = members[j]!;
        l[m] = labels[i]!;
        x[m] = a[i]!;
        y[m] = b[i]!;
        m++;
      }
    }
    const ra = rocAuc(l.subarray(0, m), x.subarray(0, m));
    const rb = rocAuc(l.subarray(0, m), y.subarray(0, m));
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

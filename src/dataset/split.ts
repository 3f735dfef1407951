/**
 * Time split: train on the oldest sessions, validate on newer ones, test on the newest, by session
 * start time (quantiles of the session count, so the shares hold whatever the traffic curve). Ties
 * at a boundary (same start time) go to the older split, so a boundary is a point in time.
 *
 * cookieSplit 'exclusive' keeps each cookie in one split without breaking time order: a cookie
 * belongs to the split of its FIRST session; its sessions in a later window are dropped (not moved
 * back, which would train on the future). On traffic where most cookies return, this empties the
 * later windows, which is why 'mixed' is the default.
 */

export type SplitName = 'train' | 'validation' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'validation', 'test'];

export interface SplitFractions {
  train: number;
  validation: number;
}

export interface SplitItem {
  startTime: number;
  sessionId: string;
  cookieId: string;
}

export interface TimeSplit {
  /** Per item (input order): its split, or 'dropped' (exclusive cookies only). */
  assignment: (SplitName | 'dropped')[];
  /** First start time of the validation and test windows (null when that window is empty). */
  boundaries: { validation: number | null; test: number | null };
  droppedForCookie: number;
}

export interface SplitBoundaries {
  /** First start time of the validation and test windows (null when that window is empty). */
  validation: number | null;
  test: number | null;
}

/**
 * The window boundaries from every kept session's start time, ascending: all timeSplit needs, so a
 * streaming reader that keeps only start times (a Float64Array) splits exactly as timeSplit does.
 */
export function splitBoundaries(
  sortedStartTimes: ArrayLike<number>,
  fractions: SplitFractions,
): SplitBoundaries {
  if (!(fractions.train > 0 && fractions.validation >= 0 && fractions.train + fractions.validation < 1)) {
    throw new RangeError(
      `split fractions must satisfy train > 0, validation >= 0, train + validation < 1; got ${JSON.stringify(fractions)}`,
    );
  }
  const n = sortedStartTimes.length;
  // The window boundary is the start time of the session at the quantile; sessions starting at the
  // same time as the one just before the boundary stay with it.
  const boundaryAt = (share: number): number | null => {
    const k = Math.round(n * share);
    if (k >= n) return null;
    const t = sortedStartTimes[k]!;
    const prev = k > 0 ? sortedStartTimes[k - 1]! : Number.NEGATIVE_INFINITY;
    return t > prev ? t : nextGreater(sortedStartTimes, k);
  };
  return {
    validation: boundaryAt(fractions.train),
    test: boundaryAt(fractions.train + fractions.validation),
  };
}

/** The window a session starting at `t` falls in. */
export function windowOf(boundaries: SplitBoundaries, t: number): SplitName {
  const { validation, test } = boundaries;
  return test !== null && t >= test
    ? 'test'
    : validation !== null && t >= validation
      ? 'validation'
      : 'train';
}

export function timeSplit(
  items: readonly SplitItem[],
  fractions: SplitFractions,
  cookieSplit: 'mixed' | 'exclusive' = 'mixed',
): TimeSplit {
  const order = items
    .map((_, i) => i)
    .sort((a, b) => {
      const x = items[a]!;
      const y = items[b]!;
      return (
        x.startTime - y.startTime || (x.sessionId < y.sessionId ? -1 : x.sessionId > y.sessionId ? 1 : 0)
      );
    });
  const boundaries = splitBoundaries(
    Float64Array.from(order, (i) => items[i]!.startTime),
    fractions,
  );
  const assignment: (SplitName | 'dropped')[] = items.map((it) => windowOf(boundaries, it.startTime));
  let droppedForCookie = 0;
  if (cookieSplit === 'exclusive') {
    const firstWindow = new Map<string, SplitName>();
    for (const i of order) {
      const it = items[i]!;
      const own = assignment[i] as SplitName;
      const first = firstWindow.get(it.cookieId);
      if (first === undefined) firstWindow.set(it.cookieId, own);
      else if (first !== own) {
        assignment[i] = 'dropped';
        droppedForCookie++;
      }
    }
  }
  return {
    assignment,
    boundaries: { validation: orNullIfEmpty(boundaries.validation, boundaries.test), test: boundaries.test },
    droppedForCookie,
  };
}

function nextGreater(sorted: ArrayLike<number>, k: number): number | null {
  const t = sorted[k]!;
  for (let j = k + 1; j < sorted.length; j++) if (sorted[j]! > t) return sorted[j]!;
  return null;
}

function orNullIfEmpty(validation: number | null, test: number | null): number | null {
  return validation !== null && test !== null && validation >= test ? null : validation;
}

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

export function timeSplit(
  items: readonly SplitItem[],
  fractions: SplitFractions,
  cookieSplit: 'mixed' | 'exclusive' = 'mixed',
): TimeSplit {
  if (!(fractions.train > 0 && fractions.validation >= 0 && fractions.train + fractions.validation < 1)) {
    throw new RangeError(
      `split fractions must satisfy train > 0, validation >= 0, train + validation < 1; got ${JSON.stringify(fractions)}`,
    );
  }
  const order = items
    .map((_, i) => i)
    .sort((a, b) => {
      const x = items[a]!;
      const y = items[b]!;
      return (
        x.startTime - y.startTime || (x.sessionId < y.sessionId ? -1 : x.sessionId > y.sessionId ? 1 : 0)
      );
    });
  const n = items.length;
  // The window boundary is the start time of the session at the quantile; sessions starting at the
  // same time as the one just before the boundary stay with it.
  const boundaryAt = (share: number): number | null => {
    const k = Math.round(n * share);
    if (k >= n) return null;
    const t = items[order[k]!]!.startTime;
    const prev = k > 0 ? items[order[k - 1]!]!.startTime : Number.NEGATIVE_INFINITY;
    return t > prev ? t : nextGreater(order, items, k);
  };
  const validation = boundaryAt(fractions.train);
  const test = boundaryAt(fractions.train + fractions.validation);
  const windowOf = (t: number): SplitName =>
    test !== null && t >= test ? 'test' : validation !== null && t >= validation ? 'validation' : 'train';

  const assignment: (SplitName | 'dropped')[] = items.map((it) => windowOf(it.startTime));
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
    boundaries: { validation: orNullIfEmpty(validation, test), test },
    droppedForCookie,
  };
}

function nextGreater(order: number[], items: readonly SplitItem[], k: number): number | null {
  const t = items[order[k]!]!.startTime;
  for (let j = k + 1; j < order.length; j++) {
    const u = items[order[j]!]!.startTime;
    if (u > t) return u;
  }
  return null;
}

function orNullIfEmpty(validation: number | null, test: number | null): number | null {
  return validation !== null && test !== null && validation >= test ? null : validation;
}

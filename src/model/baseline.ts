/**
 * The ORDER-BLIND reference model: L2-regularized logistic regression on what a session's events
 * say without their order (orderBlindFeatures): a count of every learned event type, session
 * length, duration, the last event's type, the gap before it and its time of day and week. That is
 * what a careful analyst would fit first, so an LSTM that does not beat it gains nothing from the
 * order of events. Features are standardized with the training means and deviations; the weights
 * are fitted by Newton's method (IRLS), which converges in a few iterations and is deterministic.
 */
import { writeCyclicTime } from '../features/time.js';
import type { ShopEvent } from '../schemas/types.js';

export interface LogisticModel {
  featureNames: string[];
  means: number[];
  scales: number[];
  /** Weights of the standardized features; `bias` is the intercept (not penalized). */
  weights: number[];
  bias: number;
  iterations: number;
}

export interface LogisticOptions {
  /** L2 penalty on the weights: loss = sum of log losses + l2 / 2 * |w|^2. */
  l2: number;
  maxIterations: number;
  /** Stop when no parameter moves more than this in one step. */
  tolerance?: number;
}

/** Order-blind features of one observable sequence. */
export function bagOfEventsFeatures(eventTypes: readonly string[]) {
  const index = new Map(eventTypes.map((t, i) => [t, i]));
  const names = [...eventTypes.map((t) => `count_${t}`), 'count_other', 'events', 'log_duration_s'];
  return {
    names,
    features(events: readonly ShopEvent[]): number[] {
      const x = new Array<number>(names.length).fill(0);
      for (const e of events) x[index.get(e.event_type) ?? eventTypes.length]!++;
      x[eventTypes.length + 1] = events.length;
      const duration = events.length > 0 ? events.at(-1)!.event_time - events[0]!.event_time : 0;
      x[eventTypes.length + 2] = Math.log1p(Math.max(0, duration) / 1000);
      return x;
    },
  };
}

/**
 * The strong baseline's features: the bag of events (counts of `eventTypes` and of every other
 * type, length, log duration), one-hot of the last event's type (or other), log1p(seconds since the
 * event before it), and hour of day and day of week of the last event as sin/cos (UTC), as the
 * encoder spells them.
 */
export function orderBlindFeatures(eventTypes: readonly string[]) {
  const bag = bagOfEventsFeatures(eventTypes);
  const index = new Map(eventTypes.map((t, i) => [t, i]));
  const lastAt = bag.names.length;
  const timeAt = lastAt + eventTypes.length + 1;
  const names = [
    ...bag.names,
    ...eventTypes.map((t) => `last_is_${t}`),
    'last_is_other',
    'log_last_gap_s',
    'hour_sin',
    'hour_cos',
    'dow_sin',
    'dow_cos',
  ];
  return {
    names,
    features(events: readonly ShopEvent[]): number[] {
      const x = [...bag.features(events), ...new Array<number>(names.length - lastAt).fill(0)];
      const last = events.at(-1);
      if (last === undefined) return x;
      x[lastAt + (index.get(last.event_type) ?? eventTypes.length)] = 1;
      const before = events.at(-2);
      x[timeAt] = before ? Math.log1p(Math.max(0, last.event_time - before.event_time) / 1000) : 0;
      writeCyclicTime(last.event_time, x, timeAt + 1);
      return x;
    },
  };
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function fitLogistic(
  rows: readonly number[][],
  labels: readonly number[],
  featureNames: string[],
  options: LogisticOptions,
): LogisticModel {
  const n = rows.length;
  const d = featureNames.length;
  if (n === 0) throw new RangeError('fitLogistic needs at least one row');
  const means = new Array<number>(d).fill(0);
  const scales = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) means[j]! += r[j]! / n;
  for (const r of rows) for (let j = 0; j < d; j++) scales[j]! += (r[j]! - means[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) scales[j] = Math.sqrt(scales[j]!) || 0; // 0 = constant feature, ignored
  const z = rows.map((r) => r.map((v, j) => (scales[j] === 0 ? 0 : (v - means[j]!) / scales[j]!)));

  // Parameters: [bias, w_0..w_{d-1}].
  const p = d + 1;
  const theta = new Array<number>(p).fill(0);
  const tolerance = options.tolerance ?? 1e-9;
  let iterations = 0;
  for (; iterations < options.maxIterations; iterations++) {
    const grad = new Array<number>(p).fill(0);
    const hess = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    for (let i = 0; i < n; i++) {
      const xi = z[i]!;
      let s = theta[0]!;
      for (let j = 0; j < d; j++) s += theta[j + 1]! * xi[j]!;
      const mu = sigmoid(s);
      const w = Math.max(mu * (1 - mu), 1e-12);
      const r = mu - labels[i]!;
      grad[0]! += r;
      hess[0]![0]! += w;
      for (let j = 0; j < d; j++) {
        const xj = xi[j]!;
        grad[j + 1]! += r * xj;
        hess[0]![j + 1]! += w * xj;
        for (let k = 0; k <= j; k++) hess[j + 1]![k + 1]! += w * xj * xi[k]!;
      }
    }
    for (let j = 1; j < p; j++) {
      grad[j]! += options.l2 * theta[j]!;
      hess[j]![j]! += options.l2 + 1e-9;
      hess[j]![0] = hess[0]![j]!;
      for (let k = 1; k < j; k++) hess[k]![j] = hess[j]![k]!;
    }
    const step = solveSymmetric(hess, grad);
    let moved = 0;
    for (let j = 0; j < p; j++) {
      const delta = step[j] ?? 0;
      theta[j] = (theta[j] ?? 0) - delta;
      moved = Math.max(moved, Math.abs(delta));
    }
    if (moved < tolerance) {
      iterations++;
      break;
    }
  }
  return { featureNames, means, scales, weights: theta.slice(1), bias: theta[0]!, iterations };
}

export function predictLogistic(model: LogisticModel, row: ArrayLike<number>): number {
  let s = model.bias;
  for (let j = 0; j < model.weights.length; j++) {
    const scale = model.scales[j]!;
    if (scale !== 0) s += model.weights[j]! * ((row[j]! - model.means[j]!) / scale);
  }
  return sigmoid(s);
}

/** Solves A x = b for a symmetric positive definite A (Gaussian elimination with partial pivoting). */
function solveSymmetric(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const diag = m[col]![col]!;
    if (Math.abs(diag) < 1e-300) continue;
    for (let r = col + 1; r < n; r++) {
      const f = m[r]![col]! / diag;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let c = r + 1; c < n; c++) s -= m[r]![c]! * x[c]!;
    const diag = m[r]![r]!;
    x[r] = Math.abs(diag) < 1e-300 ? 0 : s / diag;
  }
  return x;
}

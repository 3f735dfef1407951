import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bagOfEventsFeatures, fitLogistic, predictLogistic } from '../../src/model/baseline.js';
import {
  averagePrecision,
  bestF1Threshold,
  brierScore,
  calibrationTable,
  logLoss,
  rocAuc,
  splitMetrics,
  thresholdMetrics,
} from '../../src/model/evaluate.js';
import { T0, ev } from '../helpers/events.js';

const close = (actual: number | null, expected: number, what: string, eps = 1e-9) =>
  assert.ok(
    actual !== null && Math.abs(actual - expected) < eps,
    `${what}: expected ${expected}, got ${actual}`,
  );

describe('ROC-AUC', () => {
  const cases: [string, number[], number[], number | null][] = [
    ['perfect ranking', [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1],
    ['inverted ranking', [1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 0],
    ['3 of 4 pairs ordered', [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75],
    ['all tied: one half', [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5],
    // pairs (pos, neg): (0.9, 0.9) tie = 0.5, (0.9, 0.1) = 1, (0.5, 0.9) = 0, (0.5, 0.1) = 1 → 2.5 / 4
    ['a positive tied with a negative', [1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1], 0.625],
    ['only positives', [1, 1], [0.2, 0.3], null],
    ['only negatives', [0, 0], [0.2, 0.3], null],
  ];
  for (const [name, labels, scores, expected] of cases) {
    it(name, () => {
      const auc = rocAuc(labels, scores);
      if (expected === null) assert.equal(auc, null);
      else close(auc, expected, name);
    });
  }
});

describe('PR-AUC (average precision)', () => {
  const cases: [string, number[], number[], number | null][] = [
    // thresholds 0.8 (P 1, R .5), 0.4 (P .5, R .5), 0.35 (P 2/3, R 1) → .5 * 1 + .5 * 2/3
    ['scikit-learn example', [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.5 + 0.5 * (2 / 3)],
    ['perfect', [1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2], 1],
    // tied scores enter together: 0.5 → (P .5, R .5); 0.2 → (P 2/3, R 1)
    ['ties enter together', [1, 0, 1], [0.5, 0.5, 0.2], 0.25 + 0.5 * (2 / 3)],
    ['no positives', [0, 0], [0.1, 0.2], null],
  ];
  for (const [name, labels, scores, expected] of cases) {
    it(name, () => {
      const ap = averagePrecision(labels, scores);
      if (expected === null) assert.equal(ap, null);
      else close(ap, expected, name);
    });
  }
});

describe('log loss and Brier score', () => {
  it('match hand-computed values', () => {
    close(logLoss([1, 0], [0.8, 0.3]), -(Math.log(0.8) + Math.log(0.7)) / 2, 'log loss');
    close(brierScore([1, 0], [0.8, 0.3]), (0.04 + 0.09) / 2, 'brier');
    close(logLoss([1], [0]), -Math.log(1e-15), 'clipped log loss');
    assert.equal(logLoss([], []), null);
    assert.throws(() => brierScore([1], [0.1, 0.2]), RangeError);
  });
});

describe('threshold metrics', () => {
  const labels = [1, 1, 0, 0, 1];
  const scores = [0.9, 0.4, 0.6, 0.2, 0.7];
  it('counts score >= threshold as positive', () => {
    const m = thresholdMetrics(labels, scores, 0.6);
    assert.deepEqual([m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives], [2, 1, 1, 1]);
    close(m.precision, 2 / 3, 'precision');
    close(m.recall, 2 / 3, 'recall');
    close(m.f1, 2 / 3, 'f1');
  });
  it('reports zeros rather than NaN when nothing is predicted positive', () => {
    const m = thresholdMetrics(labels, scores, 0.99);
    assert.deepEqual([m.precision, m.recall, m.f1], [0, 0, 0]);
  });
  it('chooses the F1-maximizing threshold among the scores', () => {
    // F1 at 0.9: 2/4, 0.7: 4/5, 0.6: 4/6, 0.4: 6/7 (best), 0.2: 6/8
    assert.equal(bestF1Threshold(labels, scores), 0.4);
    assert.equal(bestF1Threshold([0, 0], [0.3, 0.4]), 0.5);
  });
});

describe('calibration table', () => {
  it('bins scores into equal-width bins with count, mean prediction and observed rate', () => {
    const table = calibrationTable([0, 1, 0, 1], [0.05, 0.15, 0.12, 1.0], 10);
    assert.equal(table.length, 10);
    assert.deepEqual(table[0], { lower: 0, upper: 0.1, count: 1, meanPredicted: 0.05, observedRate: 0 });
    assert.equal(table[1]!.count, 2);
    close(table[1]!.meanPredicted, 0.135, 'bin 1 mean');
    close(table[1]!.observedRate, 0.5, 'bin 1 rate');
    assert.deepEqual(table[9], { lower: 0.9, upper: 1, count: 1, meanPredicted: 1, observedRate: 1 });
    assert.deepEqual(table[5], { lower: 0.5, upper: 0.6, count: 0, meanPredicted: null, observedRate: null });
  });
  it('is part of the split metrics, which serialize to JSON', () => {
    const m = splitMetrics([0, 1, 1, 0], [0.2, 0.7, 0.6, 0.1], 0.5, 4);
    assert.equal(m.calibration.length, 4);
    assert.equal(m.positives, 2);
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
  });
});

describe('order-blind logistic regression baseline', () => {
  it('extracts event-type counts, length and log duration', () => {
    const bag = bagOfEventsFeatures(['page_view', 'search']);
    assert.deepEqual(bag.names, [
      'count_page_view',
      'count_search',
      'count_other',
      'events',
      'log_duration_s',
    ]);
    const x = bag.features([
      ev('page_view', T0),
      ev('search', T0 + 1000),
      ev('x', T0 + 9000),
      ev('page_view', T0 + 9000),
    ]);
    assert.deepEqual(x.slice(0, 4), [2, 1, 1, 4]);
    close(x[4]!, Math.log1p(9), 'duration');
  });

  const rows = [[0], [1], [2], [3], [4], [5], [6], [7]];
  const labels = [0, 0, 1, 0, 1, 0, 1, 1];

  it('with a huge L2 penalty keeps only the (unpenalized) intercept: the base rate', () => {
    const m = fitLogistic(rows, [0, 0, 0, 1, 0, 0, 0, 1], ['x'], { l2: 1e9, maxIterations: 50 });
    close(m.bias, Math.log(0.25 / 0.75), 'bias', 1e-6);
    close(m.weights[0]!, 0, 'weight', 1e-6);
  });

  it('converges to the penalized optimum (gradient ~ 0) and ranks by the signal', () => {
    const l2 = 0.5;
    const m = fitLogistic(rows, labels, ['x'], { l2, maxIterations: 50 });
    assert.ok(m.iterations < 50, `converged in ${m.iterations} iterations`);
    let gBias = 0;
    let gW = l2 * m.weights[0]!;
    rows.forEach((r, i) => {
      const p = predictLogistic(m, r);
      gBias += p - labels[i]!;
      gW += (p - labels[i]!) * ((r[0]! - m.means[0]!) / m.scales[0]!);
    });
    close(gBias, 0, 'bias gradient', 1e-7);
    close(gW, 0, 'weight gradient', 1e-7);
    assert.ok(m.weights[0]! > 0, 'larger x → more positives');
    assert.deepEqual(fitLogistic(rows, labels, ['x'], { l2, maxIterations: 50 }), m, 'deterministic');
  });

  it('ignores a constant feature', () => {
    const m = fitLogistic(
      [
        [1, 0],
        [1, 1],
        [1, 2],
        [1, 3],
      ],
      [0, 0, 1, 1],
      ['c', 'x'],
      { l2: 1, maxIterations: 30 },
    );
    assert.equal(m.scales[0], 0);
    assert.ok(Number.isFinite(predictLogistic(m, [5, 1])), 'finite prediction');
  });
});

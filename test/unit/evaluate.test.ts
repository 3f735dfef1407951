import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bagOfEventsFeatures,
  fitLogistic,
  orderBlindFeatures,
  predictLogistic,
} from '../../src/model/baseline.js';
import { pairedBootstrapAucDifference } from '../../src/model/bootstrap.js';
import {
  averagePrecision,
  bestF1Threshold,
  brierScore,
  calibrationTable,
  labelDrift,
  logLoss,
  orderByKey,
  rocAuc,
  scoreOrder,
  splitMetrics,
  thresholdMetrics,
  weightedRocAuc,
} from '../../src/model/evaluate.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { Rng } from '../../src/util/random.js';
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
      // Float32Array scores in [0, 1] take the packed-key sort: the same result.
      assert.equal(rocAuc(labels, Float32Array.from(scores)), auc, `${name} (Float32Array)`);
    });
  }
});

describe('score order', () => {
  const rng = new Rng(11);
  // Scores on a coarse grid, so ties are many; both ends of [0, 1] included.
  const grid = Float32Array.from({ length: 5000 }, (_, i) =>
    i < 2 ? i : Math.floor(rng.uniform() * 50) / 49,
  );
  const comparatorOrder = (xs: ArrayLike<number>) =>
    Array.from({ length: xs.length }, (_, i) => i).sort((a, b) => xs[a]! - xs[b]! || a - b);

  it('sorts by score, ties by index, whichever path it takes', () => {
    const expected = comparatorOrder(grid);
    assert.deepEqual(Array.from(scoreOrder(grid)), expected, 'packed keys (Float32Array in [0, 1])');
    assert.deepEqual(Array.from(scoreOrder(Array.from(grid))), expected, 'comparator (number[])');
    const outside = grid.map((v, i) => (i === 7 ? -0.5 : i === 8 ? 3 : v));
    assert.deepEqual(Array.from(scoreOrder(outside)), comparatorOrder(outside), 'scores outside [0, 1]');
  });

  it('packs only integer keys in range and says so', () => {
    assert.deepEqual(Array.from(orderByKey(4, (i) => [5, 2, 5, 0][i]!)!), [3, 1, 0, 2]);
    for (const bad of [-1, 0.5, Number.NaN, 0x3f800001]) {
      assert.equal(
        orderByKey(3, (i) => (i === 1 ? bad : 1)),
        null,
        `key ${bad}`,
      );
    }
    // -0 has the sign bit set: as float bits it is no key, and the comparator path orders it.
    const negativeZero = Float32Array.from([0.5, -0, 0.25]);
    assert.deepEqual(Array.from(scoreOrder(negativeZero)), comparatorOrder(negativeZero));
  });
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

describe('strong order-blind baseline', () => {
  it('adds the last event type, the last gap and time of day/week to the bag of events', () => {
    const f = orderBlindFeatures(['page_view', 'search']);
    assert.deepEqual(f.names.slice(5), [
      'last_is_page_view',
      'last_is_search',
      'last_is_other',
      'log_last_gap_s',
      'hour_sin',
      'hour_cos',
      'dow_sin',
      'dow_cos',
    ]);
    const sixAm = Date.UTC(2026, 10, 5, 6); // a Thursday
    const x = f.features([ev('page_view', sixAm - 20_000), ev('cart', sixAm)]);
    assert.deepEqual(
      x.slice(0, 5),
      bagOfEventsFeatures(['page_view', 'search']).features([
        ev('page_view', sixAm - 20_000),
        ev('cart', sixAm),
      ]),
    );
    assert.deepEqual(x.slice(5, 8), [0, 0, 1], 'last event of another type');
    close(x[8]!, Math.log1p(20), 'last gap');
    close(x[9]!, 1, 'hour sin at 06:00');
    close(x[10]!, 0, 'hour cos at 06:00');
    close(x[11]!, Math.sin((2 * Math.PI * 4) / 7), 'weekday sin (Thursday)');
    assert.deepEqual(f.features([]), new Array(f.names.length).fill(0));
  });

  it('learns an outcome that only the last event type tells, which the bag of events cannot', () => {
    // Every session holds one `a` and one `b`; the label is 1 exactly when `b` comes last.
    const rng = new Rng(3);
    const sessions: ShopEvent[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = T0 + i * 3_600_000;
      const bLast = rng.uniform() < 0.4;
      sessions.push(bLast ? [ev('a', t), ev('b', t + 5_000)] : [ev('b', t), ev('a', t + 5_000)]);
      labels.push(bLast ? 1 : 0);
    }
    const auc = (features: { names: string[]; features(e: readonly ShopEvent[]): number[] }) => {
      const rows = sessions.map((e) => features.features(e));
      const m = fitLogistic(rows, labels, features.names, { l2: 1, maxIterations: 50 });
      return rocAuc(
        labels,
        rows.map((r) => predictLogistic(m, r)),
      );
    };
    close(auc(orderBlindFeatures(['a', 'b'])), 1, 'strong baseline');
    close(auc(bagOfEventsFeatures(['a', 'b'])), 0.5, 'bag of events');
  });
});

describe('weightedRocAuc', () => {
  it('equals rocAuc on the weighted sample written out, ties included, and is null without a class', () => {
    const rng = new Rng(3);
    const n = 300;
    const labels = Array.from({ length: n }, () => (rng.uniform() < 0.3 ? 1 : 0));
    // Scores on a coarse grid so that many tie, across classes too.
    const scores = labels.map((l) => Math.round((0.3 * l + rng.uniform()) * 8) / 8);
    const weights = labels.map(() => Math.floor(rng.uniform() * 4));
    const l: number[] = [];
    const s: number[] = [];
    weights.forEach((w, i) => {
      for (let k = 0; k < w; k++) {
        l.push(labels[i]!);
        s.push(scores[i]!);
      }
    });
    close(weightedRocAuc(labels, scores, scoreOrder(scores), weights), rocAuc(l, s)!, 'weighted', 1e-12);
    const onlyNegatives = labels.map((x, i) => (x === 1 ? 0 : weights[i]!));
    assert.equal(weightedRocAuc(labels, scores, scoreOrder(scores), onlyNegatives), null);
  });
});

describe('paired bootstrap of a ROC-AUC difference', () => {
  const rng = new Rng(11);
  const n = 400;
  const labels = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const perfect = labels.map((l) => 0.5 * l + 0.25 + 0.2 * rng.uniform());
  const noise = labels.map(() => rng.uniform());
  const options = { resamples: 300, seed: 5 };

  it('brackets a known large difference and keeps zero out of it', () => {
    const d = pairedBootstrapAucDifference(labels, perfect, noise, options);
    close(d.difference, 1 - rocAuc(labels, noise)!, 'difference');
    assert.ok(d.lower! > 0.35 && d.lower! < d.difference!, `lower ${d.lower}`);
    assert.ok(d.upper! > d.difference! && d.upper! <= 0.65, `upper ${d.upper}`);
    assert.equal(d.used, 300);
    assert.equal(d.confidence, 0.95);
  });

  it('gives [0, 0] for identical models and an interval around 0 for two equally noisy ones', () => {
    const same = pairedBootstrapAucDifference(labels, noise, noise, options);
    assert.deepEqual([same.difference, same.lower, same.upper], [0, 0, 0]);
    const other = labels.map(() => rng.uniform());
    const tie = pairedBootstrapAucDifference(labels, noise, other, options);
    assert.ok(tie.lower! < 0 && tie.upper! > 0, `[${tie.lower}, ${tie.upper}] holds 0`);
  });

  it('is reproducible from its seed', () => {
    assert.deepEqual(
      pairedBootstrapAucDifference(labels, perfect, noise, options),
      pairedBootstrapAucDifference(labels, perfect, noise, options),
    );
    assert.notDeepEqual(
      pairedBootstrapAucDifference(labels, perfect, noise, options).lower,
      pairedBootstrapAucDifference(labels, perfect, noise, { ...options, seed: 6 }).lower,
    );
  });

  it('draws grouped examples together: copies of a session add no false certainty', () => {
    const m = 60;
    const l = labels.slice(0, m);
    const a = noise.slice(0, m);
    const b = perfect.slice(0, m).map((v, i) => (i % 2 ? v : 1 - v));
    const alone = pairedBootstrapAucDifference(l, a, b, options);
    const copies = 3;
    const rep = <T>(xs: T[]) => xs.flatMap((x) => new Array<T>(copies).fill(x));
    const groups = rep(l.map((_, i) => i));
    const grouped = pairedBootstrapAucDifference(rep(l), rep(a), rep(b), { ...options, groups });
    assert.deepEqual(
      [grouped.difference, grouped.lower, grouped.upper],
      [alone.difference, alone.lower, alone.upper],
      'the same draws of sessions give the same differences',
    );
    const ungrouped = pairedBootstrapAucDifference(rep(l), rep(a), rep(b), options);
    assert.ok(
      ungrouped.upper! - ungrouped.lower! < grouped.upper! - grouped.lower!,
      'treating copies as independent would narrow the interval',
    );
  });
});

describe('label drift', () => {
  it('flags a large, unlikely shift of the positive rate and not a small or noisy one', () => {
    const big = labelDrift({ sessions: 5_000, positives: 500 }, { sessions: 1_000, positives: 200 });
    assert.equal(big.trainPositiveRate, 0.1);
    assert.equal(big.testPositiveRate, 0.2);
    close(big.relativeChange, 1, 'relative change');
    assert.ok(big.z! > 3);
    assert.equal(big.flagged, true);
    assert.equal(
      labelDrift({ sessions: 50, positives: 5 }, { sessions: 10, positives: 2 }).flagged,
      false,
      'too few sessions to tell',
    );
    assert.equal(
      labelDrift({ sessions: 1_000_000, positives: 100_000 }, { sessions: 1_000_000, positives: 105_000 })
        .flagged,
      false,
      'certain but small',
    );
    assert.equal(labelDrift({ sessions: 0, positives: 0 }, { sessions: 10, positives: 1 }).z, null);
  });
});

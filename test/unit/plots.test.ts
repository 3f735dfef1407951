import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { precisionRecallCurve, rocCurve, thin } from '../../src/model/curves.js';
import { averagePrecision, rocAuc } from '../../src/model/evaluate.js';
import {
  PLOT_FILES,
  calibrationPlot,
  comparisonPlot,
  modelPlots,
  rocPlot,
} from '../../src/plots/model-plots.js';
import { escapeXml, lineChart } from '../../src/plots/svg-chart.js';

/** Area under a polyline by the trapezoid rule. */
function trapezoid(points: { x: number; y: number }[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++)
    area += ((points[i]!.x - points[i - 1]!.x) * (points[i]!.y + points[i - 1]!.y)) / 2;
  return area;
}

/** Every element opened is closed in order (a small well-formedness check for generated SVG). */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes something else`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

function seeded(n: number, seed = 7) {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const labels: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rand() < 0.3 ? 1 : 0;
    labels.push(y);
    // Rounded so that ties occur, as they do with saturated models.
    scores.push(Math.round((0.3 * y + 0.7 * rand()) * 50) / 50);
  }
  return { labels, scores };
}

describe('curves', () => {
  it('the ROC curve runs from (0,0) to (1,1) and its area is rocAuc (ties as half)', () => {
    const { labels, scores } = seeded(2_000);
    const curve = rocCurve(labels, scores, 10_000)!;
    assert.deepEqual(curve[0], { x: 0, y: 0 });
    assert.deepEqual(curve.at(-1), { x: 1, y: 1 });
    assert.ok(Math.abs(trapezoid(curve) - rocAuc(labels, scores)!) < 1e-12);
  });

  it('the PR curve ends at full recall with the positive rate as precision, and its step sum is average precision', () => {
    const { labels, scores } = seeded(1_000);
    const curve = precisionRecallCurve(labels, scores, 10_000)!;
    const positives = labels.filter((y) => y === 1).length;
    assert.deepEqual(curve.at(-1), { x: 1, y: positives / labels.length });
    let ap = 0;
    let previous = 0;
    for (const p of curve) {
      ap += (p.x - previous) * p.y;
      previous = p.x;
    }
    assert.ok(Math.abs(ap - averagePrecision(labels, scores)!) < 1e-12);
  });

  it('null when a class is missing; mismatched lengths throw', () => {
    assert.equal(rocCurve([0, 0], [0.1, 0.2]), null);
    assert.equal(precisionRecallCurve([0, 0], [0.1, 0.2]), null);
    assert.throws(() => rocCurve([0, 1], [0.1]), /differ in length/);
  });

  it('thinning keeps the ends and at most maxPoints', () => {
    const points = Array.from({ length: 1_001 }, (_, i) => ({ x: i / 1_000, y: i / 1_000 }));
    const thinned = thin(points, 50);
    assert.equal(thinned.length, 50);
    assert.deepEqual(thinned[0], points[0]);
    assert.deepEqual(thinned.at(-1), points.at(-1));
    assert.throws(() => thin(points, 1), /at least 2/);
  });
});

describe('svg charts', () => {
  const curves = [
    {
      name: 'LSTM',
      rocAuc: 0.9,
      prAuc: 0.6,
      roc: [
        { x: 0, y: 0 },
        { x: 0.1, y: 0.7 },
        { x: 1, y: 1 },
      ],
      pr: [
        { x: 0.5, y: 0.8 },
        { x: 1, y: 0.3 },
      ],
    },
    {
      name: 'baseline',
      rocAuc: 0.8,
      prAuc: 0.5,
      roc: [
        { x: 0, y: 0 },
        { x: 0.2, y: 0.6 },
        { x: 1, y: 1 },
      ],
      pr: [{ x: 1, y: 0.3 }],
    },
  ];

  it('a ROC plot is balanced SVG with both axes, one curve per model carrying its points, and the chance line', () => {
    const svg = rocPlot(curves);
    assertBalanced(svg);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /class="axis x-axis" data-label="false positive rate"/);
    assert.match(svg, /class="axis y-axis" data-label="true positive rate"/);
    assert.match(svg, /data-series="LSTM \(AUC 0.900\)"[\s\S]*?data-points="0,0 0.1,0.7 1,1"/);
    assert.match(svg, /data-series="baseline \(AUC 0.800\)"[\s\S]*?data-points="0,0 0.2,0.6 1,1"/);
    assert.match(svg, /data-series="random"/);
  });

  it('calibration draws one marker per non-empty bin at (mean predicted, observed rate)', () => {
    const svg = calibrationPlot([
      { meanPredicted: 0.05, observedRate: 0.04, count: 10 },
      { meanPredicted: null, observedRate: null, count: 0 },
      { meanPredicted: 0.92, observedRate: 0.88, count: 3 },
    ]);
    assertBalanced(svg);
    const markers = [...svg.matchAll(/<circle [^>]*data-x="([^"]+)" data-y="([^"]+)"/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    assert.deepEqual(markers, [
      [0.05, 0.04],
      [0.92, 0.88],
    ]);
  });

  it('the comparison plot puts each interval on an axis that contains it, with a rule at 0', () => {
    const svg = comparisonPlot([
      { name: 'full sessions', value: 0.031, low: 0.012, high: 0.05 },
      { name: 'prefixes', value: -0.004, low: -0.02, high: 0.011 },
    ]);
    assertBalanced(svg);
    assert.match(svg, /data-series="full sessions" data-value="0.031" data-low="0.012" data-high="0.05"/);
    assert.match(svg, /class="rule"/);
    const ticks = [...svg.matchAll(/<text [^>]*text-anchor="middle">(-?[\d.]+)<\/text>/g)].map((m) =>
      Number(m[1]),
    );
    assert.ok(Math.min(...ticks) <= -0.05 && Math.max(...ticks) >= 0.05, `ticks ${ticks}`);
  });

  it('modelPlots names every file and leaves the comparison out without differences', () => {
    const input = { curves, positiveRate: 0.3, calibration: [], differences: [] };
    assert.deepEqual(
      Object.keys(modelPlots(input)).sort(),
      [PLOT_FILES.calibration, PLOT_FILES.precisionRecall, PLOT_FILES.roc].sort(),
    );
  });

  it('text is escaped and bad axes are refused', () => {
    assert.equal(escapeXml('a<b & "c"'), 'a&#60;b &#38; &#34;c&#34;');
    assert.throws(
      () =>
        lineChart({
          title: 't',
          x: { label: 'x', min: 1, max: 0, tick: 0.1 },
          y: { label: 'y', min: 0, max: 1, tick: 0.2 },
          series: [],
        }),
      /needs max > min/,
    );
  });
});

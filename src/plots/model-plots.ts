/**
 * The plots a model card embeds, as SVG text by file name: ROC and precision-recall curves of the
 * model and its order-blind baseline on the test split, the model's calibration, and the LSTM −
 * baseline differences with their bootstrap intervals. The candidate writer stores them next to
 * `model-card.md`.
 */
import type { CurvePoint } from '../model/curves.js';
import { type Interval, type Series, intervalChart, lineChart } from './svg-chart.js';

export interface ScoredCurves {
  /** e.g. "LSTM" or "baseline". */
  name: string;
  rocAuc: number | null;
  prAuc: number | null;
  roc: CurvePoint[] | null;
  pr: CurvePoint[] | null;
}

export interface CalibrationPoint {
  meanPredicted: number | null;
  observedRate: number | null;
  count: number;
}

export interface ModelPlotInput {
  curves: ScoredCurves[];
  /** Positive rate of the test split: the precision of a random ranking. */
  positiveRate: number;
  calibration: CalibrationPoint[];
  /** LSTM − baseline differences (e.g. ROC-AUC on full sessions and on prefixes) with 95 % intervals. */
  differences: { name: string; value: number; low: number; high: number }[];
}

export const PLOT_FILES = {
  roc: 'roc.svg',
  precisionRecall: 'precision-recall.svg',
  calibration: 'calibration.svg',
  comparison: 'lstm-vs-baseline.svg',
} as const;

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const UNIT = { min: 0, max: 1, tick: 0.2 };
const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(3));

export function rocPlot(curves: ScoredCurves[]): string {
  const series: Series[] = curves
    .filter((c) => c.roc !== null)
    .map((c, i) => ({
      name: `${c.name} (AUC ${fmt(c.rocAuc)})`,
      points: c.roc!,
      style: 'line',
      color: COLORS[i % 4]!,
    }));
  series.push({
    name: 'random',
    points: [
      { x: 0, y: 0 },
      { x: 1, y: 1 },
    ],
    style: 'dashed',
    color: '#888',
  });
  return lineChart({
    title: 'ROC, test split',
    x: { label: 'false positive rate', ...UNIT },
    y: { label: 'true positive rate', ...UNIT },
    series,
  });
}

export function precisionRecallPlot(curves: ScoredCurves[], positiveRate: number): string {
  const series: Series[] = curves
    .filter((c) => c.pr !== null)
    .map((c, i) => ({
      name: `${c.name} (AP ${fmt(c.prAuc)})`,
      points: c.pr!,
      style: 'line',
      color: COLORS[i % 4]!,
    }));
  series.push({
    name: `random (${(positiveRate * 100).toFixed(1)}%)`,
    points: [
      { x: 0, y: positiveRate },
      { x: 1, y: positiveRate },
    ],
    style: 'dashed',
    color: '#888',
  });
  return lineChart({
    title: 'Precision-recall, test split',
    x: { label: 'recall', ...UNIT },
    y: { label: 'precision', ...UNIT },
    series,
  });
}

export function calibrationPlot(bins: CalibrationPoint[]): string {
  const points = bins
    .filter((b) => b.count > 0 && b.meanPredicted !== null && b.observedRate !== null)
    .map((b) => ({ x: b.meanPredicted!, y: b.observedRate! }));
  return lineChart({
    title: 'Calibration, test split',
    x: { label: 'mean predicted probability', ...UNIT },
    y: { label: 'observed positive rate', ...UNIT },
    series: [
      { name: 'model (bins with events)', points, style: 'points', color: COLORS[0]! },
      {
        name: 'perfectly calibrated',
        points: [
          { x: 0, y: 0 },
          { x: 1, y: 1 },
        ],
        style: 'dashed',
        color: '#888',
      },
    ],
  });
}

/** The differences on a symmetric axis around 0 wide enough for every interval. */
export function comparisonPlot(differences: ModelPlotInput['differences']): string {
  const extent = Math.max(
    0.02,
    ...differences.flatMap((d) => [Math.abs(d.low), Math.abs(d.high), Math.abs(d.value)]),
  );
  const tick = niceTick(extent);
  const bound = Math.ceil(extent / tick) * tick;
  const intervals: Interval[] = differences.map((d, i) => ({ ...d, color: COLORS[i % 4]! }));
  return intervalChart({
    title: 'LSTM − baseline, test ROC-AUC (95% bootstrap)',
    axis: { label: 'ROC-AUC difference', min: -bound, max: bound, tick },
    intervals,
    rule: 0,
  });
}

function niceTick(extent: number): number {
  const raw = extent / 2;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * power >= raw)!;
  return step * power;
}

/** Every plot by file name; the comparison only when there are differences to show. */
export function modelPlots(input: ModelPlotInput): Record<string, string> {
  const files: Record<string, string> = {
    [PLOT_FILES.roc]: rocPlot(input.curves),
    [PLOT_FILES.precisionRecall]: precisionRecallPlot(input.curves, input.positiveRate),
    [PLOT_FILES.calibration]: calibrationPlot(input.calibration),
  };
  if (input.differences.length > 0) files[PLOT_FILES.comparison] = comparisonPlot(input.differences);
  return files;
}

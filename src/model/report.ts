/**
 * The evaluation report of a trained model (metrics.json): metrics of every split on the full
 * observable sequences (the decision point), plus two references computed on the same split:
 *  - baseline: the strong order-blind logistic regression (baseline.ts), trained on the model's
 *    training examples (full sequences and sampled prefixes; a seeded sample of about
 *    BASELINE_SAMPLE of them on larger windows, shard-dataset.ts);
 *  - orderAblation: the same model on the test sessions with their events shuffled (seeded).
 * The model minus the baseline is given with a paired bootstrap 95 % interval (bootstrap.ts), on
 * full test sessions and on their mid-session prefixes (what live scoring sees; prefixes of one
 * session are drawn together). The report also carries the event types (seen, roles, share out of
 * the vocabulary) and the label drift between train and test.
 * The threshold for precision/recall/F1 is chosen on validation (max F1) unless configured; the
 * baseline gets its own validation-chosen threshold so each model is judged at its best operating
 * point. Everything is read from the run's shards one shard at a time; only per-example labels and
 * scores are kept.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LabelConfig } from '../config/schema.js';
import { type DatasetSummary, labelClasses } from '../dataset/index.js';
import { type EventTypeReport, type FeatureEncoder, eventTypeReportFromCounts } from '../features/index.js';
import type { ProgressFactory } from '../util/progress.js';
import { type LogisticModel, fitLogistic, orderBlindFeatures, predictLogistic } from './baseline.js';
import { predictSplit } from './batches.js';
import { type AucDifference, pairedBootstrapAucDifference } from './bootstrap.js';
import { type CurvePoint, precisionRecallCurve, rocCurve } from './curves.js';
import {
  type LabelDrift,
  type SplitMetrics,
  bestF1Threshold,
  labelDrift,
  rocAuc,
  splitMetrics,
} from './evaluate.js';
import type { ShardedDataset } from './shard-dataset.js';
import {
  type LoadedShard,
  type ShardSet,
  concatFloat32,
  fullSequencesOf,
  predictFullSequences,
} from './shards.js';

/** v2: the strong baseline, bootstrap intervals, label drift and event types. */
export const REPORT_VERSION = 2;

export interface EvaluationReport {
  version: number;
  labels: LabelConfig;
  classes: string[];
  threshold: { value: number; source: 'validation_max_f1' | 'config' };
  splits: { train: SplitMetrics; validation: SplitMetrics; test: SplitMetrics };
  /** ROC-AUC over sampled prefixes of the test sessions (what the live scorer sees mid-session). */
  testPrefixes: { examples: number; rocAuc: number | null };
  baseline: {
    model: 'logistic_regression_order_blind';
    features: string[];
    l2: number;
    iterations: number;
    /** Training examples it was fitted on, of those the LSTM trained on (a seeded sample on large windows; absent in older reports). */
    fittedOn?: { examples: number; of: number };
    threshold: number;
    validation: SplitMetrics;
    test: SplitMetrics;
    testPrefixes: { examples: number; rocAuc: number | null };
  };
  orderAblation: { description: string; seed: number; test: SplitMetrics };
  /** Test ROC-AUC of the model minus that of each reference (positive = the model is better). */
  comparisons: {
    testRocAucOverBaseline: number | null;
    testRocAucOverShuffled: number | null;
    /** Model minus baseline with a paired bootstrap interval: full test sessions, and their prefixes. */
    overBaseline: { full: AucDifference; prefixes: AucDifference };
  };
  /** Positive rate of train vs. test. */
  labelDrift: LabelDrift;
  eventTypes: EventTypeReport;
  /** Test-split curves of the model and the baseline, thinned for plotting (absent in reports written before them). */
  curves?: {
    model: { roc: CurvePoint[] | null; precisionRecall: CurvePoint[] | null };
    baseline: { roc: CurvePoint[] | null; precisionRecall: CurvePoint[] | null };
  };
}

export interface EvaluateOptions {
  labels: LabelConfig;
  /** Fixed decision threshold; null = maximize F1 on validation. */
  threshold: number | null;
  calibrationBins: number;
  baselineL2: number;
  baselineIterations: number;
  seed: number;
  /** Resamples of the paired bootstrap. */
  bootstrapResamples: number;
  /** Reports the evaluation's steps (predictions, baseline, ablation, bootstrap) as they finish. */
  progress?: ProgressFactory;
}

/** The evaluation's steps, in order: what a user waiting on a large test window sees pass. */
const EVALUATION_STEPS = [
  'fit baseline',
  'predict splits',
  'predict prefixes',
  'order ablation',
  'bootstrap',
] as const;

/** What evaluation reads: the run's shards and what the encoding pass kept (shard-dataset.ts). */
export interface EvaluationData extends ShardedDataset {
  summary: DatasetSummary;
}

const difference = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);

/** Scores of one split's shards, read one shard at a time. */
interface SplitScores {
  labels: Float32Array;
  scores: Float32Array;
  /** The baseline on the same examples (splits with feature rows). */
  baseline: Float32Array;
  /** Test: every example (evaluation prefixes and full sequences), with its session as group. */
  prefixes: { labels: Float32Array; scores: Float32Array; baseline: Float32Array; groups: Int32Array };
  /** Test: the full sequences with their events shuffled. */
  shuffled: Float32Array;
}

async function scoreShards(
  set: ShardSet,
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  logistic: LogisticModel | null,
): Promise<SplitScores> {
  const parts = {
    labels: [],
    scores: [],
    baseline: [],
    prefixLabels: [],
    prefixScores: [],
    prefixBaseline: [],
    groups: [],
    shuffled: [],
  } as Record<string, Float32Array[]>;
  const push = (key: string, values: Float32Array) => parts[key]!.push(values);
  const baselineOf = (shard: LoadedShard, indices: readonly number[]) =>
    logistic && shard.features.length > 0
      ? Float32Array.from(indices, (i) => predictLogistic(logistic, shard.features[i]!))
      : new Float32Array(0);
  let sessions = 0;
  for await (const shard of set.each()) {
    const all = shard.split.examples.map((_, i) => i);
    const fullIndices = all.filter((i) => shard.split.examples[i]!.full);
    const full = fullSequencesOf(shard);
    push(
      'labels',
      Float32Array.from(full.examples, (e) => full.labels[e.session]!),
    );
    push('scores', await predictSplit(model, encoder, full));
    push('baseline', baselineOf(shard, fullIndices));
    if (shard.shuffled.length > 0) {
      push('shuffled', await predictSplit(model, encoder, { ...full, steps: shard.shuffled }));
      push(
        'prefixLabels',
        Float32Array.from(shard.split.examples, (e) => shard.split.labels[e.session]!),
      );
      push('prefixScores', await predictSplit(model, encoder, shard.split));
      push('prefixBaseline', baselineOf(shard, all));
      push(
        'groups',
        Float32Array.from(shard.split.examples, (e) => sessions + e.session),
      );
    }
    sessions += shard.split.steps.length;
  }
  const joined = (key: string) => concatFloat32(parts[key]!);
  return {
    labels: joined('labels'),
    scores: joined('scores'),
    baseline: joined('baseline'),
    prefixes: {
      labels: joined('prefixLabels'),
      scores: joined('prefixScores'),
      baseline: joined('prefixBaseline'),
      groups: Int32Array.from(joined('groups')),
    },
    shuffled: joined('shuffled'),
  };
}

export async function evaluateModel(
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  data: EvaluationData,
  options: EvaluateOptions,
): Promise<EvaluationReport> {
  const progress = options.progress?.({ label: 'evaluate', unit: 'steps', total: EVALUATION_STEPS.length });
  const stepDone = (step: (typeof EVALUATION_STEPS)[number]) => progress?.tick(1, { step });

  // Order-blind baseline, fitted on (a seeded sample of) the model's own training examples.
  const bag = orderBlindFeatures(encoder.eventTypeVocabulary);
  const logistic = fitLogistic(data.baselineSample.rows, data.baselineSample.labels, bag.names, {
    l2: options.baselineL2,
    maxIterations: options.baselineIterations,
  });
  stepDone('fit baseline');
  const train = await predictFullSequences(data.train, model, encoder);
  const validation = await scoreShards(data.validation, model, encoder, logistic);
  const testScores = await scoreShards(data.test, model, encoder, logistic);
  const labels = { train: train.labels, validation: validation.labels, test: testScores.labels };
  const scores = { train: train.scores, validation: validation.scores, test: testScores.scores };
  const baselineScores = { validation: validation.baseline, test: testScores.baseline };
  stepDone('predict splits');
  const threshold =
    options.threshold === null
      ? { value: bestF1Threshold(labels.validation, scores.validation), source: 'validation_max_f1' as const }
      : { value: options.threshold, source: 'config' as const };
  const metrics = (l: ArrayLike<number>, s: ArrayLike<number>, t: number) =>
    splitMetrics(l, s, t, options.calibrationBins);
  const {
    labels: prefixLabels,
    scores: prefixScores,
    baseline: baselinePrefixScores,
    groups,
  } = testScores.prefixes;
  stepDone('predict prefixes');
  const bootstrap = { resamples: options.bootstrapResamples, seed: options.seed };
  const baselineThreshold =
    options.threshold ?? bestF1Threshold(labels.validation, baselineScores.validation);
  const shuffledScores = testScores.shuffled;
  stepDone('order ablation');
  const overBaseline = {
    full: pairedBootstrapAucDifference(labels.test, scores.test, baselineScores.test, bootstrap),
    prefixes: pairedBootstrapAucDifference(prefixLabels, prefixScores, baselinePrefixScores, {
      ...bootstrap,
      groups,
    }),
  };
  stepDone('bootstrap');
  progress?.done();

  const test = metrics(labels.test, scores.test, threshold.value);
  const baselineTest = metrics(labels.test, baselineScores.test, baselineThreshold);
  const shuffledTest = metrics(labels.test, shuffledScores, threshold.value);
  return {
    version: REPORT_VERSION,
    labels: options.labels,
    classes: labelClasses(options.labels),
    threshold,
    splits: {
      train: metrics(labels.train, scores.train, threshold.value),
      validation: metrics(labels.validation, scores.validation, threshold.value),
      test,
    },
    testPrefixes: { examples: prefixLabels.length, rocAuc: rocAuc(prefixLabels, prefixScores) },
    baseline: {
      model: 'logistic_regression_order_blind',
      features: bag.names,
      l2: options.baselineL2,
      iterations: logistic.iterations,
      fittedOn: { examples: data.baselineSample.rows.length, of: data.baselineSample.examples },
      threshold: baselineThreshold,
      validation: metrics(labels.validation, baselineScores.validation, baselineThreshold),
      test: baselineTest,
      testPrefixes: { examples: prefixLabels.length, rocAuc: rocAuc(prefixLabels, baselinePrefixScores) },
    },
    orderAblation: {
      description:
        'the same model on the test sessions with the content of their events shuffled (seeded), timestamps kept in place',
      seed: options.seed,
      test: shuffledTest,
    },
    comparisons: {
      testRocAucOverBaseline: difference(test.rocAuc, baselineTest.rocAuc),
      testRocAucOverShuffled: difference(test.rocAuc, shuffledTest.rocAuc),
      overBaseline,
    },
    labelDrift: labelDrift(data.summary.splits.train, data.summary.splits.test),
    eventTypes: eventTypeReportFromCounts(encoder, data.summary.eventTypes, data.outOfVocabulary),
    curves: {
      model: {
        roc: rocCurve(labels.test, scores.test),
        precisionRecall: precisionRecallCurve(labels.test, scores.test),
      },
      baseline: {
        roc: rocCurve(labels.test, baselineScores.test),
        precisionRecall: precisionRecallCurve(labels.test, baselineScores.test),
      },
    },
  };
}

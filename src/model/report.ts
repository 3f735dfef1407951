/**
 * The evaluation report of a trained model (metrics.json): metrics of every split on the full
 * observable sequences (the decision point), plus two references computed on the same split:
 *  - baseline: the strong order-blind logistic regression (baseline.ts), trained on the same
 *    training examples as the model (full sequences and sampled prefixes);
 *  - orderAblation: the same model on the test sessions with their events shuffled (seeded).
 * The model minus the baseline is given with a paired bootstrap 95 % interval (bootstrap.ts), on
 * full test sessions and on their mid-session prefixes (what live scoring sees; prefixes of one
 * session are drawn together). The report also carries the event types (seen, roles, share out of
 * the vocabulary) and the label drift between train and test.
 * The threshold for precision/recall/F1 is chosen on validation (max F1) unless configured; the
 * baseline gets its own validation-chosen threshold so each model is judged at its best operating
 * point.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LabelConfig } from '../config/schema.js';
import {
  type Dataset,
  type DatasetSplit,
  labelClasses,
  sessionPrefixLengths,
  shuffleEventOrder,
} from '../dataset/index.js';
import { type EventTypeReport, type FeatureEncoder, eventTypeReport } from '../features/index.js';
import { fitLogistic, orderBlindFeatures, predictLogistic } from './baseline.js';
import { encodeSplit, predictSplit } from './batches.js';
import { type AucDifference, pairedBootstrapAucDifference } from './bootstrap.js';
import {
  type LabelDrift,
  type SplitMetrics,
  bestF1Threshold,
  labelDrift,
  rocAuc,
  splitMetrics,
} from './evaluate.js';

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
}

export interface EvaluateOptions {
  labels: LabelConfig;
  /** Fixed decision threshold; null = maximize F1 on validation. */
  threshold: number | null;
  calibrationBins: number;
  baselineL2: number;
  baselineIterations: number;
  seed: number;
  /** Prefixes per test session for testPrefixes. */
  prefixesPerSession: number;
  /** Resamples of the paired bootstrap. */
  bootstrapResamples: number;
}

const labelsOf = (split: DatasetSplit) => split.sessions.map((s) => s.label);
/** One full-sequence example per session. */
const fullSequences = (split: DatasetSplit) => ({
  sessions: split.sessions,
  examples: split.sessions.map((s, session) => ({ session, length: s.events.length, full: true })),
});

const difference = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);

export async function evaluateModel(
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  dataset: Dataset,
  options: EvaluateOptions,
): Promise<EvaluationReport> {
  const predict = (split: DatasetSplit) =>
    predictSplit(model, encoder, encodeSplit(encoder, fullSequences(split)));
  const scores = {
    train: await predict(dataset.train),
    validation: await predict(dataset.validation),
    test: await predict(dataset.test),
  };
  const labels = {
    train: labelsOf(dataset.train),
    validation: labelsOf(dataset.validation),
    test: labelsOf(dataset.test),
  };
  const threshold =
    options.threshold === null
      ? { value: bestF1Threshold(labels.validation, scores.validation), source: 'validation_max_f1' as const }
      : { value: options.threshold, source: 'config' as const };
  const metrics = (l: number[], s: ArrayLike<number>, t: number) =>
    splitMetrics(l, s, t, options.calibrationBins);

  // Prefixes of the test sessions, as the scorer sees them mid-session.
  const prefixExamples = dataset.test.sessions.flatMap((s, session) => [
    ...sessionPrefixLengths(
      s.sessionId,
      s.events.length,
      options.prefixesPerSession,
      options.seed ^ 0x7e57,
    ).map((length) => ({ session, length, full: false })),
    { session, length: s.events.length, full: true },
  ]);
  const prefixScores = await predictSplit(
    model,
    encoder,
    encodeSplit(encoder, { sessions: dataset.test.sessions, examples: prefixExamples }),
  );
  const prefixLabels = prefixExamples.map((e) => dataset.test.sessions[e.session]!.label);

  // Order-blind baseline, fitted on the model's own training examples (full sequences and prefixes).
  const bag = orderBlindFeatures(encoder.eventTypeVocabulary);
  const rows = (split: DatasetSplit) => split.sessions.map((s) => bag.features(s.events));
  const logistic = fitLogistic(
    dataset.train.examples.map((e) =>
      bag.features(dataset.train.sessions[e.session]!.events.slice(0, e.length)),
    ),
    dataset.train.examples.map((e) => dataset.train.sessions[e.session]!.label),
    bag.names,
    { l2: options.baselineL2, maxIterations: options.baselineIterations },
  );
  const baselineScores = {
    validation: rows(dataset.validation).map((r) => predictLogistic(logistic, r)),
    test: rows(dataset.test).map((r) => predictLogistic(logistic, r)),
  };
  const baselinePrefixScores = prefixExamples.map((e) =>
    predictLogistic(logistic, bag.features(dataset.test.sessions[e.session]!.events.slice(0, e.length))),
  );
  const bootstrap = { resamples: options.bootstrapResamples, seed: options.seed };
  const baselineThreshold =
    options.threshold ?? bestF1Threshold(labels.validation, baselineScores.validation);

  // Order ablation.
  const shuffled = encodeSplit(encoder, fullSequences(dataset.test), (events, s) =>
    shuffleEventOrder(events, options.seed, s.sessionId),
  );
  const shuffledScores = await predictSplit(model, encoder, shuffled);

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
    testPrefixes: { examples: prefixExamples.length, rocAuc: rocAuc(prefixLabels, prefixScores) },
    baseline: {
      model: 'logistic_regression_order_blind',
      features: bag.names,
      l2: options.baselineL2,
      iterations: logistic.iterations,
      threshold: baselineThreshold,
      validation: metrics(labels.validation, baselineScores.validation, baselineThreshold),
      test: baselineTest,
      testPrefixes: { examples: prefixExamples.length, rocAuc: rocAuc(prefixLabels, baselinePrefixScores) },
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
      overBaseline: {
        full: pairedBootstrapAucDifference(labels.test, scores.test, baselineScores.test, bootstrap),
        prefixes: pairedBootstrapAucDifference(prefixLabels, prefixScores, baselinePrefixScores, {
          ...bootstrap,
          groups: prefixExamples.map((e) => e.session),
        }),
      },
    },
    labelDrift: labelDrift(dataset.summary.splits.train, dataset.summary.splits.test),
    eventTypes: eventTypeReport(encoder, dataset.summary.eventTypes, {
      train: dataset.train.sessions,
      validation: dataset.validation.sessions,
      test: dataset.test.sessions,
    }),
  };
}

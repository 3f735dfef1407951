/**
 * One training run, from stored timelines to a trained, evaluated model:
 * dataset (labels, prefixes, time split) → encoder fitted on the training split → LSTM → training
 * loop (checkpoints, early stopping) → prior-shift correction → evaluation report. No I/O besides
 * the checkpoint directory; the caller (CLI today; cron and HTTP later) selects the backend, reads
 * the store and writes the candidate.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../config/schema.js';
import { type Dataset, buildDataset, checkTargetPresent, resolveLabels } from '../dataset/index.js';
import { IntentstreamError } from '../errors.js';
import { FeatureEncoder, eventTypeReport } from '../features/index.js';
import type { Logger } from '../log/logger.js';
import { MODEL_FILES } from '../registry/model-dir.js';
import { saveEncoder } from '../registry/model-files.js';
import type { SessionTimeline } from '../schemas/types.js';
import type { ProgressFactory } from '../util/progress.js';
import { encodeSplit } from './batches.js';
import { recurrencePath } from './fused-lstm.js';
import { buildModel, correctPriorShift } from './lstm.js';
import { type EvaluationReport, evaluateModel } from './report.js';
import { type TrainResult, train } from './train.js';

export interface TrainingRunOptions {
  sessions: Iterable<SessionTimeline> | AsyncIterable<SessionTimeline>;
  config: TrainerConfig;
  logger: Logger;
  /** Per-epoch checkpoints (and the fitted encoder) go here; none without it. */
  checkpointDir?: string;
  resume?: boolean;
  /** Progress of each phase: reading sessions, training, evaluation (a bar on a TTY, log lines otherwise). */
  progress?: ProgressFactory;
  /** Stop after this many epochs in this call, leaving the checkpoint to resume (tests). */
  maxEpochsThisRun?: number;
  shouldStop?: () => boolean;
  /** The window the sessions were read from and the stored sessions it left out, for the log and card. */
  window?: { from: number; to: number; leftOut: { before: number; after: number } };
}

/** What to tell a user whose window left stored sessions out. */
export const WIDEN_WINDOW_ADVICE =
  'widen it with `intentstream train --from <ISO time> --to <ISO time>` (or --days N), or trainer.windowDays for the scheduled trainer';

export interface TrainingRun {
  model: tf.LayersModel;
  encoder: FeatureEncoder;
  dataset: Dataset;
  training: TrainResult;
  /** Undefined when the run was interrupted before training finished. */
  report?: EvaluationReport;
  /** Identity of (data, training-relevant config, seed); checkpoints are tied to it. */
  fingerprint: string;
}

export class TrainingDataError extends IntentstreamError {
  override name = 'TrainingDataError';
}

async function collect<T>(items: Iterable<T> | AsyncIterable<T>, progress?: ProgressFactory): Promise<T[]> {
  const reading = progress?.({ label: 'read sessions', unit: 'sessions' });
  const out: T[] = [];
  for await (const item of items) {
    out.push(item);
    reading?.tick();
  }
  reading?.done();
  return out;
}

/** The config that decides what is trained (not where files go, not how many epochs are left). */
export function trainingConfigIdentity(config: TrainerConfig): unknown {
  const { roles, labels, dataset, features, model, training, seed } = config;
  const { epochs: _epochs, fastWasmMatMul: _fast, ...trainingRest } = training;
  // Both LSTM implementations train the same weights: switching resumes the same run.
  const { lstmImplementation: _lstm, ...modelRest } = model;
  return { roles, labels, dataset, features, model: modelRest, training: trainingRest, seed };
}

export function runFingerprint(config: TrainerConfig, datasetFingerprint: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ config: trainingConfigIdentity(config), data: datasetFingerprint }))
    .digest('hex');
}

export async function runTraining(options: TrainingRunOptions): Promise<TrainingRun> {
  const { config, logger } = options;
  const dataset = buildDataset(await collect(options.sessions, options.progress), {
    labels: config.labels,
    roles: config.roles,
    prefixesPerSession: config.dataset.prefixesPerSession,
    split: config.dataset.split,
    cookieSplit: config.dataset.cookieSplit,
    seed: config.seed,
  });
  if (options.window) {
    const { from, to, leftOut } = options.window;
    dataset.summary.window = {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      kept: dataset.summary.sessionsRead,
      leftOutBefore: leftOut.before,
      leftOutAfter: leftOut.after,
    };
    const left = leftOut.before + leftOut.after;
    logger[left > 0 ? 'warn' : 'info']('training window', {
      ...dataset.summary.window,
      ...(left > 0 ? { advice: `the window left ${left} stored sessions out: ${WIDEN_WINDOW_ADVICE}` } : {}),
    });
  }
  logger.info('dataset built', { ...dataset.summary });
  checkTargetPresent(
    resolveLabels(config.labels, config.roles),
    new Map(Object.entries(dataset.summary.eventTypes)),
  );
  const { train: trainSplit, validation } = dataset.summary.splits;
  if (trainSplit.positives === 0 || trainSplit.positives === trainSplit.sessions) {
    throw new TrainingDataError(
      `the training split needs sessions of both classes (${trainSplit.sessions} sessions, ${trainSplit.positives} positive): widen the data range`,
    );
  }
  if (validation.sessions === 0 || dataset.summary.splits.test.sessions === 0) {
    throw new TrainingDataError(
      `validation (${validation.sessions}) and test (${dataset.summary.splits.test.sessions}) windows need sessions: widen the data range`,
    );
  }
  const fingerprint = runFingerprint(config, dataset.summary.fingerprint);

  let encoder: FeatureEncoder | undefined;
  if (options.resume && options.checkpointDir) {
    encoder = await readFile(join(options.checkpointDir, MODEL_FILES.encoder), 'utf8').then(
      (text) => FeatureEncoder.fromJSON(JSON.parse(text)),
      () => undefined,
    );
  }
  encoder ??= FeatureEncoder.fit(
    dataset.train.sessions.map((s) => s.events),
    { ...config.features, hashSeed: config.seed, roles: config.roles },
  );
  const eventTypes = eventTypeReport(encoder, dataset.summary.eventTypes, {
    train: dataset.train.sessions,
    validation: dataset.validation.sessions,
    test: dataset.test.sessions,
  });
  logger.info('event types', { ...eventTypes });
  if (options.checkpointDir) {
    await mkdir(options.checkpointDir, { recursive: true });
    await saveEncoder(encoder, options.checkpointDir);
  }

  const model = buildModel(encoder, { ...config.model, seed: config.seed });
  // Which code runs each LSTM layer's recurrence (the backend's fused kernel or tfjs ops): a GPU
  // run on the slow path must be visible in the log.
  logger.info('lstm recurrence', {
    implementation: config.model.lstmImplementation ?? 'fused',
    perLayer:
      config.model.lstmImplementation === 'layers'
        ? config.model.lstmUnits.map(() => 'tfjs-layers')
        : config.model.lstmUnits.map((units) => recurrencePath(units)),
  });
  const validationSplit = {
    sessions: dataset.validation.sessions,
    examples: dataset.validation.sessions.map((s, session) => ({
      session,
      length: s.events.length,
      full: true,
    })),
  };
  const training = await train({
    model,
    encoder,
    train: encodeSplit(encoder, dataset.train),
    validation: encodeSplit(encoder, validationSplit),
    epochs: config.training.epochs,
    batchSize: config.training.batchSize,
    learningRate: config.training.learningRate,
    learningRateDecay: config.training.learningRateDecay,
    patience: config.training.patience,
    classWeight: config.training.classWeight,
    embeddingL2: config.training.embeddingL2,
    prefixWeight: config.dataset.prefixWeight,
    seed: config.seed,
    logger,
    checkpointDir: options.checkpointDir,
    resume: options.resume,
    fingerprint,
    progress: options.progress,
    maxEpochsThisRun: options.maxEpochsThisRun,
    shouldStop: options.shouldStop,
  });
  if (!training.finished) return { model, encoder, dataset, training, fingerprint };

  if (config.training.correctPriorShift) correctPriorShift(model, training.positiveWeight);
  const report = await evaluateModel(model, encoder, dataset, {
    labels: config.labels,
    threshold: config.evaluation.threshold,
    calibrationBins: config.evaluation.calibrationBins,
    baselineL2: config.evaluation.baselineL2,
    baselineIterations: config.evaluation.baselineIterations,
    seed: config.seed,
    prefixesPerSession: Math.max(1, config.dataset.prefixesPerSession),
    bootstrapResamples: config.evaluation.bootstrapResamples,
    progress: options.progress,
  });
  logger.info('model evaluated', {
    testRocAuc: report.splits.test.rocAuc,
    baselineTestRocAuc: report.baseline.test.rocAuc,
    shuffledTestRocAuc: report.orderAblation.test.rocAuc,
    testPrefixRocAuc: report.testPrefixes.rocAuc,
    overBaseline: report.comparisons.overBaseline,
    labelDrift: report.labelDrift,
  });
  if (report.labelDrift.flagged) {
    logger.warn('label drift: the positive rate of the test window differs from the training split', {
      ...report.labelDrift,
    });
  }
  return { model, encoder, dataset, training, report, fingerprint };
}

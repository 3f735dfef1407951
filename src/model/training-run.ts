/**
 * One training run, from stored timelines to a trained, evaluated model, in memory bounded by the
 * batch, the shuffle buffer and the model rather than by the window: three passes over the sessions
 * (scan: start times for the time split; plan: summary and the encoder fitted on the training
 * split; encode: every session once into shards on local disk) → LSTM → training loop streaming
 * shuffled batches from the shards (checkpoints, early stopping) → prior-shift correction →
 * evaluation report, streamed from the shards too. No I/O besides the checkpoint directory and the
 * shard folder (removed at the end); the caller (CLI, cron, HTTP) selects the backend, reads the
 * store and writes the candidate.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../config/schema.js';
import {
  type DatasetOptions,
  DatasetScanner,
  type DatasetSession,
  type DatasetSummary,
  checkTargetPresent,
  datasetSession,
  resolveLabels,
} from '../dataset/index.js';
import { IntentstreamError } from '../errors.js';
import { FeatureEncoder, eventTypeReportFromCounts } from '../features/index.js';
import type { Logger } from '../log/logger.js';
import { MODEL_FILES } from '../registry/model-dir.js';
import { saveEncoder } from '../registry/model-files.js';
import type { SessionTimeline } from '../schemas/types.js';
import type { ProgressFactory } from '../util/progress.js';
import { recurrencePath } from './fused-lstm.js';
import { buildModel, correctPriorShift } from './lstm.js';
import { type EvaluationReport, evaluateModel } from './report.js';
import { BUFFER_SHARDS, ShardEncoder, forEachSession } from './shard-dataset.js';
import { shardedExamples } from './shards.js';
import { type TrainResult, train } from './train.js';

/**
 * The stored sessions. The run reads them three times (scan, encoder fit, encoding) and the champion
 * comparison a fourth (testSessions): an array, or a function that starts a fresh read each call.
 */
export type SessionSource =
  | readonly SessionTimeline[]
  | (() => Iterable<SessionTimeline> | AsyncIterable<SessionTimeline>);

export interface TrainingRunOptions {
  sessions: SessionSource;
  config: TrainerConfig;
  logger: Logger;
  /** Per-epoch checkpoints (and the fitted encoder) go here; none without it. */
  checkpointDir?: string;
  resume?: boolean;
  /** Progress of each phase: reading sessions, encoder fit, encoding, training, evaluation (a bar on a TTY, log lines otherwise). */
  progress?: ProgressFactory;
  /** Stop after this many epochs in this call, leaving the checkpoint to resume (tests). */
  maxEpochsThisRun?: number;
  shouldStop?: () => boolean;
  /** The window the sessions were read from and the stored sessions it left out, for the log and card. */
  window?: { from: number; to: number; leftOut: { before: number; after: number } };
  /** Where the encoded shards live during the run (a fresh folder under it, removed at the end); default the OS temp dir. */
  shardDir?: string;
  /** Sessions per shard file (default SESSIONS_PER_SHARD; tests use small shards). */
  sessionsPerShard?: number;
}

/** What to tell a user whose window left stored sessions out. */
export const WIDEN_WINDOW_ADVICE =
  'widen it with `intentstream train --from <ISO time> --to <ISO time>` (or --days N), or trainer.windowDays for the scheduled trainer';

export interface TrainingRun {
  model: tf.LayersModel;
  encoder: FeatureEncoder;
  dataset: { summary: DatasetSummary };
  /** The test window's sessions, read again from the source (in its order). */
  testSessions: () => AsyncIterable<DatasetSession>;
  training: TrainResult;
  /** Undefined when the run was interrupted before training finished. */
  report?: EvaluationReport;
  /** Identity of (data, training-relevant config, seed); checkpoints are tied to it. */
  fingerprint: string;
}

export class TrainingDataError extends IntentstreamError {
  override name = 'TrainingDataError';
}

const read = (source: SessionSource) => (typeof source === 'function' ? source() : source);

/** The config that decides what is trained (not where files go, not how many epochs are left). */
export function trainingConfigIdentity(config: TrainerConfig): unknown {
  const { roles, labels, dataset, features, model, training, seed } = config;
  const { epochs: _epochs, fastWasmMatMul: _fast, ...trainingRest } = training;
  // Both LSTM implementations train the same weights: switching resumes the same run.
  const { lstmImplementation: _lstm, ...modelRest } = model;
  return { roles, labels, dataset, features, model: modelRest, training: trainingRest, seed };
}

/** The dataset the trainer config asks for. */
export function datasetOptionsOf(config: TrainerConfig): DatasetOptions {
  return {
    labels: config.labels,
    roles: config.roles,
    prefixesPerSession: config.dataset.prefixesPerSession,
    split: config.dataset.split,
    cookieSplit: config.dataset.cookieSplit,
    seed: config.seed,
  };
}

/** The options of train() that come from the trainer config. */
export function trainingOptionsOf(config: TrainerConfig) {
  const t = config.training;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    learningRateDecay: t.learningRateDecay,
    patience: t.patience,
    classWeight: t.classWeight,
    embeddingL2: t.embeddingL2,
    prefixWeight: config.dataset.prefixWeight,
    seed: config.seed,
  };
}

export function runFingerprint(config: TrainerConfig, datasetFingerprint: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ config: trainingConfigIdentity(config), data: datasetFingerprint }))
    .digest('hex');
}

export async function runTraining(options: TrainingRunOptions): Promise<TrainingRun> {
  const { config, logger, progress } = options;
  const scanner = new DatasetScanner(datasetOptionsOf(config));
  await forEachSession(
    read(options.sessions),
    (s) => scanner.add(s),
    progress?.({ label: 'read sessions', unit: 'sessions' }),
  );
  const plan = scanner.finish();
  checkTargetPresent(
    resolveLabels(config.labels, config.roles),
    new Map(Object.entries(plan.scanned.eventTypes)),
  );

  // Pass 2: the summary, and the encoder fitted on the training split (unless resumed with one).
  let encoder: FeatureEncoder | undefined;
  if (options.resume && options.checkpointDir) {
    encoder = await readFile(join(options.checkpointDir, MODEL_FILES.encoder), 'utf8').then(
      (text) => FeatureEncoder.fromJSON(JSON.parse(text)),
      () => undefined,
    );
  }
  const fitter = encoder
    ? null
    : FeatureEncoder.fitter({ ...config.features, hashSeed: config.seed, roles: config.roles });
  const tally = plan.tally();
  await forEachSession(
    read(options.sessions),
    (s) => {
      const placed = plan.place(s);
      tally.add(s, placed);
      if (fitter && typeof placed !== 'string' && placed.split === 'train') fitter.add(placed.observable);
    },
    progress?.({ label: 'fit encoder', unit: 'sessions', total: plan.scanned.sessionsRead }),
  );
  const summary = tally.summary();
  if (options.window) {
    const { from, to, leftOut } = options.window;
    summary.window = {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      kept: summary.sessionsRead,
      leftOutBefore: leftOut.before,
      leftOutAfter: leftOut.after,
    };
    const left = leftOut.before + leftOut.after;
    logger[left > 0 ? 'warn' : 'info']('training window', {
      ...summary.window,
      ...(left > 0 ? { advice: `the window left ${left} stored sessions out: ${WIDEN_WINDOW_ADVICE}` } : {}),
    });
  }
  logger.info('dataset built', { ...summary });
  const { train: trainSplit, validation, test } = summary.splits;
  if (trainSplit.positives === 0 || trainSplit.positives === trainSplit.sessions) {
    throw new TrainingDataError(
      `the training split needs sessions of both classes (${trainSplit.sessions} sessions, ${trainSplit.positives} positive): widen the data range`,
    );
  }
  if (validation.sessions === 0 || test.sessions === 0) {
    throw new TrainingDataError(
      `validation (${validation.sessions}) and test (${test.sessions}) windows need sessions: widen the data range`,
    );
  }
  const fingerprint = runFingerprint(config, summary.fingerprint);
  encoder ??= fitter!.finish();
  if (options.checkpointDir) {
    await mkdir(options.checkpointDir, { recursive: true });
    await saveEncoder(encoder, options.checkpointDir);
  }

  // Pass 3: every kept session encoded once into its split's shards.
  const shardDir = await mkdtemp(join(options.shardDir ?? tmpdir(), 'intentstream-shards-'));
  try {
    const shardEncoder = new ShardEncoder({
      dir: shardDir,
      encoder,
      plan,
      summary,
      seed: config.seed,
      evaluationPrefixes: Math.max(1, config.dataset.prefixesPerSession),
      ...(options.sessionsPerShard !== undefined ? { sessionsPerShard: options.sessionsPerShard } : {}),
    });
    await forEachSession(
      read(options.sessions),
      (s) => shardEncoder.add(s),
      progress?.({ label: 'encode', unit: 'sessions', total: plan.scanned.sessionsRead }),
    );
    const shards = shardEncoder.finish();
    const eventTypes = eventTypeReportFromCounts(encoder, summary.eventTypes, shards.outOfVocabulary);
    logger.info('event types', { ...eventTypes });

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
    const training = await train({
      model,
      encoder,
      train: shardedExamples(shards.train, encoder, BUFFER_SHARDS),
      validation: shardedExamples(shards.validation, encoder, BUFFER_SHARDS),
      ...trainingOptionsOf(config),
      logger,
      checkpointDir: options.checkpointDir,
      resume: options.resume,
      fingerprint,
      progress,
      maxEpochsThisRun: options.maxEpochsThisRun,
      shouldStop: options.shouldStop,
    });
    const testSessions = async function* () {
      for await (const s of read(options.sessions)) {
        const placed = plan.place(s);
        if (typeof placed !== 'string' && placed.split === 'test') {
          yield datasetSession(s, placed);
        }
      }
    };
    const dataset = { summary };
    if (!training.finished) return { model, encoder, dataset, testSessions, training, fingerprint };

    if (config.training.correctPriorShift) correctPriorShift(model, training.positiveWeight);
    const report = await evaluateModel(
      model,
      encoder,
      { ...shards, summary },
      {
        labels: config.labels,
        threshold: config.evaluation.threshold,
        calibrationBins: config.evaluation.calibrationBins,
        baselineL2: config.evaluation.baselineL2,
        baselineIterations: config.evaluation.baselineIterations,
        seed: config.seed,
        bootstrapResamples: config.evaluation.bootstrapResamples,
        progress,
      },
    );
    logger.info('model evaluated', {
      testRocAuc: report.splits.test.rocAuc,
      baselineTestRocAuc: report.baseline.test.rocAuc,
      baselineFittedOn: report.baseline.fittedOn,
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
    return { model, encoder, dataset, testSessions, training, report, fingerprint };
  } finally {
    await rm(shardDir, { recursive: true, force: true });
  }
}

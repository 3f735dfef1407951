/**
 * The training loop: seeded, length-bucketed mini-batches; weighted binary cross-entropy (class
 * weights for the imbalance); Adam; after each epoch the validation ROC-AUC decides early stopping
 * (patience) and a checkpoint is written; at the end the best epoch's weights are restored.
 *
 * Determinism: initializers are seeded (lstm.ts), batch order is a function of (seed, epoch), the
 * dropout seed of (seed, step); so on the cpu backend the same data, config and seed give identical
 * weights, and a resumed run continues exactly where the checkpoint left off (up to Adam restoring
 * its bias-correction powers as pow() instead of a running product, a last-bit difference).
 *
 * Tensor hygiene: every batch's tensors live inside tf.tidy; weights are copied out as typed arrays;
 * the number of live tensors after train() equals the number before plus what the optimizer owns
 * (tests assert this).
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureEncoder } from '../features/index.js';
import type { Logger } from '../log/logger.js';
import type { ProgressFactory } from '../util/progress.js';
import { hash32 } from '../util/random.js';
import { Rng } from '../util/random.js';
import { setAdamLearningRate } from '../vendor-shims/tfjs-core.js';
import {
  type EncodedSplit,
  type TrainingExamples,
  batchInputs,
  batchLabels,
  inMemoryExamples,
  stepsOf,
} from './batches.js';
import {
  CheckpointError,
  type CheckpointState,
  type EpochRecord,
  readCheckpoint,
  writeCheckpoint,
} from './checkpoint.js';
import { logLoss, rocAuc } from './evaluate.js';
import { reseedDropout } from './lstm.js';
import { FusedAdamOptimizer, isFusedAdam } from './webgpu-adam.js';
import { WebgpuTrainingStep } from './webgpu-step/step.js';
import { weightedLogLoss } from './weighted-log-loss.js';

/** Batches a batch's loss may be read back after it was queued (see the training loop). */
const LOSS_READBACK_LAG = 4;
export type ClassWeight = 'balanced' | 'none' | number;

export interface TrainOptions {
  model: tf.LayersModel;
  encoder: FeatureEncoder;
  /** In memory (an EncodedSplit) or streamed from shards (TrainingExamples). */
  train: EncodedSplit | TrainingExamples;
  /** Early stopping and checkpoints use the ROC-AUC of its full sequences. */
  validation: EncodedSplit | TrainingExamples;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Multiplier of the learning rate per epoch (1 = constant). */
  learningRateDecay?: number;
  patience: number;
  classWeight: ClassWeight;
  /** Loss weight of a sampled prefix relative to a full observable sequence (default 1). */
  prefixWeight?: number;
  /** L2 penalty on the embedding tables (sum of squares, added to the mean loss); 0 = none. */
  embeddingL2?: number;
  seed: number;
  logger: Logger;
  /** Where each epoch's checkpoint goes; no checkpoints without it. */
  checkpointDir?: string;
  /** Continue from the checkpoint in checkpointDir (if any). */
  resume?: boolean;
  /** Identity of the run (data + config + seed); resume refuses a checkpoint with another one. */
  fingerprint?: string;
  /** Progress in examples over all epochs of this call (createProgress). */
  progress?: ProgressFactory;
  /** Checked between batches: stop after the current epoch's checkpoint... or now, dropping the epoch. */
  shouldStop?: () => boolean;
  /** Stop after this many epochs in this call (simulates a kill in tests); default no limit. */
  maxEpochsThisRun?: number;
  /**
   * On webgpu, train with the step of src/model/webgpu-step (default true) rather than through tfjs
   * ops; models it does not run train through tfjs either way (logged).
   */
  gpuStep?: boolean;
}

export interface TrainResult {
  history: EpochRecord[];
  epochsCompleted: number;
  bestEpoch: number;
  bestValidationAuc: number | null;
  stoppedEarly: boolean;
  /** Epochs already done when this call started (0 for a fresh run). */
  resumedFromEpoch: number;
  /** Weight of the positive class relative to the negative one (1 = unweighted). */
  positiveWeight: number;
  seconds: number;
  /** Training time steps (batch x padded length) per second over this call. */
  stepsPerSecond: number;
  /** Training ran to its end (early stop or all epochs), rather than being interrupted. */
  finished: boolean;
}

/** Positive-class weight relative to the negative class, from counts: `positives` of `total` examples. */
export function positiveWeightOf(positives: number, total: number, classWeight: ClassWeight): number {
  if (classWeight === 'none') return 1;
  if (typeof classWeight === 'number') return classWeight;
  const negatives = total - positives;
  return positives === 0 || negatives === 0 ? 1 : negatives / positives;
}

const asExamples = (encoder: FeatureEncoder, data: EncodedSplit | TrainingExamples): TrainingExamples =>
  'steps' in data ? inMemoryExamples(encoder, data) : data;

const trainableVariables = (model: tf.LayersModel) =>
  model.trainableWeights.map((w) => w.read() as tf.Variable);

/**
 * Copies of the model's weights that survive later training steps. A clone shares the variable's
 * current buffer, and the optimizer's assign() gives the variable a new one, so the copy stays as it
 * was without reading the weights back (webgpu in Node has no synchronous read: dataSync throws).
 */
const snapshotWeights = (model: tf.LayersModel) => model.getWeights().map((w) => tf.clone(w));

export interface TrainingStepOptions {
  model: tf.LayersModel;
  encoder: FeatureEncoder;
  optimizer: tf.Optimizer;
  /** Loss weight of a positive example relative to a negative one. */
  positiveWeight: number;
  /** Loss weight of a sampled prefix relative to a full observable sequence. */
  prefixWeight: number;
  /** L2 penalty on the embedding tables; 0 = none. */
  embeddingL2: number;
}

/**
 * One optimizer step on the examples `batch` of `split`: the mean of the class- and prefix-weighted
 * log loss, plus the embeddings' L2 penalty, minimized over the trainable weights. Returns the loss
 * (the caller disposes it; without the penalty where the fused Adam step applies it); every other
 * tensor is released.
 */
export function trainingStep(options: TrainingStepOptions) {
  const { model, encoder, optimizer, positiveWeight, prefixWeight, embeddingL2 } = options;
  const variables = trainableVariables(model);
  const embeddingTables = model.layers
    .filter((layer) => layer.getClassName() === 'Embedding')
    .flatMap((layer) => layer.trainableWeights.map((w) => w.read() as tf.Variable));
  // The fused Adam step adds the penalty's gradient itself (a few dispatches fewer per table on a
  // GPU); any other optimizer gets the penalty in the loss. Same gradient either way.
  const penaltyInStep = embeddingL2 > 0 && isFusedAdam(optimizer);
  const tableNames = embeddingTables.map((table) => table.name);
  if (penaltyInStep) optimizer.setL2(tableNames, embeddingL2);
  return (split: EncodedSplit, batch: readonly number[]): tf.Scalar =>
    tf.tidy(() => {
      const inputs = batchInputs(encoder, split, batch);
      const labels = batchLabels(split, batch);
      const exampleWeights = tf.tensor2d(
        Float32Array.from(batch, (i) => (split.examples[i]!.full ? 1 : prefixWeight)),
        [batch.length, 1],
      );
      const weights = tf.mul(exampleWeights, tf.add(1, tf.mul(labels, positiveWeight - 1)));
      return optimizer.minimize(
        () => {
          const p = model.apply(inputs, { training: true }) as tf.Tensor;
          const dataLoss = weightedLogLoss(labels, p, weights);
          if (embeddingL2 === 0 || penaltyInStep) return dataLoss;
          const penalty = tf.addN(embeddingTables.map((table) => tf.sum(tf.square(table))));
          return tf.add(dataLoss, tf.mul(penalty, embeddingL2)) as tf.Scalar;
        },
        true,
        variables,
      ) as tf.Scalar;
    });
}

/**
 * The webgpu training step for the model, where the backend is webgpu and the step runs the model
 * (logged either way); undefined elsewhere.
 */
async function gpuStepFor(options: TrainOptions): Promise<WebgpuTrainingStep | undefined> {
  if (tf.getBackend() !== 'webgpu' || options.gpuStep === false) return undefined;
  const created = await WebgpuTrainingStep.forModel(options.model, options.encoder, options.batchSize);
  if ('unsupported' in created) {
    options.logger.warn('training through tfjs ops: the webgpu step does not run this model', {
      reason: created.unsupported,
    });
    return undefined;
  }
  options.logger.info('training with the webgpu step', { dispatchesPerStep: created.dispatchesPerStep });
  return created;
}

/**
 * The run state and best weights of the checkpoint in `dir`, with the model's weights and the
 * optimizer's (or the webgpu step's) Adam state restored from it; undefined without a checkpoint.
 */
async function resumeFromCheckpoint(
  options: TrainOptions,
  dir: string,
  optimizer: FusedAdamOptimizer,
  gpu: WebgpuTrainingStep | undefined,
): Promise<{ state: Omit<CheckpointState, 'files' | 'version'>; best: tf.Tensor[] } | undefined> {
  const saved = await readCheckpoint(dir);
  if (!saved) return undefined;
  if (options.fingerprint !== undefined && saved.state.fingerprint !== options.fingerprint) {
    for (const t of [...saved.weights, ...saved.best, ...saved.optimizer.map((o) => o.tensor)]) t.dispose();
    throw new CheckpointError(
      `the checkpoint in ${dir} belongs to another run (different data, config or seed); remove it or train without --resume`,
    );
  }
  options.model.setWeights(saved.weights);
  for (const t of saved.weights) t.dispose();
  if (saved.optimizer.length > 0) {
    if (gpu) await gpu.loadOptimizerState(saved.optimizer);
    else await optimizer.setWeights(saved.optimizer);
  }
  for (const o of saved.optimizer) o.tensor.dispose();
  const { files: _files, version: _version, ...state } = saved.state;
  // A run that ended because it used up its epochs (not by early stopping) continues when resumed
  // with more epochs.
  if (state.finished && state.epochsWithoutImprovement < options.patience && options.epochs > state.epoch) {
    state.finished = false;
  }
  options.logger.info('training resumed from checkpoint', {
    dir,
    epoch: state.epoch,
    bestEpoch: state.bestEpoch,
    bestValidationAuc: state.bestValidationAuc,
    finished: state.finished,
  });
  return { state, best: saved.best };
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { model, encoder, logger } = options;
  const started = performance.now();
  const trainData = asExamples(encoder, options.train);
  const validationData = asExamples(encoder, options.validation);
  const positiveWeight = positiveWeightOf(trainData.positives, trainData.count, options.classWeight);
  const optimizer = new FusedAdamOptimizer(options.learningRate);
  const step = trainingStep({
    model,
    encoder,
    optimizer,
    positiveWeight,
    prefixWeight: options.prefixWeight ?? 1,
    embeddingL2: options.embeddingL2 ?? 0,
  });

  let state: Omit<CheckpointState, 'files' | 'version'> = {
    fingerprint: options.fingerprint ?? '',
    seed: options.seed,
    epoch: 0,
    globalStep: 0,
    bestEpoch: 0,
    bestValidationAuc: null,
    epochsWithoutImprovement: 0,
    finished: false,
    history: [],
  };
  let best: tf.Tensor[] = snapshotWeights(model);
  const gpu = await gpuStepFor(options);
  // The step's GPU buffers go back whatever happens (the trainer service trains in-process).
  try {
    if (options.resume && options.checkpointDir) {
      const resumed = await resumeFromCheckpoint(options, options.checkpointDir, optimizer, gpu);
      if (resumed) {
        for (const t of best) t.dispose();
        ({ state, best } = resumed);
      }
    }
    await gpu?.loadWeights();
    const resumedFromEpoch = state.epoch;
    const remainingEpochs = state.finished ? 0 : Math.max(0, options.epochs - state.epoch);
    const progress = options.progress?.({
      label: 'train',
      unit: 'examples',
      total: remainingEpochs * trainData.count,
    });

    let stepsThisRun = 0;
    let trainSeconds = 0;
    let epochsThisRun = 0;
    let interrupted = false;
    while (!state.finished && state.epoch < options.epochs) {
      if (options.maxEpochsThisRun !== undefined && epochsThisRun >= options.maxEpochsThisRun) {
        interrupted = true;
        break;
      }
      const epoch = state.epoch + 1;
      // Exponential decay per epoch, a function of the epoch alone, so a resumed run gets the same rate.
      const learningRate = options.learningRate * (options.learningRateDecay ?? 1) ** (epoch - 1);
      setAdamLearningRate(optimizer, learningRate);
      const epochStart = performance.now();
      const batches = trainData.epoch(new Rng(hash32(options.seed, 0x65706f63, epoch)), options.batchSize);
      let lossSum = 0;
      let lossCount = 0;
      let epochSteps = 0;
      // Batch losses are read back LOSS_READBACK_LAG batches late: awaiting each one would stall a GPU
      // backend's queue every batch (on cpu and wasm the value is ready at once). Only reporting reads them.
      const pendingLosses: { value: Promise<number>; size: number }[] = [];
      const settleLosses = async (keep: number) => {
        while (pendingLosses.length > keep) {
          const { value, size } = pendingLosses.shift()!;
          lossSum += (await value) * size;
          lossCount += size;
          progress?.tick(size, { epoch, loss: Math.round((lossSum / lossCount) * 1e4) / 1e4 });
        }
      };
      for await (const { split, batch } of batches) {
        if (options.shouldStop?.()) {
          interrupted = true;
          break;
        }
        if (gpu) {
          await gpu.step(split, batch, {
            learningRate,
            positiveWeight,
            prefixWeight: options.prefixWeight ?? 1,
            embeddingL2: options.embeddingL2 ?? 0,
            seed: hash32(options.seed, state.globalStep),
          });
          lossCount += batch.length;
          progress?.tick(batch.length, { epoch });
        } else {
          reseedDropout(model, options.seed, state.globalStep);
          const loss = step(split, batch);
          pendingLosses.push({
            value: loss.data().then((values) => {
              loss.dispose();
              return values[0]!;
            }),
            size: batch.length,
          });
        }
        epochSteps += batch.length * Math.max(...batch.map((i) => stepsOf(encoder, split.examples[i]!)));
        state.globalStep++;
        await settleLosses(LOSS_READBACK_LAG);
      }
      await settleLosses(0);
      if (interrupted) break;
      if (gpu) {
        // The step sums its batches' loss terms on the GPU; the model gets the epoch's weights.
        lossSum += await gpu.takeLoss();
        await gpu.saveWeights();
      }
      const epochTrainSeconds = (performance.now() - epochStart) / 1000;
      trainSeconds += epochTrainSeconds;
      stepsThisRun += epochSteps;

      const { labels: validationLabels, scores } = await validationData.predictFull(model);
      const validationAuc = rocAuc(validationLabels, scores);
      const record: EpochRecord = {
        epoch,
        loss: lossSum / Math.max(1, lossCount),
        validationAuc,
        validationLogLoss: logLoss(validationLabels, scores),
        seconds: (performance.now() - epochStart) / 1000,
        stepsPerSecond: epochSteps / Math.max(epochTrainSeconds, 1e-9),
      };
      const improved =
        validationAuc !== null &&
        (state.bestValidationAuc === null || validationAuc > state.bestValidationAuc);
      if (improved || state.epoch === 0) {
        for (const t of best) t.dispose();
        best = snapshotWeights(model);
      }
      state = {
        ...state,
        epoch,
        history: [...state.history, record],
        bestEpoch: improved || state.bestEpoch === 0 ? epoch : state.bestEpoch,
        bestValidationAuc: improved ? validationAuc : state.bestValidationAuc,
        epochsWithoutImprovement: improved ? 0 : state.epochsWithoutImprovement + 1,
      };
      if (state.epochsWithoutImprovement >= options.patience || epoch >= options.epochs)
        state.finished = true;
      epochsThisRun++;
      logger.info('epoch finished', {
        ...record,
        loss: Math.round(record.loss * 1e5) / 1e5,
        stepsPerSecond: Math.round(record.stepsPerSecond),
        seconds: Math.round(record.seconds * 10) / 10,
        bestEpoch: state.bestEpoch,
        bestValidationAuc: state.bestValidationAuc,
        stoppingEarly: state.finished && epoch < options.epochs,
      });
      if (options.checkpointDir) {
        const weights = model.getWeights();
        const optimizerWeights = gpu ? await gpu.optimizerState() : await optimizer.getWeights();
        await writeCheckpoint(options.checkpointDir, state, { weights, optimizer: optimizerWeights, best });
        for (const w of optimizerWeights) if (gpu || w.name === 'iter') w.tensor.dispose();
      }
    }
    progress?.done({
      epochs: state.epoch,
      bestEpoch: state.bestEpoch,
      bestValidationAuc: state.bestValidationAuc,
    });

    // The best epoch's weights are the result (only when training is over: an interrupted run keeps
    // its current weights, which the checkpoint holds too).
    if (state.finished) model.setWeights(best);
    for (const t of best) t.dispose();
    optimizer.dispose();
    return {
      history: state.history,
      epochsCompleted: state.epoch,
      bestEpoch: state.bestEpoch,
      bestValidationAuc: state.bestValidationAuc,
      stoppedEarly: state.finished && state.epoch < options.epochs,
      resumedFromEpoch,
      positiveWeight,
      seconds: (performance.now() - started) / 1000,
      stepsPerSecond: trainSeconds > 0 ? stepsThisRun / trainSeconds : 0,
      finished: state.finished && !interrupted,
    };
  } finally {
    gpu?.dispose();
  }
}

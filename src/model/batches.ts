/**
 * From encoded sessions to model inputs. Every session is encoded once (all its observable steps);
 * an example is then "the first `length` steps of session s", cut to its last maxSteps and padded
 * to the longest example of its batch. Training batches are drawn in a seeded order with length
 * bucketing (examples of similar length share a batch), so a batch of short sessions does not pay
 * for maxSteps time steps.
 */
import * as tf from '@tensorflow/tfjs';
import type { DatasetSession, Example } from '../dataset/index.js';
import {
  CATEGORICAL_COUNT,
  CATEGORICAL_INPUTS,
  type EncodedSteps,
  type FeatureEncoder,
} from '../features/index.js';
import type { ShopEvent } from '../schemas/types.js';
import { type Rng, shuffleInPlace } from '../util/random.js';

export interface EncodedSplit {
  steps: EncodedSteps[];
  /** Label per session. */
  labels: Float32Array;
  examples: Example[];
}

/** Encodes each session's observable events once; `transform` rewrites the events first (ablations). */
export function encodeSplit(
  encoder: FeatureEncoder,
  split: { sessions: readonly DatasetSession[]; examples: readonly Example[] },
  transform?: (events: readonly ShopEvent[], session: DatasetSession) => readonly ShopEvent[],
): EncodedSplit {
  return {
    steps: split.sessions.map((s) =>
      encoder.encodeEvents(transform ? transform(s.events, s) : s.events, s.startTime),
    ),
    labels: Float32Array.from(split.sessions, (s) => s.label),
    examples: [...split.examples],
  };
}

/** One example per sequence, the whole sequence (for prediction). */
export function encodeSequences(
  encoder: FeatureEncoder,
  sequences: readonly (readonly ShopEvent[])[],
): EncodedSplit {
  return {
    steps: sequences.map((events) => encoder.encodeEvents(events)),
    labels: new Float32Array(sequences.length),
    examples: sequences.map((events, session) => ({ session, length: events.length, full: true })),
  };
}

/** Time steps the model runs for an example. */
export function stepsOf(encoder: FeatureEncoder, example: Example): number {
  return Math.max(1, Math.min(example.length, encoder.maxSteps));
}

/**
 * Batches of example indices in a seeded order: shuffle, cut into pools of `poolBatches` batches,
 * sort each pool by length and slice it into batches, then shuffle the batches.
 */
export function planBatches(
  lengths: readonly number[],
  batchSize: number,
  rng: Rng,
  poolBatches = 16,
): number[][] {
  const order = shuffleInPlace(
    Array.from({ length: lengths.length }, (_, i) => i),
    rng,
  );
  const batches: number[][] = [];
  const pool = batchSize * poolBatches;
  for (let p = 0; p < order.length; p += pool) {
    const chunk = order.slice(p, p + pool).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    for (let b = 0; b < chunk.length; b += batchSize) batches.push(chunk.slice(b, b + batchSize));
  }
  return shuffleInPlace(batches, rng);
}

/** Model inputs (5 categorical [B, T] int32 + numeric [B, T, N]) for the given examples. */
export function batchInputs(
  encoder: FeatureEncoder,
  split: EncodedSplit,
  exampleIndices: readonly number[],
): tf.Tensor[] {
  const B = exampleIndices.length;
  // At least two time steps: with one, tfjs's rnn() unstacks into a single tensor and the Unpack
  // gradient (which expects a list) throws. The extra step is padding, masked out.
  let T = 2;
  for (const i of exampleIndices) T = Math.max(T, stepsOf(encoder, split.examples[i]!));
  const N = encoder.numericSize;
  const cats = CATEGORICAL_INPUTS.map(() => new Int32Array(B * T));
  const numeric = new Float32Array(B * T * N);
  exampleIndices.forEach((ei, b) => {
    const ex = split.examples[ei]!;
    const steps = split.steps[ex.session]!;
    const end = Math.min(ex.length, steps.length);
    const start = Math.max(0, end - encoder.maxSteps);
    for (let t = 0; t < end - start; t++) {
      const src = (start + t) * CATEGORICAL_COUNT;
      for (let c = 0; c < CATEGORICAL_COUNT; c++) cats[c]![b * T + t] = steps.categorical[src + c]!;
    }
    numeric.set(steps.numeric.subarray(start * N, end * N), b * T * N);
  });
  return [...cats.map((values) => tf.tensor2d(values, [B, T], 'int32')), tf.tensor3d(numeric, [B, T, N])];
}

/** Labels [B, 1] of the given examples. */
export function batchLabels(split: EncodedSplit, exampleIndices: readonly number[]): tf.Tensor2D {
  return tf.tensor2d(
    Float32Array.from(exampleIndices, (i) => split.labels[split.examples[i]!.session]!),
    [exampleIndices.length, 1],
  );
}

/**
 * Probabilities for every example of `split`, in example order. Batches are formed by length so
 * short sessions run few steps; all tensors are disposed.
 */
export async function predictSplit(
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  split: EncodedSplit,
  batchSize = 1024,
): Promise<Float32Array> {
  const order = Array.from({ length: split.examples.length }, (_, i) => i).sort(
    (a, b) => stepsOf(encoder, split.examples[a]!) - stepsOf(encoder, split.examples[b]!) || a - b,
  );
  const out = new Float32Array(order.length);
  for (let p = 0; p < order.length; p += batchSize) {
    const batch = order.slice(p, p + batchSize);
    const probabilities = tf.tidy(() => {
      const inputs = batchInputs(encoder, split, batch);
      return model.predict(inputs) as tf.Tensor;
    });
    const values = await probabilities.data();
    probabilities.dispose();
    batch.forEach((ei, k) => {
      out[ei] = values[k]!;
    });
  }
  return out;
}

/**
 * Purchase probability of each session given its events (the observable prefix: callers apply the
 * label truncation, e.g. DatasetSession.events). Used by tests and by the registry to score a
 * champion on a candidate's test window.
 */
export function predictSessions(
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  sessions: readonly { events: readonly ShopEvent[] }[],
  batchSize = 1024,
): Promise<Float32Array> {
  return predictSplit(
    model,
    encoder,
    encodeSequences(
      encoder,
      sessions.map((s) => s.events),
    ),
    batchSize,
  );
}

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

/**
 * What training draws batches from: one EncodedSplit in memory (inMemoryExamples), or a split's
 * shards on disk (ShardSet through shardedExamples, shards.ts), whose memory does not grow with it.
 */
export interface TrainingExamples {
  /** Examples per epoch, and those with a positive label (for the class weight). */
  readonly count: number;
  readonly positives: number;
  /** One epoch's batches, in an order drawn from `rng`; each batch indexes its split's examples. */
  epoch(rng: Rng, batchSize: number): AsyncIterable<{ split: EncodedSplit; batch: number[] }>;
  /** Labels and scores of the full-sequence examples (validation), in a fixed order. */
  predictFull(model: tf.LayersModel): Promise<{ labels: Float32Array; scores: Float32Array }>;
}

/** Training examples held in memory: today's data sets and tests. */
export function inMemoryExamples(encoder: FeatureEncoder, split: EncodedSplit): TrainingExamples {
  const labels = split.examples.map((e) => split.labels[e.session]!);
  return {
    count: split.examples.length,
    positives: labels.reduce((n, l) => n + l, 0),
    async *epoch(rng, batchSize) {
      const lengths = split.examples.map((e) => stepsOf(encoder, e));
      for (const batch of planBatches(lengths, batchSize, rng)) yield { split, batch };
    },
    async predictFull(model) {
      return { labels: Float32Array.from(labels), scores: await predictSplit(model, encoder, split) };
    },
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

/**
 * The steps of `split` an example runs: the first `length` of its session's, cut to the last
 * `maxSteps` ([start, end) of the session's steps).
 */
export function exampleWindow(split: EncodedSplit, example: Example, maxSteps: number) {
  const end = Math.min(example.length, split.steps[example.session]!.length);
  return { start: Math.max(0, end - maxSteps), end };
}

/**
 * Fixed-length numeric sequences (`steps` steps of `features` values each, row after row in
 * `numeric`) as a split of full examples without ids: benchmarks and tests of models without embeddings.
 */
export function numericSplit(
  numeric: Float32Array,
  labels: Float32Array,
  steps: number,
  features: number,
): EncodedSplit {
  return {
    steps: Array.from(labels, (_, b) => ({
      length: steps,
      categorical: new Int32Array(0),
      numeric: numeric.slice(b * steps * features, (b + 1) * steps * features),
    })),
    labels,
    examples: Array.from(labels, (_, session) => ({ session, length: steps, full: true })),
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
    const { start, end } = exampleWindow(split, ex, encoder.maxSteps);
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

/**
 * Labels and scores of labelled sessions streamed in chunks of `chunk` (the registry scores a
 * champion on a candidate's test window this way without holding the window).
 */
export async function scoreLabelledSessions(
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  sessions: AsyncIterable<{ events: readonly ShopEvent[]; label: number }>,
  chunk = 4096,
): Promise<{ labels: Float32Array; scores: Float32Array }> {
  const labels: number[] = [];
  const scores: Float32Array[] = [];
  let pending: { events: readonly ShopEvent[] }[] = [];
  const flush = async () => {
    if (pending.length > 0) scores.push(await predictSessions(model, encoder, pending));
    pending = [];
  };
  for await (const s of sessions) {
    labels.push(s.label);
    pending.push(s);
    if (pending.length >= chunk) await flush();
  }
  await flush();
  const out = new Float32Array(labels.length);
  let at = 0;
  for (const part of scores) {
    out.set(part, at);
    at += part.length;
  }
  return { labels: Float32Array.from(labels), scores: out };
}

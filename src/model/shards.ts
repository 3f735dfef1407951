/**
 * Encoded sessions on local disk, so training and evaluation hold a bounded number of them: the
 * trainer encodes each session once into one of a split's shard files (chosen by a seeded hash of
 * its id, so a shard is a random sample and a shuffle unit), then every epoch reads the shards in a
 * seeded order, a few at a time (the shuffle buffer), and plans length-bucketed batches within the
 * buffer (planBatches); prediction reads one shard at a time.
 *
 * A record is one session: a header (steps, label, examples, whether a shuffled copy follows, the
 * size of a baseline feature row), its examples (length and kind), the categorical (Int32) and
 * numeric (Float32) features of every step, optionally the same for its events in shuffled order
 * (the order ablation), and optionally one Float64 baseline feature row per example. Records are
 * padded to 8 bytes so every section is a view on the file's buffer, never a copy.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { Example } from '../dataset/index.js';
import { CATEGORICAL_COUNT, type EncodedSteps, type FeatureEncoder } from '../features/index.js';
import { type Rng, seedFor, shuffleInPlace } from '../util/random.js';
import { type EncodedSplit, type TrainingExamples, planBatches, predictSplit, stepsOf } from './batches.js';

/** What an example is for: the full observable sequence, a training prefix, or an evaluation prefix. */
export const EXAMPLE_KIND = { full: 0, trainingPrefix: 1, evaluationPrefix: 2 } as const;
export type ExampleKind = (typeof EXAMPLE_KIND)[keyof typeof EXAMPLE_KIND];

export interface ShardRecord {
  steps: EncodedSteps;
  label: number;
  examples: readonly { length: number; kind: ExampleKind }[];
  /** The session's events in shuffled order, encoded (order ablation). */
  shuffled?: EncodedSteps;
  /** One baseline feature row per example, examples.length × featureSize. */
  features?: Float64Array;
}

/** A shard read back: an EncodedSplit over its sessions plus what each example is for. */
export interface LoadedShard {
  split: EncodedSplit;
  kinds: Uint8Array;
  /** Per session (empty when the shard has no shuffled copies). */
  shuffled: EncodedSteps[];
  /** Per example (empty when the shard has no feature rows). */
  features: Float64Array[];
}

const HEADER_INTS = 5;
/**
 * Bytes all shards of a writer may hold before they are written out, together: a budget per writer,
 * not per shard, since the shard count grows with the window (a per-shard buffer grew with it too).
 */
const PENDING_BYTES = 16 * 1024 * 1024;
const align8 = (n: number) => (n + 7) & ~7;

function stepBytes(steps: number, numericSize: number): number {
  return steps * (CATEGORICAL_COUNT + numericSize) * 4;
}

/** The bytes of one record. */
export function encodeRecord(record: ShardRecord, numericSize: number): Uint8Array {
  const n = record.steps.length;
  const m = record.examples.length;
  const featureSize = record.features ? record.features.length / Math.max(1, m) : 0;
  const head = (HEADER_INTS + 2 * m) * 4;
  const body = stepBytes(n, numericSize) * (record.shuffled ? 2 : 1);
  const featuresAt = align8(head + body);
  const out = new Uint8Array(align8(featuresAt + m * featureSize * 8));
  const ints = new Int32Array(out.buffer, 0, HEADER_INTS + 2 * m);
  ints.set([n, record.label, m, record.shuffled ? 1 : 0, featureSize]);
  record.examples.forEach((e, i) => {
    ints[HEADER_INTS + i] = e.length;
    ints[HEADER_INTS + m + i] = e.kind;
  });
  let at = head;
  for (const steps of record.shuffled ? [record.steps, record.shuffled] : [record.steps]) {
    out.set(
      new Uint8Array(steps.categorical.buffer, steps.categorical.byteOffset, n * CATEGORICAL_COUNT * 4),
      at,
    );
    at += n * CATEGORICAL_COUNT * 4;
    out.set(new Uint8Array(steps.numeric.buffer, steps.numeric.byteOffset, n * numericSize * 4), at);
    at += n * numericSize * 4;
  }
  if (record.features)
    out.set(
      new Uint8Array(record.features.buffer, record.features.byteOffset, m * featureSize * 8),
      featuresAt,
    );
  return out;
}

/** Parses a shard file's bytes (`bytes.byteOffset` must be a multiple of 8). */
export function decodeShard(bytes: Uint8Array, numericSize: number): LoadedShard {
  const steps: EncodedSteps[] = [];
  const labels: number[] = [];
  const examples: Example[] = [];
  const kinds: number[] = [];
  const shuffled: EncodedSteps[] = [];
  const features: Float64Array[] = [];
  const { buffer, byteOffset } = bytes;
  const readSteps = (at: number, n: number): EncodedSteps => ({
    length: n,
    categorical: new Int32Array(buffer, byteOffset + at, n * CATEGORICAL_COUNT),
    numeric: new Float32Array(buffer, byteOffset + at + n * CATEGORICAL_COUNT * 4, n * numericSize),
  });
  for (let at = 0; at < bytes.length; ) {
    const [n, label, m, hasShuffled, featureSize] = new Int32Array(buffer, byteOffset + at, HEADER_INTS);
    const ints = new Int32Array(buffer, byteOffset + at + HEADER_INTS * 4, 2 * m!);
    const session = steps.length;
    for (let i = 0; i < m!; i++) {
      examples.push({ session, length: ints[i]!, full: ints[m! + i] === EXAMPLE_KIND.full });
      kinds.push(ints[m! + i]!);
    }
    const head = (HEADER_INTS + 2 * m!) * 4;
    steps.push(readSteps(at + head, n!));
    labels.push(label!);
    if (hasShuffled) shuffled.push(readSteps(at + head + stepBytes(n!, numericSize), n!));
    const featuresAt = align8(head + stepBytes(n!, numericSize) * (hasShuffled ? 2 : 1));
    for (let i = 0; i < m!; i++) {
      if (featureSize! > 0) {
        features.push(
          new Float64Array(buffer, byteOffset + at + featuresAt + i * featureSize! * 8, featureSize!),
        );
      }
    }
    at += align8(featuresAt + m! * featureSize! * 8);
  }
  return {
    split: { steps, labels: Float32Array.from(labels), examples },
    kinds: Uint8Array.from(kinds),
    shuffled,
    features,
  };
}

interface ShardFile {
  path: string;
  sessions: number;
  examples: number;
  positiveExamples: number;
}

/** Appends records to `count` shard files of one split; close() gives the ShardSet to read them. */
export class ShardWriter {
  private readonly files: ShardFile[];
  private readonly pending: Uint8Array[][];
  /** Whether a shard's file was created (later writes append to it). */
  private readonly created: boolean[];
  private pendingBytes = 0;

  constructor(
    dir: string,
    readonly name: string,
    readonly count: number,
    private readonly numericSize: number,
    private readonly seed: number,
    /** Pending bytes that trigger a write of every shard (tests use a small budget). */
    private readonly budget = PENDING_BYTES,
  ) {
    if (!(Number.isInteger(count) && count >= 1))
      throw new RangeError(`shard count must be >= 1, got ${count}`);
    this.files = Array.from({ length: count }, (_, i) => ({
      path: join(dir, `${name}-${String(i).padStart(5, '0')}.bin`),
      sessions: 0,
      examples: 0,
      positiveExamples: 0,
    }));
    this.pending = this.files.map(() => []);
    this.created = this.files.map(() => false);
  }

  /** The shard of a session: a seeded hash of its id, so the same session lands in the same shard. */
  shardOf(sessionId: string): number {
    return seedFor(this.seed, `shard:${sessionId}`) % this.count;
  }

  append(sessionId: string, record: ShardRecord): void {
    const shard = this.shardOf(sessionId);
    const bytes = encodeRecord(record, this.numericSize);
    const file = this.files[shard]!;
    file.sessions++;
    file.examples += record.examples.length;
    file.positiveExamples += record.label * record.examples.length;
    this.pending[shard]!.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= this.budget) this.flushAll();
  }

  /** Writes every shard's pending records (creating each file once), one file open at a time. */
  private flushAll(): void {
    for (let shard = 0; shard < this.count; shard++) {
      const records = this.pending[shard]!;
      if (records.length === 0 && this.created[shard]) continue;
      const fd = openSync(this.files[shard]!.path, this.created[shard] ? 'a' : 'w');
      try {
        for (const bytes of records) writeSync(fd, bytes);
      } finally {
        closeSync(fd);
      }
      this.created[shard] = true;
      this.pending[shard] = [];
    }
    this.pendingBytes = 0;
  }

  close(): ShardSet {
    this.flushAll();
    return new ShardSet(this.name, this.files, this.numericSize);
  }
}

/** The shards of one split, read back a bounded number at a time. */
export class ShardSet {
  readonly sessions: number;
  /** Examples of every kind. */
  readonly examples: number;
  readonly positiveExamples: number;

  constructor(
    readonly name: string,
    private readonly files: readonly ShardFile[],
    private readonly numericSize: number,
  ) {
    this.sessions = files.reduce((n, f) => n + f.sessions, 0);
    this.examples = files.reduce((n, f) => n + f.examples, 0);
    this.positiveExamples = files.reduce((n, f) => n + f.positiveExamples, 0);
  }

  get count(): number {
    return this.files.length;
  }

  async load(shard: number): Promise<LoadedShard> {
    // A copy with its own ArrayBuffer: readFile may hand out a slice of a shared pool, not 8-aligned.
    const bytes = new Uint8Array(await readFile(this.files[shard]!.path));
    return decodeShard(bytes, this.numericSize);
  }

  /** Every shard in file order, one at a time. */
  async *each(): AsyncGenerator<LoadedShard> {
    for (let i = 0; i < this.count; i++) yield await this.load(i);
  }

  /**
   * One epoch of training batches: the shards in an order drawn from `rng`, `bufferShards` at a
   * time merged into one split, batches planned within it (planBatches, same rng). The next buffer
   * is read while the current one trains. Every example comes exactly once.
   */
  async *batches(
    encoder: FeatureEncoder,
    batchSize: number,
    rng: Rng,
    bufferShards: number,
  ): AsyncGenerator<{ split: EncodedSplit; batch: number[] }> {
    const order = shuffleInPlace(
      Array.from({ length: this.count }, (_, i) => i),
      rng,
    );
    const loadBuffer = async (from: number) =>
      mergeSplits(await Promise.all(order.slice(from, from + bufferShards).map((i) => this.load(i))));
    let next = order.length > 0 ? loadBuffer(0) : null;
    for (let from = 0; next; from += bufferShards) {
      const split = await next;
      next = from + bufferShards < order.length ? loadBuffer(from + bufferShards) : null;
      const lengths = split.examples.map((e) => stepsOf(encoder, e));
      for (const batch of planBatches(lengths, batchSize, rng)) yield { split, batch };
    }
  }
}

/** Loaded shards as one split (session indices shifted). */
export function mergeSplits(shards: readonly LoadedShard[]): EncodedSplit {
  if (shards.length === 1) return shards[0]!.split;
  const steps: EncodedSteps[] = [];
  const labels: number[] = [];
  const examples: Example[] = [];
  for (const { split } of shards) {
    const offset = steps.length;
    steps.push(...split.steps);
    labels.push(...split.labels);
    for (const e of split.examples) examples.push({ ...e, session: e.session + offset });
  }
  return { steps, labels: Float32Array.from(labels), examples };
}

/** The full-sequence examples of a shard (one per session), as a split of their own. */
export function fullSequencesOf(shard: LoadedShard): EncodedSplit {
  return { ...shard.split, examples: shard.split.examples.filter((e) => e.full) };
}

/** Labels and scores of every shard's full sequences, shard by shard (file order). */
export async function predictFullSequences(
  set: ShardSet,
  model: tf.LayersModel,
  encoder: FeatureEncoder,
): Promise<{ labels: Float32Array; scores: Float32Array }> {
  const labels: Float32Array[] = [];
  const scores: Float32Array[] = [];
  for await (const shard of set.each()) {
    const split = fullSequencesOf(shard);
    labels.push(Float32Array.from(split.examples, (e) => split.labels[e.session]!));
    scores.push(await predictSplit(model, encoder, split));
  }
  return { labels: concatFloat32(labels), scores: concatFloat32(scores) };
}

export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A split's shards as training examples: `bufferShards` shards in memory at a time. */
export function shardedExamples(
  set: ShardSet,
  encoder: FeatureEncoder,
  bufferShards: number,
): TrainingExamples {
  return {
    count: set.examples,
    positives: set.positiveExamples,
    epoch: (rng, batchSize) => set.batches(encoder, batchSize, rng, bufferShards),
    predictFull: (model) => predictFullSequences(set, model, encoder),
  };
}

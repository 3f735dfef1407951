/**
 * The encoding pass of a training run: every session the plan keeps is encoded once, with the fitted
 * encoder, into its split's shards (shards.ts), so training and evaluation read a bounded number of
 * sessions at a time. Besides the steps, a record carries what evaluation needs and cannot rebuild
 * without the events: training sessions their sampled prefixes; test sessions their evaluation
 * prefixes and their events encoded in shuffled order (order ablation); validation and test
 * sessions one order-blind baseline feature row per example. The baseline is fitted on a seeded
 * sample of at most about BASELINE_SAMPLE training examples (every example below that), kept in
 * memory while the pass runs.
 */
import { shuffleEventOrder } from '../dataset/ablation.js';
import {
  type DatasetPlan,
  type DatasetSummary,
  SPLIT_NAMES,
  type SplitName,
  sessionPrefixLengths,
} from '../dataset/index.js';
import { type FeatureEncoder, type OutOfVocabularyCount, countOutOfVocabulary } from '../features/index.js';
import type { SessionTimeline } from '../schemas/types.js';
import type { Progress } from '../util/progress.js';
import { seedFor } from '../util/random.js';
import { orderBlindFeatures } from './baseline.js';
import { EXAMPLE_KIND, type ExampleKind, type ShardSet, ShardWriter } from './shards.js';

/** Sessions per shard file (about; the shard of a session is a hash). */
export const SESSIONS_PER_SHARD = 4096;
/** Shards a training epoch holds in memory at a time (its shuffle buffer). */
export const BUFFER_SHARDS = 4;
/** Training examples the baseline is fitted on, at most about. */
export const BASELINE_SAMPLE = 100_000;
/** Seed offset of the test prefixes (evaluation), apart from the training prefixes. */
export const TEST_PREFIX_SEED = 0x7e57;

export interface ShardedDataset {
  train: ShardSet;
  validation: ShardSet;
  test: ShardSet;
  /** Baseline feature rows and labels of the sampled training examples, out of `examples`. */
  baselineSample: { rows: number[][]; labels: number[]; examples: number };
  outOfVocabulary: Record<SplitName, OutOfVocabularyCount>;
}

export interface ShardEncodingOptions {
  dir: string;
  encoder: FeatureEncoder;
  plan: DatasetPlan;
  summary: DatasetSummary;
  seed: number;
  /** Prefixes per test session for the evaluation of mid-session scores. */
  evaluationPrefixes: number;
  /** Default SESSIONS_PER_SHARD (tests use small shards). */
  sessionsPerShard?: number;
  /** Default BASELINE_SAMPLE. */
  baselineSample?: number;
}

export class ShardEncoder {
  private readonly writers: Record<SplitName, ShardWriter>;
  private readonly bag;
  private readonly sampleRate: number;
  private readonly sample: ShardedDataset['baselineSample'];
  private readonly outOfVocabulary = Object.fromEntries(
    SPLIT_NAMES.map((name) => [name, { events: 0, unknown: 0 }]),
  ) as Record<SplitName, OutOfVocabularyCount>;

  constructor(private readonly options: ShardEncodingOptions) {
    const { encoder, summary, seed, dir } = options;
    this.writers = Object.fromEntries(
      SPLIT_NAMES.map((name) => [
        name,
        new ShardWriter(
          dir,
          name,
          Math.max(
            1,
            Math.ceil(summary.splits[name].sessions / (options.sessionsPerShard ?? SESSIONS_PER_SHARD)),
          ),
          encoder.numericSize,
          seed,
        ),
      ]),
    ) as Record<SplitName, ShardWriter>;
    this.bag = orderBlindFeatures(encoder.eventTypeVocabulary);
    const trainExamples = summary.splits.train.examples;
    this.sampleRate = Math.min(1, (options.baselineSample ?? BASELINE_SAMPLE) / Math.max(1, trainExamples));
    this.sample = { rows: [], labels: [], examples: trainExamples };
  }

  add(s: SessionTimeline): void {
    const placed = this.options.plan.place(s);
    if (typeof placed === 'string') return;
    const { encoder, seed } = this.options;
    const { split, observable, label } = placed;
    countOutOfVocabulary(encoder, [{ events: observable }], this.outOfVocabulary[split]);
    const steps = encoder.encodeEvents(observable, s.start_time);
    const full = { length: observable.length, kind: EXAMPLE_KIND.full as ExampleKind };
    if (split === 'train') {
      const examples = [
        ...placed.prefixLengths.map((length) => ({
          length,
          kind: EXAMPLE_KIND.trainingPrefix as ExampleKind,
        })),
        full,
      ];
      examples.forEach((e, k) => {
        // A hash, not the read order, picks the sample: the same sample however the store is laid out.
        if (
          this.sampleRate === 1 ||
          seedFor(seed, `baseline:${s.session_id}:${k}`) / 2 ** 32 < this.sampleRate
        ) {
          this.sample.rows.push(this.bag.features(observable.slice(0, e.length)));
          this.sample.labels.push(label);
        }
      });
      this.writers.train.append(s.session_id, { steps, label, examples });
      return;
    }
    const examples =
      split === 'test'
        ? [
            ...sessionPrefixLengths(
              s.session_id,
              observable.length,
              this.options.evaluationPrefixes,
              seed ^ TEST_PREFIX_SEED,
            ).map((length) => ({ length, kind: EXAMPLE_KIND.evaluationPrefix as ExampleKind })),
            full,
          ]
        : [full];
    const featureSize = this.bag.names.length;
    const features = new Float64Array(examples.length * featureSize);
    examples.forEach((e, k) =>
      features.set(this.bag.features(observable.slice(0, e.length)), k * featureSize),
    );
    this.writers[split].append(s.session_id, {
      steps,
      label,
      examples,
      features,
      ...(split === 'test'
        ? { shuffled: encoder.encodeEvents(shuffleEventOrder(observable, seed, s.session_id), s.start_time) }
        : {}),
    });
  }

  finish(): ShardedDataset {
    return {
      train: this.writers.train.close(),
      validation: this.writers.validation.close(),
      test: this.writers.test.close(),
      baselineSample: this.sample,
      outOfVocabulary: this.outOfVocabulary,
    };
  }
}

/** Feeds every session of `sessions` to `visit`, ticking `progress` once per session. */
export async function forEachSession(
  sessions: Iterable<SessionTimeline> | AsyncIterable<SessionTimeline>,
  visit: (s: SessionTimeline) => void,
  progress?: Progress,
): Promise<void> {
  for await (const s of sessions) {
    visit(s);
    progress?.tick();
  }
  progress?.done();
}

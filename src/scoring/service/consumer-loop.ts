import type { EachBatchPayload, Message, TopicMessages } from 'kafkajs';
import type { Config } from '../../config/index.js';
import { createBackoff, waitUnless } from '../../kafka/backoff.js';
import type { EventIntake } from '../../kafka/event-intake.js';
import type { Logger } from '../../log/logger.js';
import type { ScorerMetrics } from '../../metrics/scorer-metrics.js';
import { encodePrediction } from '../../schemas/index.js';
import { encodeCommitMetadata } from '../commit-metadata.js';
import type { BatchItem, BatchOutcome, ScorerCore } from '../core.js';
import type { PartitionLifecycle, PartitionRun } from './partition-lifecycle.js';
import { ProducerFencedError, isProducerFenced } from './transactional-output.js';

/** Per-batch instrumentation (the benchmark uses it; metrics cover production). */
export interface BatchInfo {
  partition: number;
  /** Messages processed live (emitting) and replayed (rebuild). */
  live: number;
  replayed: number;
  predictions: number;
  /** From the batch reaching the scorer to its output acknowledged, ms. */
  latencyMs: number;
  /** Kafka record timestamps (CreateTime) of the live messages, for end-to-end latency. */
  timestamps: number[];
  ackedAt: number;
}

export interface ConsumerLoop {
  /** The step the partitioned-consumer runtime runs per fetched batch (one partition at a time). */
  eachBatch(payload: EachBatchPayload): Promise<void>;
  updateGauges(): void;
}

/** A scored batch ready for its output. */
interface Scored {
  outputs: TopicMessages[];
  nextOffset: number;
  metadata: string;
  live: number;
  replayed: number;
  predictions: number;
  timestamps: number[];
}

/**
 * The scorer's per-batch step: decode → live sessions → one batched model step per batch position →
 * emission policy → predictions and dead letters → the partition's output (with the offset). Replayed
 * offsets (below the committed one) only rebuild state. Runs under the scorer's lock, so a model swap
 * or a reassignment happens between batches.
 */
export function createConsumerLoop(options: {
  core: ScorerCore;
  partitions: PartitionLifecycle;
  intake: EventIntake;
  seek: (partition: number, offset: number) => void;
  exclusive: <T>(critical: () => Promise<T>) => Promise<T>;
  stopping: () => boolean;
  config: Readonly<Config>;
  logger: Logger;
  metrics: ScorerMetrics;
  onBatch?: ((info: BatchInfo) => void) | undefined;
}): ConsumerLoop {
  const { core, partitions, intake, seek, exclusive, stopping, config, logger, metrics, onBatch } = options;
  // A wait inside a batch also delays heartbeats: stay well under the group session timeout.
  const backoff = createBackoff({ maxMs: Math.max(1_000, Math.floor(config.kafka.sessionTimeout / 3)) });
  let evictedSeen = 0;
  let expiredSeen = 0;

  function updateGauges(): void {
    const table = core.table;
    metrics.openSessions.set(table.openSessions);
    metrics.evictions.inc({ reason: 'capacity' }, table.evicted - evictedSeen);
    metrics.evictions.inc({ reason: 'expired' }, table.expired - expiredSeen);
    evictedSeen = table.evicted;
    expiredSeen = table.expired;
  }

  function countOutcome(outcome: BatchOutcome): void {
    metrics.events.inc({ outcome: 'scored' }, outcome.scored);
    metrics.events.inc({ outcome: 'duplicate' }, outcome.duplicates);
    metrics.events.inc({ outcome: 'late' }, outcome.late);
    metrics.predictions.inc(outcome.predictions.length);
    for (const p of outcome.predictions) metrics.eventLag.observe((outcome.scoredAt - p.event_time) / 1000);
  }

  async function score(run: PartitionRun, payload: EachBatchPayload): Promise<Scored | undefined> {
    const { batch } = payload;
    const partition = run.partition;
    const part = core.partitionState(partition)!;
    await intake.prepare(batch.messages);
    const replay: BatchItem[] = [];
    const live: BatchItem[] = [];
    const dead: Message[] = [];
    const timestamps: number[] = [];
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < part.nextOffset) continue; // already applied (an overlapping fetch)
      const decoded = intake.decode(message);
      const item: BatchItem = { offset, event: decoded.ok ? decoded.event : undefined };
      if (offset < run.committed) {
        replay.push(item); // counted and dead-lettered when it was first scored
        continue;
      }
      live.push(item);
      timestamps.push(Number(message.timestamp));
      if (!decoded.ok) dead.push(intake.reject(partition, message, decoded.rejection));
    }
    if (replay.length > 0) {
      core.process(partition, replay, false);
      metrics.rebuildEvents.inc(replay.length);
      if (run.rebuilding) run.rebuilding.replayed += replay.length;
    }
    if (run.rebuilding && part.nextOffset >= run.committed) {
      logger.info('partition state rebuilt: scoring live', {
        partition,
        replayed: run.rebuilding.replayed,
        from: run.rebuilding.from,
        committed: run.committed,
        openSessions: part.sessions.size,
        truncatedAtCommit: run.rebuilding.truncated,
        ms: Math.round(performance.now() - run.rebuilding.started),
      });
      run.rebuilding = undefined;
    }
    updateGauges();
    if (live.length === 0) return undefined;
    const outcome = core.process(partition, live, true);
    metrics.stepRounds.inc(outcome.rounds);
    countOutcome(outcome);
    const outputs: TopicMessages[] = [];
    if (outcome.predictions.length > 0) {
      outputs.push({
        topic: config.topics.predictions,
        messages: outcome.predictions.map((p) => ({ key: p.cookie_id, value: encodePrediction(p) })),
      });
    }
    if (dead.length > 0) outputs.push({ topic: config.topics.deadLetter, messages: dead });
    const point = core.table.rebuildPoint(part);
    metrics.rebuildTruncated.set({ partition: String(partition) }, point.truncated);
    updateGauges();
    return {
      outputs,
      nextOffset: part.nextOffset,
      metadata: encodeCommitMetadata({ ...point, model: core.model.version }),
      live: live.length,
      replayed: replay.length,
      predictions: outcome.predictions.length,
      timestamps,
    };
  }

  /**
   * A batch whose scoring or output failed: its transaction was aborted, so the partition's in-memory
   * state is ahead of its committed offset and is dropped; the next batch re-initializes it (fence,
   * committed offset, rebuild). Called under the lock.
   */
  async function discardFailed(
    partition: number,
    run: PartitionRun | undefined,
    error: unknown,
  ): Promise<void> {
    logger.error(
      'batch failed: its transaction was aborted; the partition will be rebuilt from its committed offset',
      { partition, fenced: isProducerFenced(error), error },
    );
    if (run === undefined || partitions.get(partition) === run) await partitions.discard(partition, run);
  }

  /**
   * After a failed batch, outside the lock: a fenced producer means another member owns the partition,
   * so kafkajs must restart the consumer and rejoin the group; any other failure is retried after the
   * retry policy's back-off.
   */
  async function retryAfter(partition: number, error: unknown): Promise<void> {
    if (isProducerFenced(error)) throw new ProducerFencedError(partition, error);
    await waitUnless(backoff.next(), stopping);
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isStale } = payload;
    const started = performance.now();
    if (stopping() || batch.messages.length === 0) return;
    const partition = batch.partition;
    const first = Number(batch.messages[0]!.offset);
    let failure: { error: unknown } | undefined;
    const done = await exclusive(async () => {
      if (stopping() || isStale()) return undefined;
      let run = partitions.get(partition);
      try {
        if (run === undefined || run.verify) {
          run = await partitions.ensure(partition, first);
          const position = core.partitionState(partition)!.nextOffset;
          if (first !== position) {
            seek(partition, position);
            return undefined; // this batch is dropped; the next one starts at the rebuild point
          }
        }
        const scored = await score(run, payload);
        if (scored === undefined) return undefined;
        await run.output.write(scored.outputs, scored.nextOffset, scored.metadata);
        run.committed = Math.max(run.committed, scored.nextOffset);
        backoff.reset();
        return scored;
      } catch (error) {
        await discardFailed(partition, run, error);
        failure = { error };
        return undefined;
      }
    });
    if (failure) await retryAfter(partition, failure.error);
    if (done === undefined) return;
    const latencyMs = performance.now() - started;
    metrics.batchSize.observe(done.live);
    metrics.processing.observe(latencyMs / 1000);
    metrics.consumerLag.set(
      { partition: String(partition) },
      Math.max(0, Number(batch.highWatermark) - done.nextOffset),
    );
    onBatch?.({
      partition,
      live: done.live,
      replayed: done.replayed,
      predictions: done.predictions,
      latencyMs,
      timestamps: done.timestamps,
      ackedAt: Date.now(),
    });
    resolveOffset(batch.messages.at(-1)!.offset);
    await heartbeat().catch(() => undefined);
  }

  return { eachBatch, updateGauges };
}

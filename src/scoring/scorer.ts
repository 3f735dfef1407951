import type { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import type { Config } from '../config/index.js';
import { untilDone } from '../kafka/connect.js';
import { deadLetterMessage } from '../kafka/dead-letter.js';
import { decodeMessage, eventDecoderFor, pipelineConsumer } from '../kafka/pipeline.js';
import type { Logger } from '../log/logger.js';
import type { ScorerMetrics } from '../metrics/scorer-metrics.js';
import { encodePrediction } from '../schemas/index.js';
import { sessionRulesFromConfig } from '../sessions/rules.js';
import { createMutex } from '../util/mutex.js';
import { decodeCommitMetadata, encodeCommitMetadata } from './commit-metadata.js';
import { type BatchItem, type BatchOutcome, ScorerCore } from './core.js';
import type { ModelSource, StepModel } from './model.js';
import { createModelWatcher } from './reload.js';

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

export interface ScorerOptions {
  kafka: Kafka;
  config: Readonly<Config>;
  logger: Logger;
  metrics: ScorerMetrics;
  source: ModelSource;
  now?: () => number;
  onBatch?: (info: BatchInfo) => void;
}

export interface ScorerProcess {
  start(): Promise<void>;
  /** Drains: finishes the in-flight batch (its transaction commits), stops consuming, disconnects. Idempotent. */
  stop(): Promise<void>;
  /** Partitions assigned and a model loaded. */
  readonly ready: boolean;
  readonly assignedPartitions: number[];
  readonly modelVersion: string | undefined;
  readonly openSessions: number;
}

/** One assigned partition's Kafka-side state (its sessions live in the core). */
interface PartitionRun {
  partition: number;
  /** Offsets below this were already scored (committed): they are replayed without emitting. */
  committed: number;
  /** The transactional producer of this partition (exactlyOnce). */
  producer: Producer | undefined;
  /** Set after a group rejoin: the committed offset must match our position before the state is trusted. */
  verify: boolean;
  /** Set while the partition replays [rebuild point, committed). */
  rebuilding: { from: number; replayed: number; started: number; truncated: number } | undefined;
}

const FENCED = /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|fenced/i;
/** Partitions whose batches kafkajs hands to processBatch concurrently (see consumer.run). */
export const PARTITIONS_IN_FLIGHT = 1;

/**
 * `intentstream score`: live scoring of the events topic (group `scorer.groupId`).
 *
 * Per fetched batch of one partition: decode → live sessions (ingest's session rules, arrival order)
 * → one batched model.step per batch position → emission policy → predictions (Avro, key cookie_id)
 * and dead letters → commit. With `scorer.exactlyOnce` the predictions, the dead letters and the
 * consumer offset go in ONE Kafka transaction of the partition's transactional producer
 * (transactionalId `<group>.<topic>.<partition>`: a new owner's InitProducerId fences the old one and
 * aborts its open transaction), so read_committed consumers see each selected event's prediction once.
 *
 * Session state is in memory. Each committed offset carries, in its metadata, a rebuild point: the
 * first offset of the oldest live run of activity (within `scorer.rebuildWindow`) and the partition's
 * max event time before it. On assignment the scorer fences, reads the committed offset, seeks back to
 * the rebuild point and replays up to the committed offset without emitting, then scores live: the
 * state equals that of an uninterrupted run, so the predictions are identical (see docs/architecture.md
 * for the argument and its limits). A failed transaction is aborted and the partition rebuilt the same way.
 */
export function createScorer(options: ScorerOptions): ScorerProcess {
  const { kafka, config, logger, metrics, source, now = Date.now, onBatch } = options;
  const topic = config.topics.events;
  const groupId = config.scorer.groupId;
  const exactlyOnce = config.scorer.exactlyOnce;
  const rules = sessionRulesFromConfig(config.sessions);
  const decoder = eventDecoderFor(config);
  const consumer: Consumer = pipelineConsumer(kafka, config, { groupId, maxWaitTimeInMs: 500 });
  // At-least-once mode shares one idempotent producer; exactly-once uses one transactional producer per partition.
  const plainProducer: Producer | undefined = exactlyOnce
    ? undefined
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const admin: Admin = kafka.admin();
  const exclusive = createMutex();
  const runs = new Map<number, PartitionRun>();
  let core: ScorerCore | undefined;
  let assigned: number[] = [];
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let starting: Promise<void> | undefined;
  /** Transactions running outside the lock (stop() waits for them). */
  const inFlight = new Set<Promise<void>>();
  let evictedSeen = 0;
  let expiredSeen = 0;

  const watcher = createModelWatcher({
    source,
    intervalMs: config.scorer.reloadInterval,
    logger,
    install: (model) => exclusive(async () => installModel(model)),
    onInstalled: (version, first) => {
      metrics.modelInfo.reset();
      metrics.modelInfo.set({ version }, 1);
      if (!first) metrics.reloads.inc();
    },
    onRefused: () => metrics.reloadsRefused.inc(),
  });

  function installModel(model: StepModel): void {
    if (!core) {
      core = new ScorerCore({
        rules,
        maxOpenSessions: config.scorer.maxOpenSessions,
        maxBufferedEvents: config.scorer.maxBufferedEvents,
        rebuildWindowMs: config.scorer.rebuildWindow,
        emit: {
          policy: config.scorer.emit,
          delta: config.scorer.emitDelta,
          threshold: config.scorer.threshold,
        },
        positiveClass: config.scorer.positiveClass,
        model,
        now,
      });
      return;
    }
    const started = performance.now();
    const { previous, recomputed, steps } = core.swapModel(model);
    previous.dispose();
    logger.info('model swapped in between batches; open sessions recomputed from their buffered events', {
      version: model.version,
      previous: previous.version,
      sessions: recomputed,
      steps,
      ms: Math.round(performance.now() - started),
    });
  }

  const transactionalId = (partition: number) => `${groupId}.${topic}.${partition}`;

  async function committedOffset(partition: number): Promise<{ offset?: number; metadata: string | null }> {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const p = entry?.partitions.find((x) => x.partition === partition);
    const offset = p === undefined || Number(p.offset) < 0 ? undefined : Number(p.offset);
    return { offset, metadata: (p as { metadata?: string | null } | undefined)?.metadata ?? null };
  }

  /** Fences the previous owner, reads the committed offset + rebuild point, resets the partition's sessions. */
  async function initPartition(
    partition: number,
    previous: PartitionRun | undefined,
    firstFetched: number,
  ): Promise<PartitionRun> {
    const scorer = core!;
    if (previous?.verify && previous.rebuilding === undefined) {
      const { offset } = await committedOffset(partition);
      const part = scorer.partitionState(partition);
      if (part && offset === part.nextOffset) {
        previous.verify = false;
        return previous;
      }
      logger.warn('partition state does not match the committed offset after a rejoin: rebuilding', {
        partition,
        committed: offset,
        position: part?.nextOffset,
      });
    }
    await discardPartition(partition, previous);
    let producer: Producer | undefined;
    if (exactlyOnce) {
      producer = kafka.producer({
        transactionalId: transactionalId(partition),
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: config.scorer.transactionTimeout,
      });
      try {
        await producer.connect();
        // InitProducerId happens on the first transaction: it bumps the epoch (fencing a zombie owner)
        // and aborts whatever transaction the previous owner left open, before we read the offsets.
        const fence = await producer.transaction();
        await fence.abort();
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
    }
    let found: Awaited<ReturnType<typeof committedOffset>>;
    try {
      found = await committedOffset(partition);
    } catch (error) {
      await producer?.disconnect().catch(() => undefined);
      throw error;
    }
    const { offset: committed, metadata } = found;
    const run: PartitionRun = {
      partition,
      committed: committed ?? 0,
      producer,
      verify: false,
      rebuilding: undefined,
    };
    if (committed === undefined) {
      scorer.resetPartition(partition, firstFetched, null);
      logger.info('partition has no committed offset: scoring from the start', { partition });
      return run;
    }
    const point = decodeCommitMetadata(metadata);
    let from = committed;
    let maxTime: number | null = null;
    let truncated = 0;
    if (point) {
      from = Math.min(point.offset, committed);
      maxTime = point.maxTime;
      truncated = point.truncated;
    } else {
      // No rebuild point (offsets committed by something else): approximate with record timestamps.
      const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, now() - config.scorer.rebuildWindow);
      const offset = Number(byTime.find((x) => x.partition === partition)?.offset ?? committed);
      from = Math.min(committed, offset >= 0 ? offset : committed);
      logger.warn(
        'committed offset carries no rebuild point: rebuilding from record timestamps (approximate)',
        {
          partition,
          committed,
          from,
        },
      );
    }
    scorer.resetPartition(partition, from, maxTime);
    if (from < committed) {
      run.rebuilding = { from, replayed: 0, started: performance.now(), truncated };
      metrics.rebuilds.inc();
      logger.info('rebuilding partition state: replaying without emitting', {
        partition,
        from,
        committed,
        messages: committed - from,
        truncatedAtCommit: truncated,
      });
    }
    return run;
  }

  async function discardPartition(partition: number, run: PartitionRun | undefined): Promise<void> {
    core?.table.dropPartition(partition);
    runs.delete(partition);
    if (run?.producer) await run.producer.disconnect().catch(() => undefined);
  }

  async function produceAndCommit(
    run: PartitionRun,
    outputs: TopicMessages[],
    nextOffset: number,
    metadata: string,
  ): Promise<void> {
    const offsets = { topic, partition: run.partition, offset: String(nextOffset), metadata };
    if (!exactlyOnce) {
      if (outputs.length > 0) await plainProducer!.sendBatch({ topicMessages: outputs, acks: -1 });
      await consumer.commitOffsets([offsets]);
      return;
    }
    const transaction = await run.producer!.transaction();
    try {
      if (outputs.length > 0) await transaction.sendBatch({ topicMessages: outputs, acks: -1 });
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        // kafkajs passes per-partition metadata through to TxnOffsetCommit, though its types omit it.
        topics: [{ topic, partitions: [offsets as { partition: number; offset: string }] }],
      });
      await transaction.commit();
      metrics.transactions.inc({ result: 'committed' });
    } catch (error) {
      metrics.transactions.inc({ result: 'aborted' });
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  function countOutcome(outcome: BatchOutcome): void {
    metrics.events.inc({ outcome: 'scored' }, outcome.scored);
    metrics.events.inc({ outcome: 'duplicate' }, outcome.duplicates);
    metrics.events.inc({ outcome: 'late' }, outcome.late);
    metrics.predictions.inc(outcome.predictions.length);
    for (const p of outcome.predictions) metrics.eventLag.observe((outcome.scoredAt - p.event_time) / 1000);
  }

  function updateGauges(): void {
    if (!core) return;
    const table = core.table;
    metrics.openSessions.set(table.openSessions);
    metrics.evictions.inc({ reason: 'capacity' }, table.evicted - evictedSeen);
    metrics.evictions.inc({ reason: 'expired' }, table.expired - expiredSeen);
    evictedSeen = table.evicted;
    expiredSeen = table.expired;
  }

  /** A scored batch waiting for its transaction (the CPU work is done, under the lock). */
  interface Scored {
    run: PartitionRun;
    outputs: TopicMessages[];
    nextOffset: number;
    metadata: string;
    live: number;
    replayed: number;
    predictions: number;
    timestamps: number[];
  }

  /**
   * Per batch: score it under the lock (CPU only: no two batches mutate the sessions at once), then
   * run its transaction outside the lock so the round trips of one partition overlap the scoring of
   * another (kafkajs never hands out two batches of the same partition at once).
   */
  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isStale } = payload;
    const started = performance.now();
    if (stopping || batch.messages.length === 0) return;
    const partition = batch.partition;
    let failedRun: PartitionRun | undefined;
    let done: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => {
      done = resolve;
    });
    const scored = await exclusive(async (): Promise<Scored | undefined> => {
      if (stopping || isStale() || !core) return undefined;
      let run = runs.get(partition);
      if (run === undefined || run.verify) {
        run = await initPartition(partition, run, Number(batch.messages[0]!.offset));
        runs.set(partition, run);
        const position = core.partitionState(partition)!.nextOffset;
        if (Number(batch.messages[0]!.offset) !== position) {
          consumer.seek({ topic, partition, offset: String(position) });
          return undefined; // this batch is dropped; the next one starts at the rebuild point
        }
      }
      try {
        const result = await scoreBatch(run, payload);
        // Registered before the lock is released, so a stop() that waits for the lock sees it.
        if (result) inFlight.add(settled);
        return result;
      } catch (error) {
        failedRun = run;
        throw error;
      }
    }).catch(async (error: unknown) => {
      await failBatch(partition, failedRun, error);
      return undefined;
    });
    if (scored === undefined) return;
    try {
      await produceAndCommit(scored.run, scored.outputs, scored.nextOffset, scored.metadata);
      scored.run.committed = Math.max(scored.run.committed, scored.nextOffset);
    } catch (error) {
      await failBatch(partition, scored.run, error);
      return;
    } finally {
      inFlight.delete(settled);
      done();
    }
    const latencyMs = performance.now() - started;
    metrics.batchSize.observe(scored.live);
    metrics.processing.observe(latencyMs / 1000);
    metrics.consumerLag.set(
      { partition: String(partition) },
      Math.max(0, Number(batch.highWatermark) - scored.nextOffset),
    );
    onBatch?.({
      partition,
      live: scored.live,
      replayed: scored.replayed,
      predictions: scored.predictions,
      latencyMs,
      timestamps: scored.timestamps,
      ackedAt: Date.now(),
    });
    resolveOffset(batch.messages.at(-1)!.offset);
    await heartbeat().catch(() => undefined);
  }

  /**
   * A batch whose scoring or transaction failed: the transaction was aborted, so the partition's
   * in-memory state is ahead of its committed offset and is dropped; the next batch re-initializes it
   * (fence, committed offset, rebuild). A fenced producer means another member owns the partition:
   * rethrowing makes kafkajs restart the consumer and rejoin the group.
   */
  async function failBatch(partition: number, run: PartitionRun | undefined, error: unknown): Promise<void> {
    const fenced = FENCED.test(String((error as { type?: string }).type ?? '')) || FENCED.test(String(error));
    logger.error(
      'batch failed: its transaction was aborted; the partition will be rebuilt from its committed offset',
      {
        partition,
        fenced,
        error,
      },
    );
    await exclusive(async () => {
      if (run === undefined || runs.get(partition) === run) await discardPartition(partition, run);
    });
    if (fenced) throw error;
    await new Promise((r) => setTimeout(r, 1_000));
  }

  async function scoreBatch(run: PartitionRun, payload: EachBatchPayload): Promise<Scored | undefined> {
    const { batch } = payload;
    const scorer = core!;
    const partition = run.partition;
    const part = scorer.partitionState(partition)!;
    await decoder.prepare(batch.messages.map((m) => m.value));
    const replay: BatchItem[] = [];
    const live: BatchItem[] = [];
    const dead: Message[] = [];
    const timestamps: number[] = [];
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < part.nextOffset) continue; // already applied (an overlapping fetch)
      const decoded = decodeMessage(decoder, message, config.sessions.maxFutureSkew);
      const item: BatchItem = { offset, event: decoded.ok ? decoded.event : undefined };
      if (offset < run.committed) {
        replay.push(item);
        continue;
      }
      live.push(item);
      timestamps.push(Number(message.timestamp));
      if (!decoded.ok) {
        metrics.events.inc({ outcome: 'rejected' });
        metrics.deadLetters.inc({ reason: decoded.rejection.reason });
        dead.push(
          deadLetterMessage(
            { topic, partition, ...message, consumerGroup: groupId },
            decoded.rejection,
            now(),
          ),
        );
      }
    }
    if (replay.length > 0) {
      scorer.process(partition, replay, false);
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
    const outcome = scorer.process(partition, live, true);
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
    const point = scorer.table.rebuildPoint(part);
    metrics.rebuildTruncated.set({ partition: String(partition) }, point.truncated);
    updateGauges();
    return {
      run,
      outputs,
      nextOffset: part.nextOffset,
      metadata: encodeCommitMetadata({ ...point, model: scorer.model.version }),
      live: live.length,
      replayed: replay.length,
      predictions: outcome.predictions.length,
      timestamps,
    };
  }

  return {
    get ready() {
      return assigned.length > 0 && core !== undefined && !stopping;
    },
    get assignedPartitions() {
      return assigned;
    },
    get modelVersion() {
      return watcher.served;
    },
    get openSessions() {
      return core?.table.openSessions ?? 0;
    },
    start() {
      starting ??= startOnce();
      return starting;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true; // batches not yet started are skipped; the in-flight one finishes under the lock
        await watcher.stop(); // also ends a start() still waiting for its first model
        await starting?.catch(() => undefined);
        await exclusive(async () => undefined);
        await Promise.all([...inFlight]);
        await consumer.stop();
        await consumer.disconnect();
        await exclusive(async () => {
          for (const [p, run] of [...runs]) await discardPartition(p, run);
        });
        await plainProducer?.disconnect();
        await admin.disconnect();
        core?.model.dispose();
        logger.info('scorer stopped: in-flight batch committed, consumer and producers disconnected');
      })();
      return stopped;
    },
  };

  async function startOnce(): Promise<void> {
    // A broker that is down at start-up delays the scorer instead of ending it (stop() ends the wait).
    const retry = { logger, shouldStop: () => stopping };
    await untilDone('connect to Kafka (admin)', () => admin.connect(), retry);
    if (plainProducer) await untilDone('connect to Kafka (producer)', () => plainProducer.connect(), retry);
    logger.info('waiting for a model', { modelDir: config.scorer.modelDir });
    if (!(await watcher.waitForFirst())) return;
    watcher.start();
    await untilDone('connect to Kafka (consumer)', () => consumer.connect(), retry);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const mine = payload.memberAssignment[topic] ?? [];
      assigned = [...mine].sort((a, b) => a - b);
      void exclusive(async () => {
        for (const [p, run] of [...runs]) {
          if (!mine.includes(p)) await discardPartition(p, run);
          else run.verify = true; // we may have missed a generation: check before trusting the state
        }
        updateGauges();
      });
      logger.info('partitions assigned', { partitions: assigned });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      logger.error('consumer crashed', { error: payload.error, restart: payload.restart });
    });
    await untilDone(`subscribe to ${topic}`, () => consumer.subscribe({ topic, fromBeginning: true }), retry);
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // One partition's batch at a time. With several in flight (8 was measured) a partition's
      // transaction would overlap the next one's scoring, but throughput stayed the same (45.9K vs
      // 45.8K events/s) and batches queued for the scoring lock: p99 processing latency at 10,000
      // events/s went from 24 to 91 ms (BENCHMARKS.md).
      partitionsConsumedConcurrently: PARTITIONS_IN_FLIGHT,
      eachBatch: processBatch,
    });
    logger.info('scorer started', {
      topic,
      groupId,
      predictions: config.topics.predictions,
      model: watcher.served,
      emit: config.scorer.emit,
      exactlyOnce,
    });
  }
}

import type { Admin, Consumer, ConsumerRunConfig, EachBatchHandler, Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import { IntentstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { type RejoinGate, committedMetadata, rejoinGatedAssigner } from '../vendor-shims/kafkajs.js';
import { createBackoff, waitUnless } from './backoff.js';
import { untilDone } from './connect.js';
import { type KafkaErrorKinds, hasKafkaError } from './protocol-errors.js';

/** The committed offset of one partition and the metadata stored with it. */
export interface CommittedOffset {
  /** Undefined when the group never committed this partition. */
  offset: number | undefined;
  metadata: string | null;
}

/**
 * The consumer crashed with an error kafkajs does not restart from, and restarting it ourselves failed
 * `maxRestarts` times in a row: the owner must exit and let a supervisor restart the process.
 */
export class ConsumerCrashedError extends IntentstreamError {
  constructor(
    readonly groupId: string,
    cause: unknown,
  ) {
    // Exits non-zero (EXIT_FAILURE): a supervisor (systemd, Kubernetes) restarts the process.
    super(
      `the consumer of group ${groupId} kept crashing with an error kafkajs does not restart from (${String((cause as Error)?.message ?? cause)}): exiting so a supervisor restarts the process; it resumes from its committed state`,
      { cause },
    );
  }
}

/** Protocol errors by which the group coordinator refuses a member's request while the group rebalances. */
const REBALANCE_REFUSALS: KafkaErrorKinds = {
  types: new Set([
    'COORDINATOR_NOT_AVAILABLE',
    'NOT_COORDINATOR',
    'ILLEGAL_GENERATION',
    'UNKNOWN_MEMBER_ID',
    'REBALANCE_IN_PROGRESS',
  ]),
  codes: new Set([15, 16, 22, 25, 27]),
};

/**
 * True when `error` is the coordinator refusing this member because the group is rebalancing (a
 * member joined or left, or this one is leaving): the member rejoins, nothing is wrong with the data.
 */
export function isRebalanceRefusal(error: unknown): boolean {
  return hasKafkaError(error, REBALANCE_REFUSALS);
}

/** What a service built on this runtime (ingest, the scorer) offers the process that runs it. */
export interface PartitionedService {
  /** Connects and subscribes, waiting out an unreachable broker; rejects with StartAbortedError after stop(). */
  start(): Promise<void>;
  /** Drains: ends a start() still waiting, finishes the in-flight batch and its commit, disconnects. Idempotent. */
  stop(): Promise<void>;
  readonly ready: boolean;
  readonly assignedPartitions: number[];
}

export interface PartitionedConsumerOptions {
  kafka: Kafka;
  config: Pick<Config, 'kafka'>;
  logger: Logger;
  groupId: string;
  topic: string;
  /** How long a fetch waits for data: short, so a SIGTERM drain does not sit behind an idle fetch. */
  maxWaitTimeInMs: number;
  partitionsConsumedConcurrently?: number;
  /**
   * The group handed us a new assignment (sorted): drop the state of partitions no longer ours. Also
   * called with none before a restart after a crash, so every partition resumes from its committed state.
   */
  onAssigned?: (partitions: number[]) => void;
  /**
   * Every join of the group (the first, and each rebalance) runs inside this: ingest takes its lock
   * there, so none of its flushes outside a batch (timer, shutdown) overlaps the group handing this
   * member's partitions to others, and the assignment is current whenever it holds the lock.
   */
  rejoinGate?: RejoinGate;
  /** Restarts after crashes kafkajs does not restart from, in a row without a batch done in between. */
  maxRestarts?: number;
  /** The consumer crashed for good (see ConsumerCrashedError). */
  onFatal?: (error: ConsumerCrashedError) => void;
}

export interface PartitionedConsumer {
  readonly consumer: Consumer;
  /** Connected by start(); shared for offset and timestamp look-ups. */
  readonly admin: Admin;
  readonly assigned: number[];
  /** Connects the admin client (waiting out a broker outage; `shouldStop` ends the wait). */
  connectAdmin(shouldStop: () => boolean): Promise<void>;
  /** Connects, subscribes (from the beginning for a new group) and runs `eachBatch`; offsets are committed by the service. */
  run(eachBatch: EachBatchHandler, shouldStop: () => boolean): Promise<void>;
  committedOffset(partition: number): Promise<CommittedOffset>;
  commit(partition: number, nextOffset: number, metadata?: string): Promise<void>;
  /** Stops fetching and disconnects the consumer and the admin client. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The runtime every partition-consuming service (ingest, the scorer) shares: one consumer in a group
 * with manual offsets (no auto-commit, no auto-resolve), no topic auto-creation, the configured group
 * session timeout with heartbeats at a tenth of it; the assignment, committed-offset look-ups, and the
 * crash rule. Each service adds only its own per-batch step.
 *
 * Crash rule: kafkajs restarts a consumer by itself after a retriable error, but after any other (the
 * coordinator no longer knowing this member, a dead letter the broker refuses, a bug) it stops for
 * good while the process runs on. We restart it ourselves, after the retry policy's back-off and with
 * every partition's state dropped; after `maxRestarts` crashes without a batch done in between, the
 * error is fatal (onFatal) and the owner exits non-zero.
 */
export function createPartitionedConsumer(options: PartitionedConsumerOptions): PartitionedConsumer {
  const {
    kafka,
    config,
    logger,
    groupId,
    topic,
    maxWaitTimeInMs,
    onAssigned,
    onFatal,
    maxRestarts = 3,
  } = options;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs,
    sessionTimeout: config.kafka.sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(config.kafka.sessionTimeout / 10)),
    ...(options.rejoinGate ? { partitionAssigners: [rejoinGatedAssigner(options.rejoinGate)] } : {}),
  });
  const admin = kafka.admin();
  let assigned: number[] = [];
  let adminConnected = false;
  let stopped: Promise<void> | undefined;
  let running: ConsumerRunConfig | undefined;
  let crashesInARow = 0;
  const backoff = createBackoff();

  async function restartAfterCrash(error: unknown): Promise<void> {
    if (crashesInARow >= maxRestarts) {
      onFatal?.(new ConsumerCrashedError(groupId, error));
      return;
    }
    crashesInARow++;
    const retryInMs = backoff.next();
    logger.warn('restarting the consumer kafkajs stopped: every partition resumes from its committed state', {
      attempt: crashesInARow,
      of: maxRestarts,
      retryInMs,
    });
    // kafkajs keeps the subscription but forgets the generation; our partition state goes with it.
    assigned = [];
    onAssigned?.([]);
    await waitUnless(retryInMs, () => stopped !== undefined);
    if (stopped !== undefined || running === undefined) return;
    try {
      await consumer.connect();
      await consumer.run(running);
    } catch (failed) {
      logger.error('consumer restart failed', { error: failed });
      await restartAfterCrash(failed);
    }
  }

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    assigned = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    onAssigned?.(assigned);
    logger.info('partitions assigned', { partitions: assigned });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error('consumer crashed', { error: payload.error, restart: payload.restart });
    // With restart: true kafkajs rejoins by itself; without, nothing would consume any more.
    if (!payload.restart && stopped === undefined) void restartAfterCrash(payload.error);
  });

  return {
    consumer,
    admin,
    get assigned() {
      return assigned;
    },
    async connectAdmin(shouldStop) {
      if (adminConnected) return;
      await untilDone('connect to Kafka (admin)', () => admin.connect(), { logger, shouldStop });
      adminConnected = true;
    },
    async run(eachBatch, shouldStop) {
      const retry = { logger, shouldStop };
      await this.connectAdmin(shouldStop);
      await untilDone('connect to Kafka (consumer)', () => consumer.connect(), retry);
      await untilDone(
        `subscribe to ${topic}`,
        () => consumer.subscribe({ topic, fromBeginning: true }),
        retry,
      );
      running = {
        autoCommit: false,
        eachBatchAutoResolve: false,
        ...(options.partitionsConsumedConcurrently
          ? { partitionsConsumedConcurrently: options.partitionsConsumedConcurrently }
          : {}),
        eachBatch: async (payload) => {
          await eachBatch(payload);
          crashesInARow = 0;
          backoff.reset();
        },
      };
      await consumer.run(running);
    },
    async committedOffset(partition) {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const found = entry?.partitions.find((p) => p.partition === partition);
      const offset = found === undefined || Number(found.offset) < 0 ? undefined : Number(found.offset);
      return { offset, metadata: committedMetadata(found) };
    },
    async commit(partition, nextOffset, metadata) {
      const entry = {
        topic,
        partition,
        offset: String(nextOffset),
        ...(metadata === undefined ? {} : { metadata }),
      };
      await consumer.commitOffsets([entry]);
    },
    stop() {
      stopped ??= (async () => {
        await consumer.stop();
        await consumer.disconnect();
        if (adminConnected) await admin.disconnect();
      })();
      return stopped;
    },
  };
}

import type { Admin, Consumer, EachBatchHandler, Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { untilDone } from './connect.js';

/** The committed offset of one partition and the metadata stored with it. */
export interface CommittedOffset {
  /** Undefined when the group never committed this partition. */
  offset: number | undefined;
  metadata: string | null;
}

/**
 * kafkajs stopped the consumer after a crash it does not restart from (a non-retriable error): the
 * process still runs but consumes nothing, so the owner must exit and let a supervisor restart it.
 */
export class ConsumerCrashedError extends Error {
  override name = 'ConsumerCrashedError';
  /** Exit non-zero: a supervisor (systemd, Kubernetes) restarts the process. */
  readonly exitCode = 1;
  constructor(
    readonly groupId: string,
    override readonly cause: unknown,
  ) {
    super(
      `the consumer of group ${groupId} crashed with an error kafkajs does not restart from (${String((cause as Error)?.message ?? cause)}): exiting so a supervisor restarts the process; it resumes from its committed state`,
    );
  }
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
  /** The group handed us a new assignment (sorted): drop the state of partitions no longer ours. */
  onAssigned?: (partitions: number[]) => void;
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
 */
export function createPartitionedConsumer(options: PartitionedConsumerOptions): PartitionedConsumer {
  const { kafka, config, logger, groupId, topic, maxWaitTimeInMs, onAssigned, onFatal } = options;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs,
    sessionTimeout: config.kafka.sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(config.kafka.sessionTimeout / 10)),
  });
  const admin = kafka.admin();
  let assigned: number[] = [];
  let adminConnected = false;
  let stopped: Promise<void> | undefined;

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    assigned = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    onAssigned?.(assigned);
    logger.info('partitions assigned', { partitions: assigned });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error('consumer crashed', { error: payload.error, restart: payload.restart });
    // With restart: true kafkajs rejoins by itself; without, nothing consumes any more.
    if (!payload.restart && stopped === undefined)
      onFatal?.(new ConsumerCrashedError(groupId, payload.error));
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
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        ...(options.partitionsConsumedConcurrently
          ? { partitionsConsumedConcurrently: options.partitionsConsumedConcurrently }
          : {}),
        eachBatch,
      });
    },
    async committedOffset(partition) {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const found = entry?.partitions.find((p) => p.partition === partition);
      const offset = found === undefined || Number(found.offset) < 0 ? undefined : Number(found.offset);
      // kafkajs returns the offset metadata though its types omit it.
      return { offset, metadata: (found as { metadata?: string | null } | undefined)?.metadata ?? null };
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

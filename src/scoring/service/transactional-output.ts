import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import type { Config } from '../../config/index.js';
import { IntentstreamError } from '../../errors.js';
import type { PartitionedConsumer } from '../../kafka/partitioned-consumer.js';
import { type KafkaErrorKinds, hasKafkaError } from '../../kafka/protocol-errors.js';
import type { ScorerMetrics } from '../../metrics/scorer-metrics.js';
import { offsetWithMetadata } from '../../vendor-shims/kafkajs.js';

/** Where one partition's scored batches go: predictions and dead letters together with its next offset. */
export interface PartitionOutput {
  /** Writes `outputs` and commits `nextOffset` (with the rebuild point in `metadata`): all or nothing with exactlyOnce. */
  write(outputs: TopicMessages[], nextOffset: number, metadata: string): Promise<void>;
  close(): Promise<void>;
}

export interface TransactionalOutput {
  /** Connects what the mode shares across partitions (the at-least-once producer). */
  connect(): Promise<void>;
  /**
   * Opens a partition's output. With exactlyOnce this fences the partition's previous owner: do it
   * before reading the committed offset, which the fence makes final.
   */
  open(partition: number): Promise<PartitionOutput>;
  close(): Promise<void>;
}

/** kafkajs protocol error types that mean another producer now holds our transactional id. */
const FENCED: KafkaErrorKinds = {
  types: new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTION_COORDINATOR_FENCED']),
  // PRODUCER_FENCED (90) is newer than kafkajs's error table.
  codes: new Set([47, 52, 90]),
};

/** True when `error` (or an error it wraps, as kafkajs's retriers do) says our producer was fenced. */
export function isProducerFenced(error: unknown): boolean {
  return hasKafkaError(error, FENCED);
}

/**
 * Another scorer owns the partition now. Marked retriable so kafkajs restarts the consumer and rejoins
 * the group instead of stopping; the fencing error is kept as `fencedBy`, not `cause`, because kafkajs
 * decides on the innermost cause, which is not retriable.
 */
export class ProducerFencedError extends IntentstreamError {
  constructor(
    readonly partition: number,
    readonly fencedBy: unknown,
  ) {
    super(
      `the transactional producer of partition ${partition} was fenced by a newer owner: rejoining the group`,
      { retriable: true },
    );
  }
}

/**
 * The scorer's output side. With `scorer.exactlyOnce` each partition has its own transactional producer
 * (transactionalId `<group>.<topic>.<partition>`: a new owner's InitProducerId fences the old one and
 * aborts its open transaction) and a batch's predictions, dead letters and consumer offset go in ONE
 * transaction, so read_committed consumers see each selected event's prediction once. Otherwise one
 * idempotent producer sends, then the consumer commits (at least once).
 */
export function createTransactionalOutput(options: {
  kafka: Kafka;
  config: Readonly<Config>;
  input: PartitionedConsumer;
  metrics: ScorerMetrics;
}): TransactionalOutput {
  const { kafka, config, input, metrics } = options;
  const topic = config.topics.events;
  const groupId = config.scorer.groupId;
  const plain: Producer | undefined = config.scorer.exactlyOnce
    ? undefined
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  function atLeastOnce(producer: Producer, partition: number): PartitionOutput {
    return {
      async write(outputs, nextOffset, metadata) {
        if (outputs.length > 0) await producer.sendBatch({ topicMessages: outputs, acks: -1 });
        await input.commit(partition, nextOffset, metadata);
      },
      close: async () => undefined,
    };
  }

  async function transactional(partition: number): Promise<PartitionOutput> {
    const producer = kafka.producer({
      transactionalId: `${groupId}.${topic}.${partition}`,
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
    return {
      async write(outputs, nextOffset, metadata) {
        const offsets = offsetWithMetadata({ partition, offset: String(nextOffset), metadata });
        const transaction = await producer.transaction();
        try {
          if (outputs.length > 0) await transaction.sendBatch({ topicMessages: outputs, acks: -1 });
          await transaction.sendOffsets({
            consumerGroupId: groupId,
            topics: [{ topic, partitions: [offsets] }],
          });
          await transaction.commit();
          metrics.transactions.inc({ result: 'committed' });
        } catch (error) {
          metrics.transactions.inc({ result: 'aborted' });
          await transaction.abort().catch(() => undefined);
          throw error;
        }
      },
      close: () => producer.disconnect().catch(() => undefined),
    };
  }

  return {
    async connect() {
      await plain?.connect();
    },
    open: async (partition) => (plain ? atLeastOnce(plain, partition) : transactional(partition)),
    async close() {
      await plain?.disconnect();
    },
  };
}

import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { createKafka } from '../../src/kafka/client.js';
import { createLogger } from '../../src/log/logger.js';
import { encodeEvent } from '../../src/schemas/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';

export { waitFor } from './wait.js';

/** The broker under test: KAFKA_BROKERS if set, else the local one scripts/kafka starts. */
export const testConfig = loadConfig();
export const testLogger = createLogger({ level: 'warn', bindings: { component: 'test' } });

export function testKafka(): Kafka {
  return createKafka({ config: testConfig, logger: testLogger, clientId: 'intentstream-test' });
}

/** A fresh random name per test, so tests never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions = 4): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Sum over partitions of the offsets `groupId` committed on `topic` (0 where none). */
export async function committedTotal(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Sum over partitions of the high watermarks of `topic`: how many messages it holds. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Produces `events` to `topic` (Confluent Avro, keyed by cookie) in sequential batches of 1,000, so a partition keeps their order. */
export async function produceEvents(
  kafka: Kafka,
  topic: string,
  events: readonly ShopEvent[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 1_000) {
      await producer.send({
        topic,
        messages: events.slice(i, i + 1_000).map((e) => ({ key: e.cookie_id, value: encodeEvent(e) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

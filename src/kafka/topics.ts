import type { Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';

/**
 * Creates the pipeline's topics if missing (idempotent). Partition count and
 * replication come from config; existing topics are left as they are.
 */
export async function ensureTopics(
  kafka: Kafka,
  config: Pick<Config, 'topics'>,
  logger: Logger,
  names: string[] = [config.topics.events, config.topics.predictions, config.topics.deadLetter],
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = names.filter((n) => !existing.has(n));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: config.topics.partitions,
          replicationFactor: config.topics.replicationFactor,
        })),
      });
      logger.info('created topics', { topics: missing, partitions: config.topics.partitions });
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}

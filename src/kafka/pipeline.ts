import type { Consumer, Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import { type EventDecoder, createEventDecoder } from '../schemas/index.js';

/** The input decoder every events-topic reader uses: size limit and schema registry from config. */
export function eventDecoderFor(config: Pick<Config, 'kafka'>): EventDecoder {
  return createEventDecoder({
    maxMessageBytes: config.kafka.maxMessageBytes,
    registryUrl: config.kafka.schemaRegistryUrl ?? undefined,
  });
}

/**
 * A consumer for a pipeline process (ingest, scorer): no topic auto-creation,
 * the configured group session timeout with heartbeats at a tenth of it, and a
 * short fetch wait so a SIGTERM drain does not sit behind an idle fetch.
 */
export function pipelineConsumer(
  kafka: Kafka,
  config: Pick<Config, 'kafka'>,
  options: { groupId: string; maxWaitTimeInMs: number },
): Consumer {
  return kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: options.maxWaitTimeInMs,
    sessionTimeout: config.kafka.sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(config.kafka.sessionTimeout / 10)),
  });
}

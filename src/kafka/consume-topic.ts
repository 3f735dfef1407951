/**
 * What `intentstream consume` does: read a topic, decode every message (events as Avro or JSON, or
 * committed predictions), hand each one as a JSON line to `write`, log rejections with their reason
 * and field (and, with a dead-letter producer, route them there), and go on — until a message count,
 * an idle timeout or `stop()`.
 */
import type { Kafka, Message } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { decodePrediction } from '../schemas/index.js';
import { deadLetterMessage } from './dead-letter.js';
import { eventDecoderFor } from './decode-message.js';

export interface ConsumeTopicOptions {
  kafka: Kafka;
  config: Readonly<Config>;
  logger: Logger;
  topic: string;
  groupId: string;
  fromBeginning: boolean;
  /** Read SessionPrediction messages instead of events. */
  predictions: boolean;
  /** Route rejected messages to the dead-letter topic. */
  deadLetter: boolean;
  /** Count only; write nothing. */
  quiet: boolean;
  maxMessages?: number;
  idleMs?: number;
  /** Receives the decoded messages of one batch as JSON lines. */
  write(lines: string): void;
  /** Registers the function that ends consumption (e.g. on SIGTERM); returns its unregistration. */
  onStop(stop: () => void): () => void;
}

export interface ConsumeCounts {
  events: number;
  rejected: number;
  byReason: Record<string, number>;
}

export async function consumeTopic(options: ConsumeTopicOptions): Promise<ConsumeCounts> {
  const { kafka, config, logger, topic } = options;
  const decoder = eventDecoderFor(config);
  const consumer = kafka.consumer({ groupId: options.groupId });
  const producer = options.deadLetter ? kafka.producer({ idempotent: true }) : undefined;
  await consumer.connect();
  await producer?.connect();
  await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });

  const counts: ConsumeCounts = { events: 0, rejected: 0, byReason: {} };
  let lastActivity = Date.now();
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const reachedMax = () =>
    options.maxMessages !== undefined && counts.events + counts.rejected >= options.maxMessages;

  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
      lastActivity = Date.now();
      await decoder.prepare(batch.messages.map((m) => m.value));
      const out: string[] = [];
      const dead: Message[] = [];
      for (const message of batch.messages) {
        if (!isRunning() || reachedMax()) break;
        if (options.predictions) {
          try {
            const prediction = decodePrediction(message.value ?? Buffer.alloc(0));
            counts.events++;
            if (!options.quiet) out.push(JSON.stringify(prediction));
          } catch (error) {
            counts.rejected++;
            logger.warn('not a prediction', { detail: (error as Error).message, offset: message.offset });
          }
          resolveOffset(message.offset);
          continue;
        }
        const result = decoder.decode(message.value);
        if (result.ok) {
          counts.events++;
          if (!options.quiet) out.push(JSON.stringify(result.event));
        } else {
          const { reason, field, message: why } = result.rejection;
          counts.rejected++;
          counts.byReason[reason] = (counts.byReason[reason] ?? 0) + 1;
          logger.warn('rejected message', {
            reason,
            field,
            detail: why,
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
          });
          if (producer) {
            const source = { topic: batch.topic, partition: batch.partition, ...message };
            dead.push(deadLetterMessage(source, result.rejection));
          }
        }
        resolveOffset(message.offset);
      }
      if (dead.length > 0) await producer!.send({ topic: config.topics.deadLetter, messages: dead });
      if (out.length > 0) options.write(`${out.join('\n')}\n`);
      await heartbeat();
      if (reachedMax()) resolveDone();
    },
  });

  const { idleMs } = options;
  const idleTimer =
    idleMs === undefined
      ? undefined
      : setInterval(
          () => {
            if (Date.now() - lastActivity > idleMs) resolveDone();
          },
          Math.min(1_000, idleMs),
        );
  const unregister = options.onStop(() => resolveDone());
  await done;
  if (idleTimer) clearInterval(idleTimer);
  unregister();
  await consumer.disconnect();
  await producer?.disconnect();
  return counts;
}

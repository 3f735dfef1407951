import type { Command } from 'commander';
import type { Message } from 'kafkajs';
import { createKafka } from '../kafka/client.js';
import { deadLetterMessage } from '../kafka/dead-letter.js';
import { eventDecoderFor } from '../kafka/decode-message.js';
import { decodePrediction } from '../schemas/index.js';
import { parseDuration } from '../util/duration.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { action, contextFrom, parseIntOption } from './context.js';

interface ConsumeOptions {
  topic?: string;
  group?: string;
  fromBeginning?: boolean;
  maxMessages?: number;
  idleTimeout?: string;
  deadLetter?: boolean;
  quiet?: boolean;
  predictions?: boolean;
}

/**
 * `intentstream consume`: reads the events topic, decodes every message (Avro
 * or JSON) and prints each event as one JSON line on stdout. A rejected message
 * is logged with its reason and field (and, with --dead-letter, sent to the
 * dead-letter topic); consumption goes on.
 */
export function registerConsume(program: Command): void {
  program
    .command('consume')
    .description(
      'decode events from the events topic and print them as JSON lines (rejections logged with reasons)',
    )
    .option('-t, --topic <topic>', 'topic to read (default: topics.events)')
    .option('-g, --group <group>', 'consumer group (default: a fresh one per run)')
    .option('--from-beginning', 'start from the earliest offset when the group has none')
    .option(
      '-n, --max-messages <n>',
      'stop after this many messages (events + rejections)',
      parseIntOption('max-messages'),
    )
    .option(
      '--idle-timeout <duration>',
      'stop after this long without messages (e.g. 10s); default: run until SIGTERM',
    )
    .option('--dead-letter', 'send rejected messages to the dead-letter topic with the reason in headers')
    .option('-q, --quiet', 'print a summary only, not the events')
    .option(
      '--predictions',
      'read SessionPrediction messages (default topic: topics.predictions; committed only)',
    )
    .action(
      action(async (opts: ConsumeOptions, cmd: Command) => {
        const { config, logger } = contextFrom(cmd, 'consume');
        const topic = opts.topic ?? (opts.predictions ? config.topics.predictions : config.topics.events);
        const kafka = createKafka({ config, logger });
        const decoder = eventDecoderFor(config);
        const consumer = kafka.consumer({
          groupId: opts.group ?? `intentstream-consume-${process.pid}-${Date.now()}`,
        });
        const producer = opts.deadLetter ? kafka.producer({ idempotent: true }) : undefined;
        await consumer.connect();
        await producer?.connect();
        await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? false });

        const counts = { events: 0, rejected: 0, byReason: {} as Record<string, number> };
        const idleMs = opts.idleTimeout ? parseDuration(opts.idleTimeout) : undefined;
        let lastActivity = Date.now();
        let resolveDone!: () => void;
        const done = new Promise<void>((r) => {
          resolveDone = r;
        });
        const reachedMax = () =>
          opts.maxMessages !== undefined && counts.events + counts.rejected >= opts.maxMessages;

        await consumer.run({
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
            lastActivity = Date.now();
            await decoder.prepare(batch.messages.map((m) => m.value));
            const out: string[] = [];
            const dead: Message[] = [];
            for (const message of batch.messages) {
              if (!isRunning() || reachedMax()) break;
              if (opts.predictions) {
                try {
                  const prediction = decodePrediction(message.value ?? Buffer.alloc(0));
                  counts.events++;
                  if (!opts.quiet) out.push(JSON.stringify(prediction));
                } catch (error) {
                  counts.rejected++;
                  logger.warn('not a prediction', {
                    detail: (error as Error).message,
                    offset: message.offset,
                  });
                }
                resolveOffset(message.offset);
                continue;
              }
              const result = decoder.decode(message.value);
              if (result.ok) {
                counts.events++;
                if (!opts.quiet) out.push(JSON.stringify(result.event));
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
            if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
            await heartbeat();
            if (reachedMax()) resolveDone();
          },
        });

        const idleTimer =
          idleMs === undefined
            ? undefined
            : setInterval(
                () => {
                  if (Date.now() - lastActivity > idleMs) resolveDone();
                },
                Math.min(1_000, idleMs),
              );
        const removeSignals = onShutdownSignal(logger, async () => resolveDone());
        await done;
        if (idleTimer) clearInterval(idleTimer);
        removeSignals();
        await consumer.disconnect();
        await producer?.disconnect();
        logger.info('consume finished', counts);
      }),
    );
}

import type { Command } from 'commander';
import { createKafka } from '../kafka/client.js';
import { consumeTopic } from '../kafka/consume-topic.js';
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
        const counts = await consumeTopic({
          kafka: createKafka({ config, logger }),
          config,
          logger,
          topic: opts.topic ?? (opts.predictions ? config.topics.predictions : config.topics.events),
          groupId: opts.group ?? `intentstream-consume-${process.pid}-${Date.now()}`,
          fromBeginning: opts.fromBeginning ?? false,
          predictions: opts.predictions ?? false,
          deadLetter: opts.deadLetter ?? false,
          quiet: opts.quiet ?? false,
          ...(opts.maxMessages !== undefined ? { maxMessages: opts.maxMessages } : {}),
          ...(opts.idleTimeout ? { idleMs: parseDuration(opts.idleTimeout) } : {}),
          write: (lines) => process.stdout.write(lines),
          onStop: (stop) => onShutdownSignal(logger, async () => stop()),
        });
        logger.info('consume finished', { ...counts });
      }),
    );
}

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { Message } from 'kafkajs';
import {
  type FileFormat,
  type GeneratorOptions,
  TAXONOMY_NAMES,
  type TaxonomyName,
  createGenerator,
  createPacer,
  fileFormatOf,
  toNdjsonLine,
  writeItemsToFile,
} from '../generator/index.js';
import { type WireEncoding, eventBytes, malformedBytes } from '../generator/wire.js';
import { createKafka } from '../kafka/client.js';
import { ensureTopics } from '../kafka/topics.js';
import { parseDuration } from '../util/duration.js';
import { createProgress } from '../util/progress.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { action, contextFrom, parseIntOption, parseNumberOption } from './context.js';

interface GenerateOptions {
  seed: number;
  cookies?: number;
  duration?: string;
  start?: string;
  events?: number;
  out?: string;
  format?: FileFormat;
  topic?: string;
  encoding: WireEncoding;
  rate?: number;
  speed?: number;
  malformedRate?: number;
  outOfOrderRate?: number;
  duplicateRate?: number;
  bots?: number;
  oracle?: string;
  taxonomy: string;
}

const BATCH = 1_000;

/**
 * `intentstream generate`: seeded synthetic traffic. To a Kafka topic (key =
 * cookie_id; Avro or JSON values; --rate / --speed pacing) or to a file
 * (NDJSON or an Avro container). Same options and seed → identical bytes.
 */
export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('produce seeded synthetic shop traffic to a Kafka topic or a file')
    .option('-s, --seed <n>', 'random seed; the same seed gives identical output', parseIntOption('seed'), 1)
    .option('--cookies <n>', 'number of distinct human cookies (default 5000)', parseIntOption('cookies'))
    .option('--duration <duration>', 'event-time span in which sessions start (default 1d)')
    .option('--start <iso>', 'event-time origin, ISO-8601 (default 2026-11-01T00:00:00Z; now with --speed)')
    .option('-n, --events <n>', 'stop after this many events', parseIntOption('events'))
    .option('-o, --out <file>', 'write to a file instead of Kafka ("-" = stdout)')
    .option('--format <format>', 'file format: ndjson | avro (default from the extension)')
    .option('-t, --topic <topic>', 'Kafka topic (default: topics.events)')
    .option('--encoding <encoding>', 'Kafka value encoding: avro (Confluent framing) | json', 'avro')
    .option('--rate <eventsPerSecond>', 'cap the emission rate (Kafka only)', parseNumberOption('rate'))
    .option(
      '--speed <factor>',
      'pace emission so event time runs this many times faster than the wall clock',
      parseNumberOption('speed'),
    )
    .option(
      '--malformed-rate <fraction>',
      'mix in malformed messages of every class (default 0)',
      parseNumberOption('malformed-rate'),
    )
    .option(
      '--out-of-order-rate <fraction>',
      'events emitted a few seconds late (default 0.02)',
      parseNumberOption('out-of-order-rate'),
    )
    .option(
      '--duplicate-rate <fraction>',
      'events emitted twice with the same event_id (default 0.01)',
      parseNumberOption('duplicate-rate'),
    )
    .option('--bots <n>', 'bot cookies with thousands of events (default 2)', parseIntOption('bots'))
    .option('--oracle <file>', "write each session's true purchase probability (NDJSON) to this file")
    .option(
      '--taxonomy <name>',
      `the shop's event names: ${TAXONOMY_NAMES.join(' | ')} (shop2: its own names, noise events, a session_id column in NDJSON files)`,
      'ours',
    )
    .action(
      action(async (opts: GenerateOptions, cmd: Command) => {
        const { config, logger } = contextFrom(cmd, 'generate');
        if (opts.encoding !== 'avro' && opts.encoding !== 'json') {
          throw new Error(`--encoding must be avro or json, got ${opts.encoding}`);
        }
        if (!(TAXONOMY_NAMES as readonly string[]).includes(opts.taxonomy)) {
          throw new Error(`--taxonomy must be one of ${TAXONOMY_NAMES.join(', ')}, got ${opts.taxonomy}`);
        }
        const startTime = opts.start ? Date.parse(opts.start) : opts.speed ? Date.now() : undefined;
        if (startTime !== undefined && Number.isNaN(startTime))
          throw new Error(`--start is not an ISO-8601 time: ${opts.start}`);
        const genOptions: GeneratorOptions = {
          seed: opts.seed,
          cookies: opts.cookies,
          durationMs: opts.duration ? parseDuration(opts.duration) : undefined,
          startTime,
          maxEvents: opts.events,
          malformedRate: opts.malformedRate,
          outOfOrderRate: opts.outOfOrderRate,
          duplicateRate: opts.duplicateRate,
          botCookies: opts.bots,
          emitOracle: Boolean(opts.oracle),
          taxonomy: opts.taxonomy as TaxonomyName,
        };
        for (const key of Object.keys(genOptions) as (keyof GeneratorOptions)[]) {
          if (genOptions[key] === undefined) delete genOptions[key];
        }
        const generator = createGenerator(genOptions);
        const oracle = opts.oracle ? createWriteStream(opts.oracle) : undefined;
        const progress = createProgress({ logger, label: 'generate', unit: 'events', total: opts.events });
        let stopRequested = false;
        const removeSignals = onShutdownSignal(logger, async () => {
          stopRequested = true;
        });

        try {
          if (opts.out) {
            await writeItemsToFile(generator, {
              path: opts.out,
              format: fileFormatOf(opts.out, opts.format),
              seed: opts.seed,
              oracle,
              tick: progress.tick,
              stopped: () => stopRequested,
            });
          } else {
            const topic = opts.topic ?? config.topics.events;
            const kafka = createKafka({ config, logger });
            await ensureTopics(kafka, config, logger, [topic]);
            const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
            await producer.connect();
            try {
              const pace = createPacer({ rate: opts.rate, speed: opts.speed, startTime });
              let batch: Message[] = [];
              const send = async () => {
                await producer.send({ topic, messages: batch });
                progress.tick(batch.length);
                batch = [];
              };
              for (const item of generator) {
                if (stopRequested) break;
                if (item.kind === 'session_end') {
                  oracle?.write(`${toNdjsonLine(item)}\n`);
                  continue;
                }
                // Paced: what is ready goes out before waiting, so events leave on time, not 1,000 at once.
                const waitMs = item.kind === 'event' ? pace(item.event.event_time) : 0;
                if (waitMs > 5) {
                  if (batch.length > 0) await send();
                  await new Promise((r) => setTimeout(r, waitMs));
                }
                const value = item.kind === 'event' ? eventBytes(item, opts.encoding) : malformedBytes(item);
                const key = item.kind === 'event' ? item.event.cookie_id : item.key;
                batch.push({ key, value });
                if (batch.length >= BATCH) await send();
              }
              if (batch.length > 0) await send();
            } finally {
              await producer.disconnect();
            }
          }
        } finally {
          removeSignals();
          if (oracle) {
            oracle.end();
            await once(oracle, 'close');
          }
        }
        progress.done({ stopped: stopRequested });
      }),
    );
}

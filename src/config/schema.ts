import { z } from 'zod';
import { parseDuration } from '../util/duration.js';

/** A duration in config: milliseconds or "30s"/"2m"/"24h"; normalized to ms. */
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
    return z.NEVER;
  }
});
const port = z.number().int().min(0).max(65_535);
const positiveInt = z.number().int().positive();
const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: 1-249 of letters, digits, ".", "_", "-"');
const broker = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:9092');

export const configSchema = z
  .object({
    log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']) }).strict(),
    kafka: z
      .object({
        brokers: z.array(broker).min(1, 'at least one broker is required'),
        clientId: z.string().min(1),
        connectionTimeout: duration,
        requestTimeout: duration,
        schemaRegistryUrl: z.string().url().nullable(),
        maxMessageBytes: positiveInt,
        sessionTimeout: duration.refine(
          (v) => v >= 1_000,
          'must be at least 1s (and within the broker group.min/max.session.timeout.ms)',
        ),
      })
      .strict(),
    topics: z
      .object({
        events: topicName,
        predictions: topicName,
        deadLetter: topicName,
        sessions: topicName,
        partitions: positiveInt,
        replicationFactor: positiveInt,
      })
      .strict(),
    sessions: z
      .object({
        inactivityGap: duration.refine((v) => v > 0, 'must be greater than zero'),
        maxDuration: duration.refine((v) => v > 0, 'must be greater than zero'),
        maxEvents: positiveInt,
        grace: duration,
        dedupeWindow: z.number().int().min(0),
      })
      .strict(),
    store: z
      .object({
        dir: z.string().min(1),
        retentionDays: z.number().positive(),
      })
      .strict(),
    ingest: z
      .object({
        groupId: z.string().min(1),
        checkpointDir: z.string().min(1),
        flushInterval: duration.refine((v) => v > 0, 'must be greater than zero'),
        publishSessions: z.boolean(),
      })
      .strict(),
    scorer: z
      .object({
        groupId: z.string().min(1),
        modelDir: z.string().min(1),
        reloadInterval: duration.refine((v) => v >= 100, 'must be at least 100ms'),
        emit: z.enum(['every', 'delta', 'threshold']),
        emitDelta: z.number().gt(0).lte(1),
        threshold: z.number().gt(0).lt(1),
        positiveClass: z.string().min(1),
        maxOpenSessions: positiveInt,
        maxBufferedEvents: positiveInt,
        rebuildWindow: duration.refine((v) => v > 0, 'must be greater than zero'),
        exactlyOnce: z.boolean(),
        transactionTimeout: duration.refine((v) => v >= 1_000, 'must be at least 1s'),
      })
      .strict(),
    http: z
      .object({
        host: z.string().min(1),
        ports: z.object({ ingest: port, scorer: port, trainer: port, generator: port }).strict(),
      })
      .strict(),
  })
  .strict();

export type Config = z.output<typeof configSchema>;

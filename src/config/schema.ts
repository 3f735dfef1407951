import { z } from 'zod';
import { ROLE_NAMES } from '../features/roles.js';
import { rolesSchema } from '../features/spec.js';
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

const fraction = z.number().gt(0).lt(1);
/** A secret's value (env values are YAML-parsed, so "123456" arrives as a number). */
const secret = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().min(1, 'must not be empty'))
  .nullable();
const filePath = z.string().min(1).nullable();

/** TLS to the brokers: PEM files; without caFile the system CAs are trusted. */
const kafkaTls = z
  .object({
    enabled: z.boolean(),
    caFile: filePath,
    certFile: filePath,
    keyFile: filePath,
    rejectUnauthorized: z.boolean(),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.certFile === null) !== (tls.keyFile === null)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [tls.certFile === null ? 'certFile' : 'keyFile'],
        message: 'certFile and keyFile go together (client certificate authentication needs both)',
      });
    }
  });

/** SASL to the brokers; the password comes from the environment or a file, never the YAML in the repo. */
const kafkaSasl = z
  .object({
    mechanism: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']),
    username: z.string().min(1).nullable(),
    password: secret,
    passwordFile: filePath,
  })
  .strict()
  .superRefine((sasl, ctx) => {
    if (sasl.mechanism === 'none') return;
    if (sasl.username === null) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['username'],
        message: `required when mechanism is ${sasl.mechanism}`,
      });
    }
    if ((sasl.password === null) === (sasl.passwordFile === null)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [sasl.password === null ? 'password' : 'passwordFile'],
        message: `set exactly one of password (e.g. env INTENTSTREAM_KAFKA__SASL__PASSWORD) and passwordFile when mechanism is ${sasl.mechanism}`,
      });
    }
  });
const role = z.enum(ROLE_NAMES, {
  errorMap: () => ({
    message: `a role: one of ${ROLE_NAMES.join(', ')} (trainer.roles maps each to the shop's event types)`,
  }),
});

/**
 * Outcome labels, computed at training time from the stored events. `kind` is the discriminator so
 * multi-class outcome rules can be added as another member without touching the binary one. Target
 * and truncation name roles, so they follow the shop's own event names through trainer.roles.
 */
const labelsSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('binary'),
      target: role,
      truncateAt: z.array(role),
    })
    .strict(),
]);

const trainerSchema = z
  .object({
    modelsDir: z.string().min(1),
    checkpointDir: z.string().min(1),
    schedule: z.string().min(1),
    promotionMargin: z.number().min(0).max(1),
    windowDays: z.number().positive(),
    firstModel: z
      .object({
        minSessions: z.number().int().min(1),
        checkInterval: duration.refine((v) => v >= 100, 'must be at least 100ms'),
      })
      .strict(),
    seed: z.number().int().min(0).max(4_294_967_295),
    backend: z.enum(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']),
    roles: rolesSchema,
    labels: labelsSchema,
    dataset: z
      .object({
        prefixesPerSession: z.number().int().min(0),
        prefixWeight: z.number().gt(0).max(1),
        split: z
          .object({ train: fraction, validation: fraction })
          .strict()
          .refine((s) => s.train + s.validation < 1, 'train + validation must leave a test share (< 1)'),
        cookieSplit: z.enum(['mixed', 'exclusive']),
      })
      .strict(),
    features: z
      .object({
        maxSteps: positiveInt,
        itemBuckets: positiveInt,
        categoryBuckets: positiveInt,
        maxVocabulary: positiveInt,
        minCount: positiveInt,
        eventTypes: z.object({ maxSize: positiveInt, minCount: positiveInt }).strict(),
        sessionState: z.boolean(),
      })
      .strict(),
    model: z
      .object({
        lstmUnits: z.array(positiveInt).min(1, 'at least one LSTM layer'),
        lstmImplementation: z.enum(['fused', 'layers']),
        dropout: z.number().min(0).lt(1),
        embeddingDims: z
          .object({
            eventType: positiveInt,
            item: positiveInt,
            category: positiveInt,
            device: positiveInt,
            referrer: positiveInt,
          })
          .strict(),
      })
      .strict(),
    training: z
      .object({
        epochs: positiveInt,
        batchSize: positiveInt,
        learningRate: z.number().positive(),
        learningRateDecay: z.number().gt(0).max(1),
        patience: positiveInt,
        classWeight: z.union([z.enum(['balanced', 'none']), z.number().positive()]),
        embeddingL2: z.number().min(0),
        correctPriorShift: z.boolean(),
        fastWasmMatMul: z.boolean(),
      })
      .strict(),
    evaluation: z
      .object({
        threshold: z.number().gt(0).lt(1).nullable(),
        calibrationBins: positiveInt,
        baselineL2: z.number().min(0),
        baselineIterations: positiveInt,
        bootstrapResamples: positiveInt,
      })
      .strict(),
  })
  .strict();

/**
 * Where the timeline store, ingest checkpoints and the model registry live: the local directories
 * (store.dir, ingest.checkpointDir, trainer.modelsDir) or one S3-compatible bucket shared by every
 * machine. Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the
 * SDK's profiles and roles) or from the two files, never from this YAML.
 */
const storageSchema = z
  .object({
    backend: z.enum(['local', 's3']),
    s3: z
      .object({
        endpoint: z.string().url().nullable(),
        region: z.string().min(1),
        bucket: z.string().min(1).nullable(),
        prefix: z
          .string()
          .regex(
            /^([^/].*\/)?$/,
            "empty, or a key prefix ending in '/' that does not start with '/', e.g. prod/",
          )
          .nullable()
          .transform((p) => p ?? ''),
        forcePathStyle: z.boolean(),
        accessKeyIdFile: filePath,
        secretAccessKeyFile: filePath,
        cacheDir: z.string().min(1),
      })
      .strict(),
  })
  .strict()
  .superRefine((storage, ctx) => {
    if (storage.backend === 's3' && storage.s3.bucket === null) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['s3', 'bucket'],
        message: 'required when backend is s3 (e.g. env INTENTSTREAM_STORAGE__S3__BUCKET)',
      });
    }
    if ((storage.s3.accessKeyIdFile === null) !== (storage.s3.secretAccessKeyFile === null)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['s3', storage.s3.accessKeyIdFile === null ? 'accessKeyIdFile' : 'secretAccessKeyFile'],
        message:
          'accessKeyIdFile and secretAccessKeyFile go together (or set neither and use the environment)',
      });
    }
  });

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
        tls: kafkaTls,
        sasl: kafkaSasl,
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
        maxOpenPerPartition: positiveInt.nullable(),
        maxFutureSkew: duration
          .refine((v) => v > 0, 'must be greater than zero (null turns the check off)')
          .nullable(),
      })
      .strict(),
    store: z
      .object({
        dir: z.string().min(1),
        retentionDays: z.number().positive(),
      })
      .strict(),
    storage: storageSchema,
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
        token: secret,
        tokenFile: filePath,
        ports: z.object({ ingest: port, scorer: port, trainer: port }).strict(),
      })
      .strict(),
    trainer: trainerSchema,
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type TrainerConfig = Config['trainer'];
export type LabelConfig = TrainerConfig['labels'];

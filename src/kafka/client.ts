import type { ConnectionOptions } from 'node:tls';
import {
  Kafka,
  type KafkaConfig,
  type LogEntry,
  type RetryOptions,
  type SASLOptions,
  logLevel,
} from 'kafkajs';
import { type Config, readConfigFile } from '../config/index.js';
import type { Logger } from '../log/logger.js';

// kafkajs warns about its v2 partitioner change on every producer; we key by
// cookie_id and never relied on the legacy partitioner.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

const LEVEL_MAP: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs log entries become our JSON lines (component=kafkajs). */
function kafkaLogCreator(logger: Logger) {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _ts, logger: _name, ...fields } = log;
      // Transient coordinator-loading responses are retried by kafkajs; they are noise at error level.
      const lvl = LEVEL_MAP[level] ?? 'info';
      kafkaLogger[(lvl === 'error' || lvl === 'warn') && isRetriableNoise(fields, message) ? 'debug' : lvl](
        message,
        fields,
      );
    };
}

/**
 * kafkajs log entries about responses it retries by itself: logged at debug, not error. If the
 * retries run out, the caller gets the error and logs it with its own context.
 */
export function isRetriableNoise(fields: Record<string, unknown>, message = ''): boolean {
  const error = String(fields['error'] ?? '');
  // We bound retries on purpose so a dead broker fails a process instead of hanging it.
  if (/Limiting retries for the idempotent producer/.test(message)) return true;
  // CONCURRENT_TRANSACTIONS while adding partitions: the broker is still writing the previous
  // transaction's commit markers (the scorer's back-to-back transactions); the produce path retries
  // it. Other transaction requests (AddOffsetsToTxn, EndTxn) are not retried: those stay errors.
  if (CONCURRENT_TXN.test(error) && message.startsWith('Response AddPartitionsToTxn')) return true;
  if (message.startsWith('Failed to send messages:') && CONCURRENT_TXN.test(message)) return true;
  return /coordinator is (loading|not available)|not the correct coordinator|leadership election/i.test(
    error,
  );
}

const CONCURRENT_TXN = /another concurrent operation on the same transaction/i;

export interface CreateKafkaOptions {
  config: Pick<Config, 'kafka'>;
  logger: Logger;
  clientId?: string;
  /** kafkajs log level; defaults to WARN so info chatter stays out of process logs. */
  level?: logLevel;
  /** Overrides the client's retry policy (default: 8 retries from 100 ms, about 30 s in all). */
  retry?: RetryOptions;
}

/** The one place a kafkajs client is built from config. */
export function createKafka({
  config,
  logger,
  clientId,
  level = logLevel.WARN,
  retry = { initialRetryTime: 100, retries: 8 },
}: CreateKafkaOptions): Kafka {
  const options: KafkaConfig = {
    clientId: clientId ?? config.kafka.clientId,
    brokers: [...config.kafka.brokers],
    connectionTimeout: config.kafka.connectionTimeout,
    requestTimeout: config.kafka.requestTimeout,
    logLevel: level,
    logCreator: kafkaLogCreator(logger),
    retry,
    ...kafkaSecurity(config.kafka),
  };
  return new Kafka(options);
}

/**
 * The TLS and SASL client options from config (kafka.tls, kafka.sasl). Files are read here, at
 * start-up, so a wrong path fails the process before it connects, naming the field. The password
 * never leaves this object: it is not logged and `config show` redacts it.
 */
export function kafkaSecurity(
  kafka: Pick<Config['kafka'], 'tls' | 'sasl'>,
): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  const { tls, sasl } = kafka;
  if (tls.enabled) {
    const ssl: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
    if (tls.caFile !== null) ssl.ca = [readConfigFile('kafka.tls.caFile', tls.caFile)];
    if (tls.certFile !== null) ssl.cert = readConfigFile('kafka.tls.certFile', tls.certFile);
    if (tls.keyFile !== null) ssl.key = readConfigFile('kafka.tls.keyFile', tls.keyFile);
    out.ssl = ssl;
  }
  if (sasl.mechanism !== 'none') {
    const password =
      sasl.password ?? readConfigFile('kafka.sasl.passwordFile', sasl.passwordFile!, { secret: true });
    out.sasl = { mechanism: sasl.mechanism, username: sasl.username!, password } as SASLOptions;
  }
  return out;
}

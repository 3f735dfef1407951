import { Kafka, type KafkaConfig, type LogEntry, type RetryOptions, logLevel } from 'kafkajs';
import type { Config } from '../config/index.js';
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

function isRetriableNoise(fields: Record<string, unknown>, message = ''): boolean {
  const error = String(fields.error ?? '');
  // We bound retries on purpose so a dead broker fails a process instead of hanging it.
  if (/Limiting retries for the idempotent producer/.test(message)) return true;
  return /coordinator is (loading|not available)|not the correct coordinator|leadership election/i.test(
    error,
  );
}

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
  };
  return new Kafka(options);
}

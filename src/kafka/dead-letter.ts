import type { IHeaders, Message } from 'kafkajs';

/** Header names on dead-letter messages (exported so tests and tools don't retype them). */
export const DLQ_HEADERS = {
  reason: 'x-dlq-reason',
  field: 'x-dlq-field',
  message: 'x-dlq-message',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  failedAt: 'x-dlq-failed-at',
  /** The consumer group that rejected it (set by the scorer; ingest and the scorer both read the events topic). */
  consumerGroup: 'x-dlq-consumer-group',
} as const;

export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  /** The consumer group routing it (optional: written as x-dlq-consumer-group). */
  consumerGroup?: string;
}

export interface DeadLetterReason {
  reason: string;
  field?: string;
  message: string;
}

/**
 * Builds the dead-letter message for a rejected input: the original key and
 * bytes untouched, the reason and the source coordinates in headers (the
 * original headers are kept too), so the message can be inspected and replayed.
 */
export function deadLetterMessage(
  source: DeadLetterSource,
  why: DeadLetterReason,
  now = Date.now(),
): Message {
  const headers: IHeaders = { ...(source.headers ?? {}) };
  headers[DLQ_HEADERS.reason] = why.reason;
  if (why.field) headers[DLQ_HEADERS.field] = why.field;
  headers[DLQ_HEADERS.message] = why.message;
  headers[DLQ_HEADERS.sourceTopic] = source.topic;
  headers[DLQ_HEADERS.sourcePartition] = String(source.partition);
  headers[DLQ_HEADERS.sourceOffset] = source.offset;
  headers[DLQ_HEADERS.failedAt] = new Date(now).toISOString();
  if (source.consumerGroup) headers[DLQ_HEADERS.consumerGroup] = source.consumerGroup;
  return { key: source.key, value: source.value, headers };
}

/** Reads the reason headers back from a dead-letter message (tests, replay tools). */
export function readDeadLetterHeaders(
  headers: IHeaders | undefined,
): Record<keyof typeof DLQ_HEADERS, string | undefined> {
  const get = (name: string) => {
    const v = headers?.[name];
    return v === undefined ? undefined : Array.isArray(v) ? String(v[0]) : String(v);
  };
  return Object.fromEntries(Object.entries(DLQ_HEADERS).map(([k, name]) => [k, get(name)])) as Record<
    keyof typeof DLQ_HEADERS,
    string | undefined
  >;
}

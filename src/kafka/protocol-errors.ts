/**
 * Recognising a Kafka protocol error however kafkajs wrapped it: its retriers rethrow the error they
 * gave up on as the `cause` of a KafkaJSNonRetriableError, so the broker's answer can sit a few
 * levels down.
 */
export interface KafkaErrorKinds {
  /** kafkajs's error type names (from its copy of Kafka's error table). */
  types: ReadonlySet<string>;
  /** The same errors by Kafka error code (for codes newer than kafkajs's table). */
  codes: ReadonlySet<number>;
}

/** True when `error` or an error it wraps is one of `kinds`. */
export function hasKafkaError(error: unknown, kinds: KafkaErrorKinds): boolean {
  for (let e = error as { type?: unknown; code?: unknown; cause?: unknown } | undefined; e; ) {
    if (typeof e.type === 'string' && kinds.types.has(e.type)) return true;
    if (typeof e.code === 'number' && kinds.codes.has(e.code)) return true;
    e = e.cause === e ? undefined : (e.cause as typeof e);
  }
  return false;
}

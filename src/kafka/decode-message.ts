import type { Config } from '../config/index.js';
import { type DecodeResult, type EventDecoder, createEventDecoder, reject } from '../schemas/index.js';
import { formatDuration } from '../util/duration.js';

/** The input decoder every events-topic reader uses: size limit and schema registry from config. */
export function eventDecoderFor(config: Pick<Config, 'kafka'>): EventDecoder {
  return createEventDecoder({
    maxMessageBytes: config.kafka.maxMessageBytes,
    registryUrl: config.kafka.schemaRegistryUrl ?? undefined,
  });
}

/**
 * Decodes one events-topic message and rejects an event_time further than `maxFutureSkewMs` ahead of
 * the message's Kafka timestamp (invalid_field on event_time). The check uses the message's own
 * timestamp, not this process's clock, so a replay after a restart decides exactly as the first pass.
 */
export function decodeMessage(
  decoder: EventDecoder,
  message: { value: Buffer | null; timestamp: string },
  maxFutureSkewMs: number | null,
): DecodeResult {
  const decoded = decoder.decode(message.value);
  if (!decoded.ok || maxFutureSkewMs === null) return decoded;
  const stamped = Number(message.timestamp);
  const ahead = decoded.event.event_time - stamped;
  if (!Number.isFinite(stamped) || stamped <= 0 || ahead <= maxFutureSkewMs) return decoded;
  return {
    ok: false,
    rejection: reject(
      'invalid_field',
      `event_time ${new Date(decoded.event.event_time).toISOString()} is ${formatDuration(ahead)} ahead of the message's Kafka timestamp ${new Date(stamped).toISOString()} (limit sessions.maxFutureSkew ${formatDuration(maxFutureSkewMs)}): a producer clock or unit error (seconds vs milliseconds?) — accepting it would move the partition watermark into the future and make later events late`,
      'event_time',
    ),
  };
}

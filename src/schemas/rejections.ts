/**
 * Why an inbound event was rejected. The reasons are a closed set: they are used as metric label values
 * (`REJECT_REASONS`) and in dead-letter headers, so adding one is a (small) contract change.
 */
export const REJECT_REASONS = [
  /** null or zero-length Kafka value (e.g. a tombstone). */
  'empty_message',
  /** larger than the decoder's maxMessageBytes. */
  'oversize_message',
  /** the Confluent header or the Avro body ends early. */
  'truncated_payload',
  /** neither 0x00 (Confluent Avro) nor '{' (JSON) as the first byte. */
  'wrong_magic_byte',
  /** Confluent schema id neither known locally nor (successfully) fetched from the registry. */
  'unknown_schema_id',
  /** schema id is known but its writer schema is not a ShopEvent (e.g. a SessionPrediction). */
  'schema_not_an_event',
  /** Avro body that avsc cannot decode (bad union index, precision loss, ...). */
  'invalid_avro',
  /** JSON.parse failed. */
  'invalid_json',
  /** JSON that is not an object (an array, ...). */
  'not_an_object',
  /** a required field is absent or null. */
  'missing_field',
  /** a field has the wrong type or an out-of-range value. */
  'invalid_field',
  /** bytes left over after a complete Avro record. */
  'trailing_bytes',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  reason: RejectReason;
  /** the offending field (dotted path for nested values, e.g. `extras.utm`), where there is one. */
  field?: string;
  /** human-readable, precise and actionable. */
  message: string;
}

export function reject(reason: RejectReason, message: string, field?: string): Rejection {
  return field === undefined ? { reason, message } : { reason, field, message };
}

const MAX_SHOWN_CHARS = 64;

/** Describes a value for an error message: `"abc"`, `42`, `null`, `an array`, `an object`, `a boolean (true)`. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string': {
      const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}…` : value;
      return JSON.stringify(shown);
    }
    case 'number':
      return String(value);
    case 'boolean':
      return `a boolean (${value})`;
    case 'undefined':
      return 'nothing';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? 'an array' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** `0x7b ('{')` style byte description. */
export function describeByte(byte: number): string {
  const hex = `0x${byte.toString(16).padStart(2, '0')}`;
  return byte >= 0x20 && byte < 0x7f ? `${hex} ('${String.fromCharCode(byte)}')` : hex;
}

/** An error's message for a rejection or error text, with its cause's code and message where it has one. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return `${err.message} (${typeof code === 'string' ? `${code}: ` : ''}${cause.message})`;
  }
  return err.message;
}

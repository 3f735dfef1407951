/**
 * The semantic checks of a ShopEvent, shared by the Avro and the JSON paths so that a given defect is
 * rejected with the same reason, field and message whatever the encoding.
 */
import { type Rejection, describeValue, reject } from './rejections.js';
import type { ShopEvent } from './types.js';

/** event_time bounds, epoch ms: [2000-01-01, 2100-01-01). */
export const MIN_EVENT_TIME = Date.UTC(2000, 0, 1);
export const MAX_EVENT_TIME = Date.UTC(2100, 0, 1);
const MAX_AVRO_INT = 2_147_483_647;

/** The rejection of a required string field that is empty or not a string. */
export function nonEmpty(field: string, value: unknown): Rejection {
  return reject('invalid_field', `${field} must be a non-empty string, got ${describeValue(value)}`, field);
}

function describeTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms}` : `${ms} (${d.toISOString()})`;
}

function eventTimeOutOfRange(ms: number): Rejection {
  let hint = '';
  if (ms >= MIN_EVENT_TIME / 1000 && ms < MAX_EVENT_TIME / 1000) {
    hint = '; it looks like epoch seconds: send milliseconds (seconds * 1000)';
  } else if (ms >= MIN_EVENT_TIME * 1000 && ms < MAX_EVENT_TIME * 1000) {
    hint = '; it looks like epoch microseconds: send milliseconds (microseconds / 1000)';
  }
  return reject(
    'invalid_field',
    `event_time ${describeTime(ms)} is outside the accepted range 2000-01-01T00:00:00Z..2100-01-01T00:00:00Z${hint}`,
    'event_time',
  );
}

/**
 * Size limits of one event's fields (characters). An event is held in memory by every open session
 * and stored in every timeline, so a hostile or broken tracker must not be able to park megabytes
 * per event inside the 1 MiB message limit.
 */
export const FIELD_LIMITS = {
  cookie_id: 256,
  event_id: 256,
  event_type: 64,
  item_id: 256,
  category_id: 256,
  page_type: 64,
  device: 64,
  referrer: 2048,
  extrasKeys: 32,
  extrasKey: 64,
  extrasValue: 1024,
} as const;

const LIMITED_STRINGS = [
  'cookie_id',
  'event_id',
  'event_type',
  'item_id',
  'category_id',
  'page_type',
  'device',
  'referrer',
] as const;

function tooLong(field: string, length: number, limit: number): Rejection {
  return reject(
    'invalid_field',
    `${field} is ${length} characters long, more than the limit of ${limit}`,
    field,
  );
}

function checkSizes(e: ShopEvent): Rejection | undefined {
  for (const field of LIMITED_STRINGS) {
    const v = e[field];
    if (v !== null && v.length > FIELD_LIMITS[field]) return tooLong(field, v.length, FIELD_LIMITS[field]);
  }
  const keys = Object.keys(e.extras);
  if (keys.length > FIELD_LIMITS.extrasKeys) {
    return reject(
      'invalid_field',
      `extras has ${keys.length} keys, more than the limit of ${FIELD_LIMITS.extrasKeys}`,
      'extras',
    );
  }
  for (const k of keys) {
    if (k.length > FIELD_LIMITS.extrasKey) {
      return reject(
        'invalid_field',
        `extras key ${describeValue(k)} is ${k.length} characters long, more than the limit of ${FIELD_LIMITS.extrasKey}`,
        'extras',
      );
    }
    const v = e.extras[k]!;
    if (v.length > FIELD_LIMITS.extrasValue)
      return tooLong(`extras.${k}`, v.length, FIELD_LIMITS.extrasValue);
  }
  return undefined;
}

/**
 * Semantic checks shared by the Avro and JSON paths; `e` is already well-typed.
 * Returns undefined when the event is acceptable.
 */
export function checkEvent(e: ShopEvent): Rejection | undefined {
  if (e.cookie_id.length === 0) return nonEmpty('cookie_id', e.cookie_id);
  if (e.event_id.length === 0) return nonEmpty('event_id', e.event_id);
  if (e.event_type.length === 0) return nonEmpty('event_type', e.event_type);
  const sizes = checkSizes(e);
  if (sizes !== undefined) return sizes;
  const t = e.event_time;
  if (!(t >= MIN_EVENT_TIME && t < MAX_EVENT_TIME) || !Number.isInteger(t)) {
    return Number.isInteger(t)
      ? eventTimeOutOfRange(t)
      : reject(
          'invalid_field',
          `event_time must be an integer number of epoch milliseconds, got ${describeValue(t)}`,
          'event_time',
        );
  }
  const price = e.price;
  if (price !== null && !(price >= 0 && price < Number.POSITIVE_INFINITY)) {
    return reject(
      'invalid_field',
      `price must be a non-negative finite number or null, got ${describeValue(price)}`,
      'price',
    );
  }
  const q = e.quantity;
  if (q !== null && !(Number.isInteger(q) && q >= 0 && q <= MAX_AVRO_INT)) {
    return reject(
      'invalid_field',
      `quantity must be a non-negative integer (at most ${MAX_AVRO_INT}) or null, got ${describeValue(q)}`,
      'quantity',
    );
  }
  return undefined;
}

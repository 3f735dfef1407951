import { contentEventId } from './event-id.js';
import { checkEvent, nonEmpty } from './event-validation.js';
/**
 * The JSON rules of the contract: how a parsed JSON (or CSV/NDJSON) record becomes a ShopEvent. Required
 * strings, event_time as epoch ms / numeric string / ISO-8601, numeric item/category ids to strings,
 * extras values to strings, unknown keys ignored; then the same semantic checks as Avro events.
 */
import { type Rejection, describeValue, reject } from './rejections.js';
import type { ShopEvent } from './types.js';

export type NormalizeResult = { ok: true; event: ShopEvent } | { ok: false; rejection: Rejection };

const NUMERIC = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*$/;

/**
 * Whether a string is a plain decimal number (sign, digits, optional fraction; no exponent, no hex), the
 * one form in which a number-valued field may arrive as a string (CSV cells, JSON from loose trackers).
 */
export function isNumericString(s: string): boolean {
  return NUMERIC.test(s);
}

function isRejection(v: unknown): v is Rejection {
  return typeof v === 'object' && v !== null;
}

function requiredString(o: Record<string, unknown>, field: string): string | Rejection {
  const v = o[field];
  if (typeof v === 'string') return v; // emptiness is checked by checkEvent
  if (v === undefined || v === null) {
    return reject(
      'missing_field',
      `${field} is required (a non-empty string) but is ${describeValue(v)}`,
      field,
    );
  }
  return nonEmpty(field, v);
}

function optionalString(
  o: Record<string, unknown>,
  field: string,
  numeric: boolean,
): string | null | Rejection {
  const v = o[field];
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return null;
  if (numeric && typeof v === 'number' && Number.isFinite(v)) return String(v);
  return reject(
    'invalid_field',
    `${field} must be a string${numeric ? ' (or a number, converted to a string)' : ''} or null, got ${describeValue(v)}`,
    field,
  );
}

function optionalNumber(o: Record<string, unknown>, field: string, what: string): number | null | Rejection {
  const v = o[field];
  if (typeof v === 'number') return v; // range is checked by checkEvent
  if (v === undefined || v === null) return null;
  return reject('invalid_field', `${field} must be ${what} or null, got ${describeValue(v)}`, field);
}

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * ISO-8601 date or date-time to epoch ms; undefined when malformed or out of calendar range.
 * A date-time without a zone designator is taken as UTC (never the server's local zone).
 */
export function parseIso8601(s: string): number | undefined {
  const m = ISO_8601.exec(s.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  if (d.getUTCDate() !== day) return undefined; // e.g. 2024-02-30
  d.setUTCHours(hour, minute, second, ms);
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = digits.length > 3 ? Number(digits.slice(3, 5)) : 0;
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return d.getTime() - offsetMinutes * 60_000;
}

function eventTime(o: Record<string, unknown>): number | Rejection {
  const v = o['event_time'];
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return Math.floor(v); // fractional ms (performance.now() based trackers)
  } else if (typeof v === 'string') {
    const ms = isNumericString(v) ? Math.floor(Number(v)) : parseIso8601(v);
    if (ms !== undefined) return ms;
  } else if (v === undefined || v === null) {
    return reject(
      'missing_field',
      `event_time is required (epoch milliseconds or an ISO-8601 string) but is ${describeValue(v)}`,
      'event_time',
    );
  }
  return reject(
    'invalid_field',
    `event_time must be a number of epoch milliseconds or an ISO-8601 string, got ${describeValue(v)}`,
    'event_time',
  );
}

/** Copies `v` (the JSON `extras`) into `out` with string values; returns a rejection when it cannot. */
function copyExtras(v: unknown, out: Record<string, string>): Rejection | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) {
    return reject(
      'invalid_field',
      `extras must be an object with string values, got ${describeValue(v)}`,
      'extras',
    );
  }
  const src = v as Record<string, unknown>;
  for (const key of Object.keys(src)) {
    const x = src[key];
    if (typeof x === 'string') out[key] = x;
    else if (typeof x === 'number' || typeof x === 'boolean') out[key] = String(x);
    else if (x !== null && x !== undefined) {
      return reject(
        'invalid_field',
        `extras values must be strings (numbers and booleans are converted), got ${describeValue(x)} for key ${JSON.stringify(key)}`,
        `extras.${key}`,
      );
    }
    // null values are dropped
  }
  return undefined;
}

/**
 * Validates and normalizes a parsed JSON (or CSV/NDJSON) record into a ShopEvent: required strings, event_time
 * as epoch ms / numeric string / ISO-8601, numeric item/category ids to strings, extras values to strings,
 * unknown keys ignored; then the same semantic checks as Avro events.
 */
export function normalizeEvent(obj: unknown): NormalizeResult {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return {
      ok: false,
      rejection: reject(
        'not_an_object',
        `expected a JSON object (one event per message), got ${describeValue(obj)}`,
      ),
    };
  }
  const o = obj as Record<string, unknown>;
  const cookie_id = requiredString(o, 'cookie_id');
  if (isRejection(cookie_id)) return { ok: false, rejection: cookie_id };
  // Many trackers send no event id: such an event gets one derived from its content (event-id.ts
  // says what that dedupe cannot catch). An id that is present must be a non-empty string.
  const idGiven = o['event_id'] !== undefined && o['event_id'] !== null;
  const event_id = idGiven ? requiredString(o, 'event_id') : '';
  if (isRejection(event_id)) return { ok: false, rejection: event_id };
  const event_type = requiredString(o, 'event_type');
  if (isRejection(event_type)) return { ok: false, rejection: event_type };
  const event_time = eventTime(o);
  if (isRejection(event_time)) return { ok: false, rejection: event_time };
  const item_id = optionalString(o, 'item_id', true);
  if (isRejection(item_id)) return { ok: false, rejection: item_id };
  const category_id = optionalString(o, 'category_id', true);
  if (isRejection(category_id)) return { ok: false, rejection: category_id };
  const price = optionalNumber(o, 'price', 'a non-negative finite number');
  if (isRejection(price)) return { ok: false, rejection: price };
  const quantity = optionalNumber(o, 'quantity', 'a non-negative integer');
  if (isRejection(quantity)) return { ok: false, rejection: quantity };
  const page_type = optionalString(o, 'page_type', false);
  if (isRejection(page_type)) return { ok: false, rejection: page_type };
  const device = optionalString(o, 'device', false);
  if (isRejection(device)) return { ok: false, rejection: device };
  const referrer = optionalString(o, 'referrer', false);
  if (isRejection(referrer)) return { ok: false, rejection: referrer };
  const ex: Record<string, string> = {};
  const badExtras = copyExtras(o['extras'], ex);
  if (badExtras) return { ok: false, rejection: badExtras };
  const event: ShopEvent = {
    cookie_id,
    event_id,
    event_type,
    event_time,
    item_id,
    category_id,
    price,
    quantity,
    page_type,
    device,
    referrer,
    extras: ex,
  };
  if (!idGiven) event.event_id = contentEventId(event);
  const bad = checkEvent(event);
  return bad ? { ok: false, rejection: bad } : { ok: true, event };
}

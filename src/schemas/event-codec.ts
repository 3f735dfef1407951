/**
 * Decoding and encoding of the Kafka values of the contract.
 *
 * Inbound ShopEvents come either as Confluent-framed Avro (first byte 0x00) or as one JSON object per message
 * (first non-whitespace byte '{'; '[' is taken as JSON too, and rejected as not_an_object). Both paths end in the same semantic validation (`checkEvent`), so a given
 * defect is rejected with the same reason, field and message whatever the encoding.
 */
import type { Type } from 'avsc';
import {
  LOCAL_SCHEMAS,
  SCHEMA_IDS,
  avroTypeFromSchema,
  sessionPredictionType,
  sessionTimelineType,
  shopEventType,
} from './avro.js';
import { HEADER_BYTES, MAGIC_BYTE, truncatedHeader, unframe, writeHeader } from './framing.js';
import { type Rejection, describeByte, describeValue, reject } from './rejections.js';
import type { CloseReason, SessionPrediction, SessionTimeline, ShopEvent } from './types.js';

type Resolver = ReturnType<Type['createResolver']>;

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** event_time bounds, epoch ms: [2000-01-01, 2100-01-01). */
export const MIN_EVENT_TIME = Date.UTC(2000, 0, 1);
export const MAX_EVENT_TIME = Date.UTC(2100, 0, 1);
const MAX_AVRO_INT = 2_147_483_647;

export type DecodeResult =
  | { ok: true; event: ShopEvent; encoding: 'avro' | 'json'; schemaId?: number }
  | { ok: false; rejection: Rejection };

export type NormalizeResult = { ok: true; event: ShopEvent } | { ok: false; rejection: Rejection };

export interface EventDecoderOptions {
  /** values longer than this are rejected as oversize_message; default 1 MiB. */
  maxMessageBytes?: number;
  /** writer schemas by Confluent id; default LOCAL_SCHEMAS. */
  schemas?: ReadonlyMap<number, Type>;
  /** Confluent-compatible Schema Registry base URL (user:password@ in the URL becomes Basic auth). */
  registryUrl?: string;
  /** fetch implementation for the registry; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** per-request registry timeout; default 5000 ms. */
  registryTimeoutMs?: number;
  /** a failed registry lookup is not retried by prepare() before this long; default 30000 ms. */
  registryRetryMs?: number;
}

export interface EventDecoder {
  /** Decodes one Kafka value. Never throws. */
  decode(value: Buffer | null | undefined): DecodeResult;
  /**
   * Fetches, from the registry, the writer schemas of framed Avro values whose ids are not known yet.
   * Never rejects: a failed fetch leaves the id unknown and its error goes into decode()'s rejection message.
   * A no-op without registryUrl.
   */
  prepare(values: readonly (Buffer | null | undefined)[]): Promise<void>;
}

// --- writer schemas -------------------------------------------------------------------------------------

/** `why` completes "schema id N ..." in the schema_not_an_event message. */
type WriterEntry = { event: true; resolver: Resolver | undefined } | { event: false; why: string };

const writerEntries = new WeakMap<Type, WriterEntry>();

/** How to read values written with `writer` as the current ShopEvent; cached per type object. */
function writerEntry(writer: Type): WriterEntry {
  let entry = writerEntries.get(writer);
  if (entry) return entry;
  if (writer === shopEventType || writer.equals(shopEventType)) {
    // same canonical form, same bytes: read directly, no resolver
    entry = { event: true, resolver: undefined };
  } else if (writer.typeName !== 'record') {
    entry = { event: false, why: `is a ${writer.typeName} schema, not an io.intentstream.ShopEvent record` };
  } else {
    try {
      entry = { event: true, resolver: shopEventType.createResolver(writer) };
    } catch (err) {
      entry = {
        event: false,
        why: `is the record ${writer.name}, which cannot be read as io.intentstream.ShopEvent (${(err as Error).message})`,
      };
    }
  }
  writerEntries.set(writer, entry);
  return entry;
}

// --- semantic validation (both paths) -------------------------------------------------------------------

function nonEmpty(field: string, value: unknown): Rejection {
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

// --- JSON normalization ---------------------------------------------------------------------------------

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

const NUMERIC = /^\s*-?\d+(?:\.\d+)?\s*$/;
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
    const ms = NUMERIC.test(v) ? Math.floor(Number(v)) : parseIso8601(v);
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
  const event_id = requiredString(o, 'event_id');
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
  const bad = checkEvent(event);
  return bad ? { ok: false, rejection: bad } : { ok: true, event };
}

// --- decoder --------------------------------------------------------------------------------------------

/** Same field order for both paths, so downstream code sees one object shape. */
function plainEvent(r: ShopEvent): ShopEvent {
  return {
    cookie_id: r.cookie_id,
    event_id: r.event_id,
    event_type: r.event_type,
    event_time: r.event_time,
    item_id: r.item_id,
    category_id: r.category_id,
    price: r.price,
    quantity: r.quantity,
    page_type: r.page_type,
    device: r.device,
    referrer: r.referrer,
    extras: r.extras,
  };
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return `${err.message} (${typeof code === 'string' ? `${code}: ` : ''}${cause.message})`;
  }
  return err.message;
}

const BOM_0 = 0xef;
const BRACE = 0x7b; // {
const BRACKET = 0x5b; // [
const MAX_REMEMBERED_FAILURES = 10_000;

function isJsonWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

interface RegistryFailure {
  message: string;
  retryAt: number;
}

export function createEventDecoder(options: EventDecoderOptions = {}): EventDecoder {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < HEADER_BYTES) {
    throw new RangeError(`maxMessageBytes must be an integer >= ${HEADER_BYTES}, got ${maxMessageBytes}`);
  }
  const localSchemas = options.schemas ?? LOCAL_SCHEMAS;
  const writers = new Map<number, WriterEntry>();
  for (const [id, type] of localSchemas) writers.set(id, writerEntry(type));
  const localIds = [...localSchemas.keys()].sort((a, b) => a - b).join(', ');

  const registry = options.registryUrl === undefined ? undefined : registryClient(options);
  const failures = new Map<number, RegistryFailure>();
  const inflight = new Map<number, Promise<void>>();

  function unknownSchema(id: number): DecodeResult {
    let message = `schema id ${id} is not one of the locally known ids (${localIds})`;
    if (!registry) message += ' and no schema registry is configured';
    else {
      const failure = failures.get(id);
      message += failure
        ? ` and fetching it from the schema registry failed: ${failure.message}`
        : ' and has not been fetched from the schema registry (call prepare() with the batch before decode())';
    }
    return { ok: false, rejection: reject('unknown_schema_id', message) };
  }

  function decodeAvro(value: Buffer): DecodeResult {
    const length = value.length;
    if (length < HEADER_BYTES) return { ok: false, rejection: truncatedHeader(length) };
    const id = value.readUInt32BE(1);
    const writer = writers.get(id);
    if (writer === undefined) return unknownSchema(id);
    if (!writer.event) {
      return {
        ok: false,
        rejection: reject(
          'schema_not_an_event',
          `schema id ${id} ${writer.why}; this topic carries ShopEvents`,
        ),
      };
    }
    let decoded: { value: ShopEvent; offset: number };
    try {
      decoded = shopEventType.decode(value, HEADER_BYTES, writer.resolver);
    } catch (err) {
      return {
        ok: false,
        rejection: reject(
          'invalid_avro',
          `Avro body (${length - HEADER_BYTES} bytes) is not a valid record of schema id ${id}: ${errorText(err)}`,
        ),
      };
    }
    const end = decoded.offset;
    if (end < 0) {
      return {
        ok: false,
        rejection: reject(
          'truncated_payload',
          `Avro body (${length - HEADER_BYTES} bytes) ends before a complete record of schema id ${id}`,
        ),
      };
    }
    if (end !== length) {
      return {
        ok: false,
        rejection: reject(
          'trailing_bytes',
          `${length - end} byte(s) left after a complete record of schema id ${id}: the producer probably wrote with a different schema than the id says`,
        ),
      };
    }
    const event = plainEvent(decoded.value);
    const bad = checkEvent(event);
    if (bad) return { ok: false, rejection: bad };
    return { ok: true, event, encoding: 'avro', schemaId: id };
  }

  function decodeJson(value: Buffer, start: number): DecodeResult {
    let parsed: unknown;
    try {
      // from 0 unless there is a BOM, so V8's "at position N" counts from the start of the value
      parsed = JSON.parse(value.toString('utf8', start));
    } catch (err) {
      return { ok: false, rejection: reject('invalid_json', `value is not valid JSON: ${errorText(err)}`) };
    }
    const r = normalizeEvent(parsed);
    return r.ok ? { ok: true, event: r.event, encoding: 'json' } : r;
  }

  function decode(value: Buffer | null | undefined): DecodeResult {
    if (value == null || value.length === 0) {
      return { ok: false, rejection: reject('empty_message', 'value is empty (null or zero bytes)') };
    }
    const length = value.length;
    if (length > maxMessageBytes) {
      return {
        ok: false,
        rejection: reject(
          'oversize_message',
          `value is ${length} bytes, more than the limit of ${maxMessageBytes} (maxMessageBytes)`,
        ),
      };
    }
    const first = value[0]!;
    if (first === MAGIC_BYTE) return decodeAvro(value);
    let start = 0;
    let i = 0;
    if (first === BOM_0 && value[1] === 0xbb && value[2] === 0xbf) start = i = 3;
    let b = value[i]!;
    while (isJsonWhitespace(b) && ++i < length) b = value[i]!;
    if (i === length) {
      return { ok: false, rejection: reject('empty_message', `value is only whitespace (${length} bytes)`) };
    }
    if (b === BRACE || b === BRACKET) return decodeJson(value, start);
    return {
      ok: false,
      rejection: reject(
        'wrong_magic_byte',
        `expected 0x00 (Confluent Avro) or '{' (JSON) as the first byte, got ${describeByte(b)}${i > 0 ? ` at offset ${i}` : ''}`,
      ),
    };
  }

  async function fetchOne(id: number): Promise<void> {
    if (!registry) return;
    try {
      const type = await registry.fetchSchema(id);
      writers.set(id, writerEntry(type));
      failures.delete(id);
    } catch (err) {
      if (failures.size >= MAX_REMEMBERED_FAILURES) {
        const oldest = failures.keys().next();
        if (!oldest.done) failures.delete(oldest.value);
      }
      failures.set(id, { message: errorText(err), retryAt: Date.now() + registry.retryMs });
    }
  }

  async function prepare(values: readonly (Buffer | null | undefined)[]): Promise<void> {
    if (!registry) return;
    const now = Date.now();
    const pending: Promise<void>[] = [];
    for (const value of values) {
      if (value == null || value.length < HEADER_BYTES || value[0] !== MAGIC_BYTE) continue;
      const id = value.readUInt32BE(1);
      if (writers.has(id)) continue;
      let p = inflight.get(id);
      if (p === undefined) {
        const failure = failures.get(id);
        if (failure && failure.retryAt > now) continue;
        p = fetchOne(id).finally(() => inflight.delete(id));
        inflight.set(id, p);
      }
      pending.push(p);
    }
    if (pending.length > 0) await Promise.all(pending);
  }

  return { decode, prepare };
}

// --- schema registry ------------------------------------------------------------------------------------

interface RegistryClient {
  retryMs: number;
  fetchSchema(id: number): Promise<Type>;
}

function registryClient(options: EventDecoderOptions): RegistryClient {
  const url = new URL(options.registryUrl!);
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json',
  };
  if (url.username !== '' || url.password !== '') {
    // fetch() refuses URLs with credentials
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const base = url.href.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.registryTimeoutMs ?? 5000;

  return {
    retryMs: options.registryRetryMs ?? 30_000,
    async fetchSchema(id: number): Promise<Type> {
      const target = `${base}/schemas/ids/${id}`;
      let res: Response;
      try {
        res = await fetchImpl(target, { headers, signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new Error(`GET ${target} failed: ${errorText(err)}`);
      }
      const text = await res.text();
      if (!res.ok) {
        let detail = text.slice(0, 200);
        try {
          const body = JSON.parse(text) as { message?: unknown };
          if (typeof body.message === 'string') detail = body.message;
        } catch {
          // not JSON: keep the raw text
        }
        throw new Error(`GET ${target} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
      }
      let body: { schema?: unknown; schemaType?: unknown };
      try {
        body = JSON.parse(text) as typeof body;
      } catch (err) {
        throw new Error(`GET ${target} answered a body that is not JSON: ${errorText(err)}`);
      }
      if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
        throw new Error(`schema id ${id} in the registry is a ${String(body.schemaType)} schema, not Avro`);
      }
      if (typeof body.schema !== 'string') {
        throw new Error(`GET ${target} answered without a "schema" string`);
      }
      try {
        return avroTypeFromSchema(JSON.parse(body.schema));
      } catch (err) {
        throw new Error(`schema id ${id} from the registry is not a valid Avro schema: ${errorText(err)}`);
      }
    },
  };
}

// --- encoders and non-event decoders --------------------------------------------------------------------

let scratch = Buffer.allocUnsafe(64 * 1024);

function invalidValue(type: Type, value: unknown, what: string, err: unknown): Error {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], v: unknown, t: Type) => {
      if (problems.length < 5) {
        let expected = t.toString();
        if (expected.length > 80) expected = `${expected.slice(0, 80)}…`;
        problems.push(
          `${path.length > 0 ? path.join('.') : '(value)'} must be ${expected}, got ${describeValue(v)}`,
        );
      }
    },
  });
  const detail = problems.length > 0 ? problems.join('; ') : errorText(err);
  return new TypeError(`cannot encode ${what}: ${detail}`, { cause: err });
}

/** Avro-encodes `value` and prefixes the Confluent header, with one copy out of a shared scratch buffer. */
function encodeFramed(type: Type, schemaId: number, value: unknown, what: string): Buffer {
  let end: number;
  try {
    end = type.encode(value, scratch, HEADER_BYTES);
    if (end < 0) {
      // avsc returns minus the number of missing bytes
      scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
      end = type.encode(value, scratch, HEADER_BYTES);
    }
  } catch (err) {
    throw invalidValue(type, value, what, err);
  }
  writeHeader(scratch, schemaId);
  const out = Buffer.allocUnsafe(end);
  scratch.copy(out, 0, 0, end);
  return out;
}

function decodeFramed(type: Type, schemaId: number, what: string, buf: Buffer | null | undefined): unknown {
  const framed = unframe(buf);
  if (!framed.ok) throw new Error(`cannot decode ${what}: ${framed.rejection.message}`);
  if (framed.schemaId !== schemaId) {
    throw new Error(`cannot decode ${what}: expected schema id ${schemaId}, got ${framed.schemaId}`);
  }
  const b = buf as Buffer;
  let decoded: { value: unknown; offset: number };
  try {
    decoded = type.decode(b, HEADER_BYTES);
  } catch (err) {
    throw new Error(`cannot decode ${what}: invalid Avro body: ${errorText(err)}`, { cause: err });
  }
  if (decoded.offset < 0) {
    throw new Error(`cannot decode ${what}: Avro body (${b.length - HEADER_BYTES} bytes) is truncated`);
  }
  if (decoded.offset !== b.length) {
    throw new Error(`cannot decode ${what}: ${b.length - decoded.offset} trailing byte(s) after the record`);
  }
  return decoded.value;
}

/** Confluent-framed Avro, schema id 2. Throws a TypeError naming the offending field on an invalid event. */
export function encodeEvent(event: ShopEvent): Buffer {
  return encodeFramed(shopEventType, SCHEMA_IDS.shopEvent, event, 'ShopEvent');
}

/** UTF-8 JSON object with exactly the contract's fields. */
export function encodeEventJson(event: ShopEvent): Buffer {
  return Buffer.from(JSON.stringify(plainEvent(event)), 'utf8');
}

/** Confluent-framed Avro, schema id 10. */
export function encodePrediction(prediction: SessionPrediction): Buffer {
  return encodeFramed(sessionPredictionType, SCHEMA_IDS.sessionPrediction, prediction, 'SessionPrediction');
}

/** Inverse of encodePrediction; throws an Error naming the problem on bad input. */
export function decodePrediction(buf: Buffer): SessionPrediction {
  const r = decodeFramed(
    sessionPredictionType,
    SCHEMA_IDS.sessionPrediction,
    'SessionPrediction',
    buf,
  ) as SessionPrediction;
  return {
    cookie_id: r.cookie_id,
    session_id: r.session_id,
    model_version: r.model_version,
    event_id: r.event_id,
    event_time: r.event_time,
    scored_at: r.scored_at,
    events_in_session: r.events_in_session,
    probabilities: r.probabilities,
  };
}

const CLOSE_REASONS: ReadonlySet<string> = new Set<CloseReason>([
  'gap',
  'max_duration',
  'max_events',
  'end_of_input',
  'evicted',
]);

/** Confluent-framed Avro, schema id 20. */
export function encodeTimeline(timeline: SessionTimeline): Buffer {
  return encodeFramed(sessionTimelineType, SCHEMA_IDS.sessionTimeline, timeline, 'SessionTimeline');
}

/** Inverse of encodeTimeline; throws an Error naming the problem on bad input (incl. an unknown close_reason). */
export function decodeTimeline(buf: Buffer): SessionTimeline {
  const r = decodeFramed(
    sessionTimelineType,
    SCHEMA_IDS.sessionTimeline,
    'SessionTimeline',
    buf,
  ) as SessionTimeline;
  if (!CLOSE_REASONS.has(r.close_reason)) {
    throw new Error(
      `cannot decode SessionTimeline: close_reason must be one of ${[...CLOSE_REASONS].join(', ')}, got ${describeValue(r.close_reason)}`,
    );
  }
  return {
    session_id: r.session_id,
    cookie_id: r.cookie_id,
    start_time: r.start_time,
    end_time: r.end_time,
    close_reason: r.close_reason,
    event_count: r.event_count,
    events: r.events.map(plainEvent),
  };
}

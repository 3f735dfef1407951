/**
 * The decoder of inbound ShopEvents (Kafka values).
 *
 * A value is either Confluent-framed Avro (first byte 0x00) or one JSON object (first non-whitespace byte
 * '{'; '[' is taken as JSON too, and rejected as not_an_object). Both paths end in the same semantic
 * validation (`checkEvent`), so a given defect is rejected with the same reason, field and message
 * whatever the encoding. Writer schemas unknown locally come from a schema registry, fetched ahead by
 * prepare() so that decode() stays synchronous.
 */
import type { Type } from 'avsc';
import { LOCAL_SCHEMAS, shopEventType } from './avro.js';
import { copyEvent } from './event-copy.js';
import { normalizeEvent } from './event-json.js';
import { checkEvent } from './event-validation.js';
import { HEADER_BYTES, MAGIC_BYTE, truncatedHeader } from './framing.js';
import { type Rejection, describeByte, describeError, reject } from './rejections.js';
import { type SchemaRegistryClient, createSchemaRegistryClient } from './schema-registry-client.js';
import type { ShopEvent } from './types.js';

type Resolver = ReturnType<Type['createResolver']>;

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export type DecodeResult =
  | { ok: true; event: ShopEvent; encoding: 'avro' | 'json'; schemaId?: number }
  | { ok: false; rejection: Rejection };

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

  const registry: SchemaRegistryClient | undefined =
    options.registryUrl === undefined
      ? undefined
      : createSchemaRegistryClient({
          url: options.registryUrl,
          fetch: options.fetch,
          timeoutMs: options.registryTimeoutMs,
          retryMs: options.registryRetryMs,
        });
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
          `Avro body (${length - HEADER_BYTES} bytes) is not a valid record of schema id ${id}: ${describeError(err)}`,
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
    const event = copyEvent(decoded.value);
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
      return {
        ok: false,
        rejection: reject('invalid_json', `value is not valid JSON: ${describeError(err)}`),
      };
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
      failures.set(id, { message: describeError(err), retryAt: Date.now() + registry.retryMs });
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

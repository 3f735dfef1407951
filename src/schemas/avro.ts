/**
 * The Avro types of the contract in this folder, built once at module load.
 *
 * `timestamp-millis` fields are read and written as plain JS numbers (epoch milliseconds), as in types.ts:
 * no `logicalTypes` are registered, so avsc uses the underlying `long` (avsc keeps the logicalType attribute
 * in the schema but does not convert values).
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { Type } from 'avsc';

type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];
type ForSchemaOptions = NonNullable<Parameters<typeof avro.Type.forSchema>[1]>;

/** Confluent Schema Registry ids of the contract. */
export const SCHEMA_IDS = {
  shopEventV1: 1,
  shopEvent: 2,
  sessionPrediction: 10,
  sessionTimeline: 20,
} as const;

function readSchema(file: string): unknown {
  const url = new URL(`./${file}`, import.meta.url);
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch (err) {
    throw new Error(`cannot load Avro schema ${url.pathname}: ${(err as Error).message}`, { cause: err });
  }
}

// --- guard against corrupt block counts -----------------------------------------------------------------
//
// avsc reads an Avro array/map block count and then loops that many times, even past the end of the buffer
// (it only checks for overflow once the whole value is read). A corrupt or hostile count such as 2^40 thus
// spins for hours on a 30-byte message: a poison pill for a consumer. Every map entry (its key) and every
// array item of a type that is never empty takes at least one byte, so a count larger than the remaining bytes
// is reported as a truncated buffer instead (decode() then returns offset -1). One byte rather than the
// reader's minimum item size because, when resolving, the writer's items may be smaller.
//
// avsc types are frozen, so the guarded readers live on subclasses of MapType/ArrayType that a typeHook
// builds for every map/array schema; avsc resolvers copy `_read` from the reader type, so they are guarded too.

interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string;
  skipString(): void;
  _invalidate(): void;
}
interface Codec {
  _read(tap: Tap): unknown;
  _skip(tap: Tap): void;
  /** set on resolvers */
  _readerType?: AnyType;
}
interface AnyType extends Codec {
  typeName: string;
  fields?: readonly { type: AnyType }[];
  types?: readonly AnyType[];
  underlyingType?: AnyType;
  size?: number;
}

/** Reads a block count; 0 when done, or when the count cannot fit in the rest of the buffer (tap invalidated). */
function blockCount(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong(); // block size in bytes
  }
  if (n > tap.buf.length - tap.pos) {
    tap._invalidate();
    return 0;
  }
  return n;
}

function minBytes(type: AnyType, seen: Set<AnyType>): number {
  switch (type.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return type.size ?? 0;
    case 'record':
    case 'error': {
      if (seen.has(type)) return 0; // recursive: don't count twice
      seen.add(type);
      let sum = 0;
      for (const field of type.fields ?? []) sum += minBytes(field.type, seen);
      seen.delete(type);
      return sum;
    }
    default:
      if (type.underlyingType) return minBytes(type.underlyingType, seen);
      return 1; // boolean, int, long, string, bytes, enum, union index, map/array terminator
  }
}

/** Whether array items of this type (or resolver) can be empty, in which case counts are not guarded. */
const itemsMayBeEmpty = new WeakMap<Codec, boolean>();
function mayBeEmpty(items: Codec): boolean {
  let empty = itemsMayBeEmpty.get(items);
  if (empty === undefined) {
    const type = (items._readerType ?? items) as AnyType;
    empty = typeof type.typeName !== 'string' || minBytes(type, new Set()) === 0;
    itemsMayBeEmpty.set(items, empty);
  }
  return empty;
}

class GuardedMapType extends avro.types.MapType {}
class GuardedArrayType extends avro.types.ArrayType {}

Object.assign(GuardedMapType.prototype, {
  _read(this: { valuesType: Codec }, tap: Tap): unknown {
    const values = this.valuesType;
    const val: Record<string, unknown> = {};
    for (let n = blockCount(tap); n > 0; n = blockCount(tap)) {
      while (n--) {
        const key = tap.readString();
        val[key] = values._read(tap);
      }
    }
    return val;
  },
  _skip(this: { valuesType: Codec }, tap: Tap): void {
    const values = this.valuesType;
    for (let n = blockCount(tap); n > 0; n = blockCount(tap)) {
      while (n--) {
        tap.skipString();
        values._skip(tap);
      }
    }
  },
});

const unguardedArray = avro.types.ArrayType.prototype as unknown as Codec;
Object.assign(GuardedArrayType.prototype, {
  _read(this: { itemsType: Codec }, tap: Tap): unknown {
    const items = this.itemsType;
    if (mayBeEmpty(items)) return unguardedArray._read.call(this, tap);
    const val: unknown[] = [];
    for (let n = blockCount(tap); n > 0; n = blockCount(tap)) {
      while (n--) val.push(items._read(tap));
    }
    return val;
  },
  _skip(this: { itemsType: Codec }, tap: Tap): void {
    const items = this.itemsType;
    if (mayBeEmpty(items)) {
      unguardedArray._skip.call(this, tap);
      return;
    }
    for (let n = blockCount(tap); n > 0; n = blockCount(tap)) {
      while (n--) items._skip(tap);
    }
  },
});

function guardedCollectionHook(schema: AvroSchema, opts: ForSchemaOptions): Type | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema) || avro.Type.isType(schema)) {
    return undefined;
  }
  const s = schema as { type?: unknown; logicalType?: unknown };
  if (s.logicalType !== undefined) return undefined;
  if (s.type === 'map') return new GuardedMapType(schema, opts);
  if (s.type === 'array') return new GuardedArrayType(schema, opts);
  return undefined;
}

/**
 * timestamp-millis that stays a number of epoch ms in JS. Registering it (rather than letting avsc
 * ignore the logical type) keeps `logicalType` in the schema written into container files, so
 * fastavro, Spark and DuckDB read these fields as timestamps.
 */
class TimestampMillis extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value;
  }
  override _toValue(value: unknown): unknown {
    return value;
  }
  override _resolve(type: Type): ((v: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'long') || avro.Type.isType(type, 'logical:timestamp-millis')) return (v) => v;
    return undefined;
  }
}

/**
 * Builds an avsc type from a parsed schema (e.g. one fetched from a schema registry), with its own name
 * registry and with the count guard below applied. Throws on an invalid schema.
 */
export function avroTypeFromSchema(schema: unknown, registry: Record<string, Type> = {}): Type {
  return avro.Type.forSchema(schema as AvroSchema, {
    registry,
    typeHook: guardedCollectionHook,
    logicalTypes: { 'timestamp-millis': TimestampMillis },
  });
}

// ShopEvent and SessionTimeline share one registry: the timeline refers to io.intentstream.ShopEvent by name.
const contractRegistry: Record<string, Type> = {};
export const shopEventType: Type = avroTypeFromSchema(readSchema('shop_event.avsc'), contractRegistry);
export const sessionTimelineType: Type = avroTypeFromSchema(
  readSchema('session_timeline.avsc'),
  contractRegistry,
);
// v1 has the same full name as the current ShopEvent, so it needs a registry of its own.
export const shopEventV1Type: Type = avroTypeFromSchema(readSchema('shop_event.v1.avsc'));
export const sessionPredictionType: Type = avroTypeFromSchema(readSchema('session_prediction.avsc'));

/** Writer schemas known without a registry, by Confluent schema id. */
export const LOCAL_SCHEMAS: ReadonlyMap<number, Type> = new Map<number, Type>([
  [SCHEMA_IDS.shopEventV1, shopEventV1Type],
  [SCHEMA_IDS.shopEvent, shopEventType],
  [SCHEMA_IDS.sessionPrediction, sessionPredictionType],
  [SCHEMA_IDS.sessionTimeline, sessionTimelineType],
]);

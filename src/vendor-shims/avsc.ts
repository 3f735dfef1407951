/**
 * avsc internals (5.7.9): the private readers `_read`/`_skip` of map and array types, the private
 * `_invalidate` of its Tap, and `_readerType` on resolvers. Used for one thing: the guard against corrupt
 * block counts below, applied to every type the contract builds (schemas/avro.ts).
 */
import { createRequire } from 'node:module';
import avro from 'avsc';
import type { Type } from 'avsc';
import { type ShimProblem, missingFunctions } from './problems.js';

type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];
type ForSchemaOptions = NonNullable<Parameters<typeof avro.Type.forSchema>[1]>;

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

export function guardedCollectionHook(schema: AvroSchema, opts: ForSchemaOptions): Type | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema) || avro.Type.isType(schema)) {
    return undefined;
  }
  const s = schema as { type?: unknown; logicalType?: unknown };
  if (s.logicalType !== undefined) return undefined;
  if (s.type === 'map') return new GuardedMapType(schema, opts);
  if (s.type === 'array') return new GuardedArrayType(schema, opts);
  return undefined;
}

/** The avsc module parts the guard relies on; tests pass fakes. */
export interface AvscInternals {
  types: { MapType: { prototype: unknown }; ArrayType: { prototype: unknown } };
  Tap: { prototype: unknown };
  /** a resolver between two types, where `_readerType` must be. */
  resolver: unknown;
}

function installedInternals(): AvscInternals {
  const { Tap } = createRequire(import.meta.url)('avsc/lib/utils') as { Tap: { prototype: unknown } };
  const int = avro.Type.forSchema('int');
  return { types: avro.types, Tap, resolver: avro.Type.forSchema('long').createResolver(int) };
}

/** Whether the internals the guard calls are where it expects them: fatal problems when not. */
export function checkAvscInternals(lib: AvscInternals = installedInternals()): ShimProblem[] {
  const problems = [
    ...missingFunctions('avsc', 'MapType.prototype', lib.types.MapType.prototype, ['_read', '_skip']),
    ...missingFunctions('avsc', 'ArrayType.prototype', lib.types.ArrayType.prototype, ['_read', '_skip']),
    ...missingFunctions('avsc', 'Tap.prototype', lib.Tap.prototype, [
      '_invalidate',
      'readLong',
      'skipLong',
      'readString',
      'skipString',
    ]),
  ];
  const readerType = (lib.resolver as { _readerType?: unknown } | null)?._readerType;
  if (typeof readerType !== 'object' || readerType === null) {
    problems.push({
      package: 'avsc',
      internal: 'resolver._readerType',
      severity: 'fatal',
      message:
        'avsc: resolvers no longer carry _readerType, so the block-count guard cannot size the items of resolved arrays; the installed avsc is not the version src/vendor-shims/avsc.ts was written for',
    });
  }
  return problems;
}

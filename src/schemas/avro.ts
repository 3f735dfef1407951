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
import { guardedCollectionHook } from '../vendor-shims/avsc.js';

type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];

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
 * registry and with the block-count guard (vendor-shims/avsc.ts) applied. Throws on an invalid schema.
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

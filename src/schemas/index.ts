export * from './types.js';
export * from './rejections.js';
export * from './framing.js';
export {
  LOCAL_SCHEMAS,
  SCHEMA_IDS,
  avroTypeFromSchema,
  sessionPredictionType,
  sessionTimelineType,
  shopEventType,
  shopEventV1Type,
} from './avro.js';
export * from './event-codec.js';

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
export * from './event-copy.js';
export { FIELD_LIMITS, MAX_EVENT_TIME, MIN_EVENT_TIME, checkEvent } from './event-validation.js';
export * from './event-json.js';
export * from './event-decoder.js';
export * from './schema-registry-client.js';
export * from './encoders.js';

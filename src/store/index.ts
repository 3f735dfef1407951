export { decodeContainer, encodeContainer } from './avro-container.js';
export {
  type CorruptSegment,
  CorruptSegmentError,
  type ReadOptions,
  type StoredSegment,
  type TimelineStore,
  createTimelineStore,
  inconsistency,
  dayOf,
  parseSegmentName,
  segmentName,
} from './timeline-store.js';

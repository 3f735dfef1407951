export { decodeContainer, encodeContainer } from './avro-container.js';
export {
  type TimelineStore,
  createTimelineStore,
  dayOf,
  parseSegmentName,
  segmentName,
} from './timeline-store.js';

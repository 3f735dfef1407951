import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATE_REASON } from '../ingest/late-events.js';
import { REJECT_REASONS } from '../schemas/index.js';

/** Metric names of the ingest process (dashboards, alerts and tests import these). */
export const INGEST_METRICS = {
  events: 'intentstream_ingest_events_total',
  openSessions: 'intentstream_ingest_open_sessions',
  pendingEvents: 'intentstream_ingest_pending_events',
  sessionsClosed: 'intentstream_ingest_sessions_closed_total',
  sessionEvents: 'intentstream_ingest_session_events',
  lateness: 'intentstream_ingest_late_event_lateness_seconds',
  deadLetters: 'intentstream_ingest_dead_letters_total',
  consumerLag: 'intentstream_ingest_consumer_lag_messages',
  watermark: 'intentstream_ingest_watermark_timestamp_seconds',
  storeWrite: 'intentstream_ingest_store_write_seconds',
  checkpointWrite: 'intentstream_ingest_checkpoint_write_seconds',
  checkpointBytes: 'intentstream_ingest_checkpoint_bytes',
  flushes: 'intentstream_ingest_flushes_total',
} as const;

export const EVENT_OUTCOMES = ['accepted', 'duplicate', 'late', 'rejected'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

export function createIngestMetrics(registry: Registry) {
  const events = new Counter({
    name: INGEST_METRICS.events,
    help: 'Input messages by outcome: accepted into a session, duplicate event_id, late beyond grace, rejected by the decoder',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of EVENT_OUTCOMES) events.labels(outcome).inc(0);
  const deadLetters = new Counter({
    name: INGEST_METRICS.deadLetters,
    help: 'Messages sent to the dead-letter topic, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of [...REJECT_REASONS, LATE_REASON]) deadLetters.labels(reason).inc(0);
  return {
    events,
    deadLetters,
    openSessions: new Gauge({
      name: INGEST_METRICS.openSessions,
      help: 'Open sessions (cookies with open or pending events)',
      registers: [registry],
    }),
    pendingEvents: new Gauge({
      name: INGEST_METRICS.pendingEvents,
      help: 'Events waiting for the watermark to pass them',
      registers: [registry],
    }),
    sessionsClosed: new Counter({
      name: INGEST_METRICS.sessionsClosed,
      help: 'Sessions closed and stored, by close reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sessionEvents: new Histogram({
      name: INGEST_METRICS.sessionEvents,
      help: 'Events per closed session',
      buckets: [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
      registers: [registry],
    }),
    lateness: new Histogram({
      name: INGEST_METRICS.lateness,
      help: 'How far behind the watermark late events were (seconds)',
      buckets: [1, 10, 60, 300, 1800, 3600, 21600, 86400],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: INGEST_METRICS.consumerLag,
      help: 'Messages between the partition high watermark and the next offset to process',
      labelNames: ['partition'],
      registers: [registry],
    }),
    watermark: new Gauge({
      name: INGEST_METRICS.watermark,
      help: 'Event-time watermark per partition (max event time seen minus grace), unix seconds',
      labelNames: ['partition'],
      registers: [registry],
    }),
    storeWrite: new Histogram({
      name: INGEST_METRICS.storeWrite,
      help: 'Latency of writing one segment of closed sessions to the timeline store (fsync included)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    checkpointWrite: new Histogram({
      name: INGEST_METRICS.checkpointWrite,
      help: 'Latency of writing one partition checkpoint (fsync included)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    checkpointBytes: new Gauge({
      name: INGEST_METRICS.checkpointBytes,
      help: 'Size of the last checkpoint per partition',
      labelNames: ['partition'],
      registers: [registry],
    }),
    flushes: new Counter({
      name: INGEST_METRICS.flushes,
      help: 'Flushes (segment + checkpoint + offset commit)',
      registers: [registry],
    }),
  };
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REJECT_REASONS } from '../schemas/index.js';

/** Metric names of the scorer process (dashboards, alerts and tests import these). */
export const SCORER_METRICS = {
  events: 'intentstream_scorer_events_total',
  predictions: 'intentstream_scorer_predictions_total',
  batchSize: 'intentstream_scorer_batch_size',
  processing: 'intentstream_scorer_processing_seconds',
  eventLag: 'intentstream_scorer_event_lag_seconds',
  openSessions: 'intentstream_scorer_open_sessions',
  evictions: 'intentstream_scorer_sessions_evicted_total',
  modelInfo: 'intentstream_scorer_model_info',
  reloads: 'intentstream_scorer_model_reloads_total',
  reloadsRefused: 'intentstream_scorer_model_reloads_refused_total',
  deadLetters: 'intentstream_scorer_dead_letters_total',
  stepRounds: 'intentstream_scorer_step_calls_total',
  transactions: 'intentstream_scorer_transactions_total',
  rebuilds: 'intentstream_scorer_rebuilds_total',
  rebuildEvents: 'intentstream_scorer_rebuild_events_total',
  rebuildTruncated: 'intentstream_scorer_rebuild_truncated_sessions',
  consumerLag: 'intentstream_scorer_consumer_lag_messages',
} as const;

/** What happened to each input message: scored, duplicate event_id in its live session, late, rejected. */
export const SCORER_OUTCOMES = ['scored', 'duplicate', 'late', 'rejected'] as const;
export const EVICTION_REASONS = ['capacity', 'expired'] as const;
export const TRANSACTION_RESULTS = ['committed', 'aborted'] as const;

export type ScorerMetrics = ReturnType<typeof createScorerMetrics>;

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createScorerMetrics(registry: Registry) {
  const events = new Counter({
    name: SCORER_METRICS.events,
    help: 'Input messages by outcome (live processing; rebuild replays are counted in rebuild_events_total)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of SCORER_OUTCOMES) events.labels(outcome).inc(0);
  const deadLetters = new Counter({
    name: SCORER_METRICS.deadLetters,
    help: 'Messages sent to the dead-letter topic, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of REJECT_REASONS) deadLetters.labels(reason).inc(0);
  const evictions = new Counter({
    name: SCORER_METRICS.evictions,
    help: 'Live sessions dropped from memory: capacity (maxOpenSessions, least recently active first) or expired (idle beyond the gap behind the watermark)',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of EVICTION_REASONS) evictions.labels(reason).inc(0);
  const transactions = new Counter({
    name: SCORER_METRICS.transactions,
    help: 'Kafka transactions (predictions + dead letters + offsets) by result (exactlyOnce only)',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of TRANSACTION_RESULTS) transactions.labels(result).inc(0);
  return {
    events,
    deadLetters,
    evictions,
    transactions,
    predictions: new Counter({
      name: SCORER_METRICS.predictions,
      help: 'Predictions emitted (selected by the emission policy)',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: SCORER_METRICS.batchSize,
      help: 'Messages per fetched batch (one partition)',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000],
      registers: [registry],
    }),
    processing: new Histogram({
      name: SCORER_METRICS.processing,
      help: 'Per batch: from the fetched batch reaching the scorer to its predictions acknowledged (transaction committed)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    eventLag: new Histogram({
      name: SCORER_METRICS.eventLag,
      help: 'scored_at minus event_time of scored events (event-time lag), seconds',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600, 86400],
      registers: [registry],
    }),
    openSessions: new Gauge({
      name: SCORER_METRICS.openSessions,
      help: 'Live sessions held in memory',
      registers: [registry],
    }),
    modelInfo: new Gauge({
      name: SCORER_METRICS.modelInfo,
      help: 'The model version being served (value 1)',
      labelNames: ['version'],
      registers: [registry],
    }),
    reloads: new Counter({
      name: SCORER_METRICS.reloads,
      help: 'Models swapped in while running (the first load is not a reload)',
      registers: [registry],
    }),
    reloadsRefused: new Counter({
      name: SCORER_METRICS.reloadsRefused,
      help: 'Model versions refused because loading or checking them failed (the old model kept serving)',
      registers: [registry],
    }),
    stepRounds: new Counter({
      name: SCORER_METRICS.stepRounds,
      help: 'Batched model.step calls (one per batch position)',
      registers: [registry],
    }),
    rebuilds: new Counter({
      name: SCORER_METRICS.rebuilds,
      help: 'Partition state rebuilds (on assignment after a restart or a failed transaction)',
      registers: [registry],
    }),
    rebuildEvents: new Counter({
      name: SCORER_METRICS.rebuildEvents,
      help: 'Messages re-read without emitting to rebuild live state',
      registers: [registry],
    }),
    rebuildTruncated: new Gauge({
      name: SCORER_METRICS.rebuildTruncated,
      help: 'At the last commit: live sessions whose run of activity began before the rebuild window (a restart now would not rebuild them exactly)',
      labelNames: ['partition'],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: SCORER_METRICS.consumerLag,
      help: 'Messages between the partition high watermark and the next offset to process',
      labelNames: ['partition'],
      registers: [registry],
    }),
  };
}

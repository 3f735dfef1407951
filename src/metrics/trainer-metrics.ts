import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RUN_RESULTS, TRIGGERS } from '../trainer/outcomes.js';

/** Metric names of the trainer process (dashboards, alerts and tests import these). */
export const TRAINER_METRICS = {
  runs: 'intentstream_trainer_runs_total',
  duration: 'intentstream_trainer_run_duration_seconds',
  examples: 'intentstream_trainer_examples',
  auc: 'intentstream_trainer_auc',
  lastSuccess: 'intentstream_trainer_last_success_timestamp_seconds',
  running: 'intentstream_trainer_running',
  backend: 'intentstream_trainer_backend_info',
  championAge: 'intentstream_model_current_created_timestamp_seconds',
  skippedFiles: 'intentstream_trainer_skipped_files_total',
  championAuc: 'intentstream_model_current_test_auc',
} as const;

export type TrainerMetrics = ReturnType<typeof createTrainerMetrics>;

export function createTrainerMetrics(registry: Registry) {
  const runs = new Counter({
    name: TRAINER_METRICS.runs,
    help: 'Training runs by result',
    labelNames: ['result', 'trigger'],
    registers: [registry],
  });
  for (const result of RUN_RESULTS) for (const trigger of TRIGGERS) runs.labels(result, trigger).inc(0);
  return {
    runs,
    duration: new Histogram({
      name: TRAINER_METRICS.duration,
      help: 'Duration of training runs (dataset, training, evaluation, registry)',
      buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers: [registry],
    }),
    examples: new Gauge({
      name: TRAINER_METRICS.examples,
      help: 'Examples in the last run, by split',
      labelNames: ['split'],
      registers: [registry],
    }),
    auc: new Gauge({
      name: TRAINER_METRICS.auc,
      help: 'ROC-AUC of the last trained model by split (train, validation, test) and by model (candidate, champion, baseline, shuffled)',
      labelNames: ['split', 'model'],
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: TRAINER_METRICS.lastSuccess,
      help: 'Unix time of the last run that finished without error (promoted or rejected)',
      registers: [registry],
    }),
    running: new Gauge({
      name: TRAINER_METRICS.running,
      help: '1 while a training run is in progress',
      registers: [registry],
    }),
    backend: new Gauge({
      name: TRAINER_METRICS.backend,
      help: 'The tfjs backend training runs on (value 1)',
      labelNames: ['backend'],
      registers: [registry],
    }),
    skippedFiles: new Counter({
      name: TRAINER_METRICS.skippedFiles,
      help: 'Timeline files skipped by training runs because they were corrupt (truncated, bit-flipped, inconsistent)',
      registers: [registry],
    }),
    championCreated: new Gauge({
      name: TRAINER_METRICS.championAge,
      help: 'Unix time the current champion model (registry CURRENT) was trained',
      registers: [registry],
    }),
    championAuc: new Gauge({
      name: TRAINER_METRICS.championAuc,
      help: 'Test ROC-AUC the current champion model (registry CURRENT) reached when it was trained',
      registers: [registry],
    }),
  };
}

/**
 * Grafana dashboards as code, built from the exported metric-name constants so
 * a renamed metric breaks the build instead of a panel. `intentstream ops
 * dashboards` writes them to config/grafana/dashboards/; a unit test checks
 * the committed files equal this output.
 */
import { INGEST_METRICS } from '../metrics/ingest-metrics.js';
import { SCORER_METRICS } from '../metrics/scorer-metrics.js';
import { TRAINER_METRICS } from '../metrics/trainer-metrics.js';

export interface PanelSpec {
  title: string;
  /** PromQL; each becomes one target. */
  queries: { expr: string; legend?: string }[];
  unit?: string;
  kind?: 'timeseries' | 'stat';
  /** A panel that must show data whenever the pipeline runs (the end-to-end test checks these). */
  main?: boolean;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  panels: PanelSpec[];
}

/**
 * Rate windows are Grafana's `$__rate_interval` (at least four scrape intervals: the datasource's
 * `timeInterval` says 5s, config/prometheus.yml's scrape_interval), so a panel never shows gaps.
 */
export const RATE_WINDOW = '$__rate_interval';
const rate = (metric: string, by = '') => `sum${by ? ` by (${by})` : ''}(rate(${metric}[${RATE_WINDOW}]))`;
const quantile = (q: number, histogram: string) =>
  `histogram_quantile(${q}, sum by (le) (rate(${histogram}_bucket[${RATE_WINDOW}])))`;

export const PIPELINE_DASHBOARD: DashboardSpec = {
  uid: 'intentstream-pipeline',
  title: 'intentstream / pipeline',
  panels: [
    {
      title: 'Events/s by outcome',
      main: true,
      queries: [{ expr: rate(INGEST_METRICS.events, 'outcome'), legend: '{{outcome}}' }],
      unit: 'ops',
    },
    {
      title: 'Consumer lag (messages)',
      main: true,
      queries: [{ expr: `sum by (partition) (${INGEST_METRICS.consumerLag})`, legend: 'p{{partition}}' }],
    },
    {
      title: 'Open sessions',
      main: true,
      queries: [
        { expr: `sum(${INGEST_METRICS.openSessions})`, legend: 'open' },
        { expr: `sum(${INGEST_METRICS.pendingEvents})`, legend: 'pending events' },
      ],
    },
    {
      title: 'Dead letters/s by reason',
      queries: [{ expr: rate(INGEST_METRICS.deadLetters, 'reason'), legend: '{{reason}}' }],
      unit: 'ops',
    },
    {
      title: 'Sessions closed/s by reason',
      main: true,
      queries: [{ expr: rate(INGEST_METRICS.sessionsClosed, 'reason'), legend: '{{reason}}' }],
      unit: 'ops',
    },
    {
      title: 'Events per session (p50, p95)',
      queries: [
        { expr: quantile(0.5, INGEST_METRICS.sessionEvents), legend: 'p50' },
        { expr: quantile(0.95, INGEST_METRICS.sessionEvents), legend: 'p95' },
      ],
    },
    {
      title: 'Store write latency p99',
      queries: [
        { expr: quantile(0.99, INGEST_METRICS.storeWrite), legend: 'store' },
        { expr: quantile(0.99, INGEST_METRICS.checkpointWrite), legend: 'checkpoint' },
      ],
      unit: 's',
    },
    {
      title: 'Event-time watermark lag',
      queries: [{ expr: `time() - min(${INGEST_METRICS.watermark})`, legend: 'now − watermark' }],
      unit: 's',
    },
  ],
};

export const SCORING_DASHBOARD: DashboardSpec = {
  uid: 'intentstream-scoring',
  title: 'intentstream / scoring',
  panels: [
    {
      title: 'Events scored/s by outcome',
      main: true,
      queries: [{ expr: rate(SCORER_METRICS.events, 'outcome'), legend: '{{outcome}}' }],
      unit: 'ops',
    },
    {
      title: 'Predictions/s',
      main: true,
      queries: [{ expr: rate(SCORER_METRICS.predictions), legend: 'predictions' }],
      unit: 'ops',
    },
    {
      title: 'Processing latency (fetch → produce acknowledged)',
      queries: [
        { expr: quantile(0.5, SCORER_METRICS.processing), legend: 'p50' },
        { expr: quantile(0.95, SCORER_METRICS.processing), legend: 'p95' },
        { expr: quantile(0.99, SCORER_METRICS.processing), legend: 'p99' },
      ],
      unit: 's',
    },
    {
      title: 'Batch size (p50, p95)',
      queries: [
        { expr: quantile(0.5, SCORER_METRICS.batchSize), legend: 'p50' },
        { expr: quantile(0.95, SCORER_METRICS.batchSize), legend: 'p95' },
      ],
    },
    {
      title: 'Event-time lag p95',
      queries: [{ expr: quantile(0.95, SCORER_METRICS.eventLag), legend: 'p95' }],
      unit: 's',
    },
    {
      title: 'Open sessions and evictions/s',
      main: true,
      queries: [
        { expr: `sum(${SCORER_METRICS.openSessions})`, legend: 'open' },
        { expr: rate(SCORER_METRICS.evictions, 'reason'), legend: 'evicted {{reason}}' },
      ],
    },
    {
      title: 'Serving model version',
      main: true,
      kind: 'stat',
      queries: [{ expr: `max by (version) (${SCORER_METRICS.modelInfo})`, legend: '{{version}}' }],
    },
    {
      title: 'Consumer lag (messages)',
      queries: [{ expr: `sum by (partition) (${SCORER_METRICS.consumerLag})`, legend: 'p{{partition}}' }],
    },
    {
      title: 'Dead letters/s by reason',
      queries: [{ expr: rate(SCORER_METRICS.deadLetters, 'reason'), legend: '{{reason}}' }],
      unit: 'ops',
    },
    {
      title: 'Model reloads (ok / refused)',
      queries: [
        { expr: `sum(increase(${SCORER_METRICS.reloads}[1h]))`, legend: 'reloaded' },
        { expr: `sum(increase(${SCORER_METRICS.reloadsRefused}[1h]))`, legend: 'refused' },
      ],
    },
  ],
};

export const MODEL_DASHBOARD: DashboardSpec = {
  uid: 'intentstream-model',
  title: 'intentstream / model',
  panels: [
    {
      title: 'Serving model: test ROC-AUC',
      main: true,
      kind: 'stat',
      queries: [{ expr: `max(${TRAINER_METRICS.championAuc})`, legend: 'CURRENT' }],
    },
    {
      title: 'Serving model age',
      main: true,
      kind: 'stat',
      queries: [{ expr: `time() - max(${TRAINER_METRICS.championAge})`, legend: 'CURRENT' }],
      unit: 's',
    },
    {
      title: 'ROC-AUC by split (candidate)',
      main: true,
      queries: [{ expr: `max by (split) (${TRAINER_METRICS.auc}{model="candidate"})`, legend: '{{split}}' }],
    },
    {
      title: 'Test AUC: candidate vs references',
      queries: [{ expr: `max by (model) (${TRAINER_METRICS.auc}{split="test"})`, legend: '{{model}}' }],
    },
    {
      title: 'Training runs by result',
      main: true,
      queries: [{ expr: `sum by (result) (increase(${TRAINER_METRICS.runs}[1h]))`, legend: '{{result}}' }],
    },
    {
      title: 'Training duration p95',
      queries: [{ expr: quantile(0.95, TRAINER_METRICS.duration), legend: 'p95' }],
      unit: 's',
    },
    {
      title: 'Time since last successful training',
      kind: 'stat',
      queries: [{ expr: `time() - max(${TRAINER_METRICS.lastSuccess})` }],
      unit: 's',
    },
    {
      title: 'Examples by split',
      main: true,
      queries: [{ expr: `max by (split) (${TRAINER_METRICS.examples})`, legend: '{{split}}' }],
    },
    {
      title: 'Training backend',
      kind: 'stat',
      queries: [{ expr: `max by (backend) (${TRAINER_METRICS.backend})`, legend: '{{backend}}' }],
    },
  ],
};

export const DASHBOARDS: DashboardSpec[] = [PIPELINE_DASHBOARD, SCORING_DASHBOARD, MODEL_DASHBOARD];

/** Grafana dashboard JSON (schema 39) for a spec: a two-column grid, Prometheus datasource by uid. */
export function toGrafana(spec: DashboardSpec): Record<string, unknown> {
  return {
    uid: spec.uid,
    title: spec.title,
    tags: ['intentstream'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    panels: spec.panels.map((p, i) => ({
      id: i + 1,
      type: p.kind ?? 'timeseries',
      title: p.title,
      datasource: { type: 'prometheus', uid: 'prometheus' },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
      targets: p.queries.map((q, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: { type: 'prometheus', uid: 'prometheus' },
        expr: q.expr,
        ...(q.legend ? { legendFormat: q.legend } : {}),
      })),
    })),
  };
}

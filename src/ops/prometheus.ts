/**
 * Running Prometheus beside the services without Docker: `config/prometheus.yml` with its scrape
 * targets pointed at this machine's ports (the file's own targets are the compose service names),
 * and ready-made graph links for the figures a first look needs.
 */
import { isAbsolute, join } from 'node:path';
import YAML from 'yaml';
import { INGEST_METRICS } from '../metrics/ingest-metrics.js';
import { SCORER_METRICS } from '../metrics/scorer-metrics.js';

export type ScrapedProcess = 'ingest' | 'scorer' | 'trainer';

/** Which process serves each job of config/prometheus.yml. */
export const JOB_PROCESS: Readonly<Record<string, ScrapedProcess>> = {
  'intentstream-ingest': 'ingest',
  'intentstream-scorer': 'scorer',
  'intentstream-trainer': 'trainer',
};

export interface LocalPrometheusOptions {
  /** The text of config/prometheus.yml. */
  template: string;
  /** Where the template lives: relative rule files are resolved against it. */
  configDir: string;
  /** host:port of each process's /metrics. */
  targets: Record<ScrapedProcess, string>;
  /** Overrides the scrape and rule evaluation interval (e.g. `1s` in tests). */
  scrapeInterval?: string;
}

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
}

/** The template with only the scrape targets (and optionally the intervals) changed; rule files made absolute. */
export function localPrometheusConfig(options: LocalPrometheusOptions): string {
  const config = YAML.parse(options.template) as {
    global?: Record<string, unknown>;
    rule_files?: string[];
    scrape_configs?: ScrapeConfig[];
  };
  if (options.scrapeInterval !== undefined) {
    config.global = {
      ...config.global,
      scrape_interval: options.scrapeInterval,
      evaluation_interval: options.scrapeInterval,
    };
  }
  config.rule_files = (config.rule_files ?? []).map((f) => (isAbsolute(f) ? f : join(options.configDir, f)));
  const jobs = (config.scrape_configs ?? []).map((j) => j.job_name).sort();
  const expected = Object.keys(JOB_PROCESS).sort();
  if (jobs.join() !== expected.join()) {
    throw new Error(
      `prometheus.yml must scrape exactly the jobs ${expected.join(', ')} (found: ${jobs.join(', ') || 'none'}); ` +
        'keep the job names when editing config/prometheus.yml',
    );
  }
  for (const job of config.scrape_configs!) {
    const target = options.targets[JOB_PROCESS[job.job_name]!];
    for (const sc of job.static_configs) sc.targets = [target];
  }
  return YAML.stringify(config);
}

export interface GraphLink {
  name: string;
  expr: string;
  url: string;
}

/** PromQL for the first look: throughput in and out, the scorer's p99 latency, consumer lag. */
export const FIRST_LOOK_QUERIES: readonly { name: string; expr: string }[] = [
  { name: 'events/s ingested', expr: `sum(rate(${INGEST_METRICS.events}[1m]))` },
  { name: 'predictions/s', expr: `sum(rate(${SCORER_METRICS.predictions}[1m]))` },
  {
    name: 'scorer p99 processing latency (s)',
    expr: `histogram_quantile(0.99, sum by (le) (rate(${SCORER_METRICS.processing}_bucket[1m])))`,
  },
  {
    name: 'consumer lag (messages)',
    expr: `sum(${INGEST_METRICS.consumerLag}) + sum(${SCORER_METRICS.consumerLag})`,
  },
];

/** Links to Prometheus's graph page, one query each, over the last 15 minutes. */
export function graphLinks(prometheusUrl: string): GraphLink[] {
  const base = prometheusUrl.replace(/\/+$/, '');
  return FIRST_LOOK_QUERIES.map(({ name, expr }) => ({
    name,
    expr,
    url: `${base}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=15m`,
  }));
}

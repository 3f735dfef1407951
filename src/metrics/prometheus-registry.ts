import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'intentstream_';

/** A fresh registry per process (never the global one) with process default metrics under our prefix. */
export function createMetricsRegistry(process: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

import type { Logger } from '../log/logger.js';
import type { TrainerMetrics } from '../metrics/trainer-metrics.js';
import type { RegistryView } from '../registry/index.js';
import type { TimelineStore } from '../store/index.js';

/** What the registry says about the serving model: version, when it was trained, its test ROC-AUC. */
export interface ChampionInfo {
  version: string;
  createdAt?: number;
  testAuc?: number;
}

/** The CURRENT model's manifest.json createdAt and metrics.json test ROC-AUC (undefined: no champion). */
export async function championInfo(registry: RegistryView): Promise<ChampionInfo | undefined> {
  const version = await registry.current();
  if (!version) return undefined;
  const { manifest, metrics } = await registry.describe(version);
  const createdAt = Date.parse(String(manifest?.createdAt));
  const testAuc = (metrics?.splits as { test?: { rocAuc?: unknown } } | undefined)?.test?.rocAuc;
  return {
    version,
    ...(Number.isFinite(createdAt) ? { createdAt } : {}),
    ...(typeof testAuc === 'number' ? { testAuc } : {}),
  };
}

/** Sets the champion gauges (age alert, model dashboard, demo summary) from the registry. */
export async function reportChampion(
  registry: RegistryView,
  metrics: TrainerMetrics,
  logger: Logger,
): Promise<void> {
  try {
    const info = await championInfo(registry);
    if (info?.createdAt !== undefined) metrics.championCreated.set(info.createdAt / 1000);
    if (info?.testAuc !== undefined) metrics.championAuc.set(info.testAuc);
  } catch (error) {
    logger.warn('could not read the current model from the registry', { root: registry.root, error });
  }
}

/** True once the store holds at least `n` sessions (stops reading at the n-th). */
export async function storeHoldsAtLeast(store: TimelineStore, n: number): Promise<boolean> {
  let count = 0;
  for await (const _ of store.read()) if (++count >= n) return true;
  return n <= 0;
}

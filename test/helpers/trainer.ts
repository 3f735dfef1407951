import { loadConfig } from '../../src/config/index.js';
import type { TrainerConfig } from '../../src/config/schema.js';

/** The default trainer config, shrunk for fast tests; `patch` is merged one level deep. */
export function tinyTrainerConfig(
  patch: { [K in keyof TrainerConfig]?: Partial<TrainerConfig[K]> } = {},
): TrainerConfig {
  const base = loadConfig({ env: {} }).trainer;
  const merged = {
    ...base,
    seed: 7,
    features: { ...base.features, maxSteps: 10, itemBuckets: 32, categoryBuckets: 8, minCount: 1 },
    model: {
      ...base.model,
      lstmUnits: [8],
      dropout: 0.2,
      embeddingDims: { eventType: 3, item: 2, category: 2, device: 2, referrer: 2 },
    },
    training: { ...base.training, epochs: 2, batchSize: 64, patience: 5 },
  } as TrainerConfig;
  for (const [key, value] of Object.entries(patch)) {
    const k = key as keyof TrainerConfig;
    const current = merged[k];
    (merged as Record<string, unknown>)[k] =
      typeof current === 'object' && current !== null && !Array.isArray(current)
        ? { ...current, ...(value as object) }
        : value;
  }
  return merged;
}

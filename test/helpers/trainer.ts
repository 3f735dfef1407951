import { loadConfig } from '../../src/config/index.js';
import type { TrainerConfig } from '../../src/config/schema.js';
import { buildDataset } from '../../src/dataset/index.js';
import { FeatureEncoder } from '../../src/features/index.js';
import { encodeSplit } from '../../src/model/batches.js';
import { generatedSessions } from './sessions.js';

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

/**
 * A tiny generated dataset, its fitted encoder and the encoded train and validation splits (the
 * validation split as full sessions, as the trainer scores it).
 */
export function tinyTrainingData(config: TrainerConfig = tinyTrainerConfig(), cookies = 60) {
  const { sessions } = generatedSessions({ seed: 3, cookies, durationMs: 86_400_000, botCookies: 0 });
  const dataset = buildDataset(sessions, {
    labels: config.labels,
    prefixesPerSession: 1,
    split: config.dataset.split,
    cookieSplit: 'mixed',
    seed: config.seed,
  });
  const encoder = FeatureEncoder.fit(
    dataset.train.sessions.map((s) => s.events),
    { ...config.features, hashSeed: config.seed },
  );
  const validationSessions = dataset.validation.sessions;
  return {
    dataset,
    encoder,
    train: encodeSplit(encoder, dataset.train),
    validation: encodeSplit(encoder, {
      sessions: validationSessions,
      examples: validationSessions.map((s, session) => ({ session, length: s.events.length, full: true })),
    }),
  };
}

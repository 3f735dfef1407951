import type { Config } from '../config/index.js';
import { createStorageFromConfig } from '../storage/index.js';
import { createLocalModelStore } from './model-dir.js';
import { createObjectModelStore } from './model-store-objects.js';
import type { ModelStore } from './model-store.js';
import { type RegistryView, createRegistryView } from './registry.js';

/**
 * Where the registered models are as the config says: the models directory `root` (trainer.modelsDir,
 * or scorer.modelDir for a scorer), or the `models/` prefix of the bucket with versions fetched into
 * storage.s3.cacheDir.
 */
export function createModelStoreFromConfig(config: Readonly<Config>, root: string): ModelStore {
  if (config.storage.backend === 'local') return createLocalModelStore(root);
  return createObjectModelStore(createStorageFromConfig(config, 'models'), config.storage.s3.cacheDir);
}

/** The read-only registry a scorer serves from, where the config says (scorer.modelDir locally). */
export function createRegistryViewFromConfig(config: Readonly<Config>): RegistryView {
  const root = config.scorer.modelDir;
  return createRegistryView(root, createModelStoreFromConfig(config, root));
}

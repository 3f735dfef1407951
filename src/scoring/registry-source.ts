import { type RegistryView, createRegistryView, isModelVersion } from '../registry/index.js';
import type { ModelSource, StepModel } from './model.js';

/** Builds the step model held in one registry version directory. */
export type ModelFactory = (versionDir: string) => Promise<StepModel>;

/**
 * A ModelSource over the model registry, read only: `current()` is the registry's CURRENT
 * (undefined while it is absent or empty; on object storage a conditional GET by ETag); `load(version)`
 * hands that version's local directory (on object storage fetched into the cache first) to `factory`,
 * which throws for a missing, corrupt or incompatible model.
 */
export function createRegistryModelSource(
  registry: string | RegistryView,
  factory: ModelFactory,
): ModelSource {
  const view = typeof registry === 'string' ? createRegistryView(registry) : registry;
  return {
    current: () => view.current(),
    async load(version) {
      if (!isModelVersion(version))
        throw new Error(`CURRENT names an invalid model version ${JSON.stringify(version)}`);
      const model = await factory(await view.localDirOf(version));
      if (model.version !== version) {
        model.dispose();
        throw new Error(`model directory ${version} built a model that calls itself ${model.version}`);
      }
      return model;
    },
  };
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSource, StepModel } from './model.js';

/** Builds the step model held in one registry version directory. */
export type ModelFactory = (versionDir: string) => Promise<StepModel>;

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * A ModelSource over a model registry directory (the layout of src/registry: `<dir>/<version>/`,
 * `<dir>/CURRENT` holding the champion's name, replaced atomically by rename). `current()` reads
 * CURRENT (undefined while it is absent or empty); `load(version)` hands `<dir>/<version>` to
 * `factory`, which throws for a missing, corrupt or incompatible model.
 */
export function createRegistryModelSource(dir: string, factory: ModelFactory): ModelSource {
  return {
    async current() {
      try {
        const text = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim();
        return text.length > 0 ? text : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async load(version) {
      if (!VERSION.test(version))
        throw new Error(`CURRENT names an invalid model version ${JSON.stringify(version)}`);
      const model = await factory(join(dir, version));
      if (model.version !== version) {
        model.dispose();
        throw new Error(`model directory ${version} built a model that calls itself ${model.version}`);
      }
      return model;
    },
  };
}

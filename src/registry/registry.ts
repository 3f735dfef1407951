import { appendFile, mkdir, readFile, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IntentstreamError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** Files every registered model directory must hold (written by the trainer). */
export const MODEL_FILES = {
  model: 'model.json',
  encoder: 'encoder.json',
  metrics: 'metrics.json',
  card: 'model-card.md',
};
const CURRENT = 'CURRENT';
const HISTORY = 'HISTORY.jsonl';
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface HistoryEntry {
  at: string;
  action: 'promote' | 'rollback';
  version: string;
  previous: string | null;
  reason: string;
}

export interface ModelEntry {
  version: string;
  dir: string;
  createdAt: string;
  current: boolean;
  /** metrics.json as written by the trainer (shape owned by the trainer). */
  metrics: Record<string, unknown> | undefined;
}

export class RegistryError extends IntentstreamError {
  override name = 'RegistryError';
}

/**
 * The model registry: `<root>/<version>/` per model, `<root>/CURRENT` naming
 * the champion (replaced atomically: temp file + fsync + rename, so a reader
 * never sees a partial name), and `<root>/HISTORY.jsonl` recording every
 * switch so rollback can restore the previous champion.
 */
export interface RegistryOptions {
  /**
   * Checks a model directory before CURRENT may name it (promote, rollback); throws to refuse.
   * The CLI and the trainer pass verifyModelDir (src/model/verify.ts).
   */
  verify?: (dir: string) => Promise<void>;
}

export function createModelRegistry(root: string, options: RegistryOptions = {}) {
  const dirOf = (version: string) => {
    if (!VERSION.test(version)) throw new RegistryError(`invalid model version ${JSON.stringify(version)}`);
    return join(root, version);
  };

  async function current(): Promise<string | undefined> {
    try {
      const text = (await readFile(join(root, CURRENT), 'utf8')).trim();
      return text.length > 0 ? text : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async function history(): Promise<HistoryEntry[]> {
    try {
      return (await readFile(join(root, HISTORY), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          // A process killed mid-append leaves a torn line; it never became a switch of CURRENT.
          try {
            return [JSON.parse(l) as HistoryEntry];
          } catch {
            return [];
          }
        });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** True when HISTORY.jsonl does not end in a newline (an append was cut short). */
  async function endsTorn(): Promise<boolean> {
    try {
      const text = await readFile(join(root, HISTORY), 'utf8');
      return text.length > 0 && !text.endsWith('\n');
    } catch {
      return false;
    }
  }

  async function assertComplete(version: string): Promise<void> {
    for (const file of [MODEL_FILES.model, MODEL_FILES.encoder, MODEL_FILES.metrics]) {
      try {
        await stat(join(dirOf(version), file));
      } catch {
        throw new RegistryError(`model ${version} is incomplete: ${file} is missing in ${dirOf(version)}`);
      }
    }
  }

  async function switchTo(
    version: string,
    action: HistoryEntry['action'],
    reason: string,
  ): Promise<HistoryEntry> {
    await assertComplete(version);
    if (options.verify) {
      try {
        await options.verify(dirOf(version));
      } catch (error) {
        throw new RegistryError(`refused to ${action} ${version}: ${(error as Error).message}`);
      }
    }
    const previous = (await current()) ?? null;
    await writeFileAtomic(join(root, CURRENT), Buffer.from(`${version}\n`));
    const entry: HistoryEntry = { at: new Date().toISOString(), action, version, previous, reason };
    await appendFile(join(root, HISTORY), `${(await endsTorn()) ? '\n' : ''}${JSON.stringify(entry)}\n`);
    return entry;
  }

  return {
    root,
    dirOf,
    current,
    history,
    /** Moves a finished candidate directory into the registry (same file system: one rename). */
    async register(candidateDir: string, version: string): Promise<string> {
      const target = dirOf(version);
      await mkdir(root, { recursive: true });
      await rename(candidateDir, target);
      await assertComplete(version);
      return target;
    },
    async list(): Promise<ModelEntry[]> {
      const champion = await current();
      let names: string[] = [];
      try {
        names = await readdir(root);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      const entries: ModelEntry[] = [];
      for (const name of names.sort()) {
        if (!VERSION.test(name) || name === CURRENT || name === HISTORY) continue;
        const dir = join(root, name);
        const info = await stat(dir);
        if (!info.isDirectory()) continue;
        const hasModel = await stat(join(dir, MODEL_FILES.model)).then(
          () => true,
          () => false,
        );
        if (!hasModel) continue; // e.g. candidates/, a half-moved directory
        const metrics = await readFile(join(dir, MODEL_FILES.metrics), 'utf8')
          .then((t) => JSON.parse(t) as Record<string, unknown>)
          .catch(() => undefined);
        entries.push({
          version: name,
          dir,
          createdAt: info.birthtime.toISOString(),
          current: name === champion,
          metrics,
        });
      }
      return entries;
    },
    promote(version: string, reason = 'manual'): Promise<HistoryEntry> {
      return switchTo(version, 'promote', reason);
    },
    /** Restores the champion that preceded the current one. */
    async rollback(reason = 'manual rollback'): Promise<HistoryEntry> {
      const champion = await current();
      if (!champion) throw new RegistryError('nothing to roll back: no CURRENT model');
      const promotions = (await history()).filter((h) => h.version === champion);
      const previous = promotions.at(-1)?.previous;
      if (!previous)
        throw new RegistryError(`nothing to roll back to: ${champion} has no recorded predecessor`);
      return switchTo(previous, 'rollback', reason);
    },
  };
}
export type ModelRegistry = ReturnType<typeof createModelRegistry>;

export interface PromotionDecision {
  promote: boolean;
  reason: string;
}

/**
 * A candidate replaces the champion only if it beats it on the SAME test
 * window by at least `margin` (ROC-AUC); with no champion it is promoted.
 */
export function decidePromotion(
  candidateAuc: number,
  championAuc: number | undefined,
  margin: number,
): PromotionDecision {
  if (!Number.isFinite(candidateAuc))
    return { promote: false, reason: `candidate AUC is not a number (${candidateAuc})` };
  if (championAuc === undefined) return { promote: true, reason: 'no champion yet' };
  const gain = candidateAuc - championAuc;
  return gain >= margin
    ? {
        promote: true,
        reason: `candidate AUC ${candidateAuc.toFixed(4)} beats champion ${championAuc.toFixed(4)} by ${gain.toFixed(4)} >= margin ${margin}`,
      }
    : {
        promote: false,
        reason: `candidate AUC ${candidateAuc.toFixed(4)} vs champion ${championAuc.toFixed(4)}: gain ${gain.toFixed(4)} < margin ${margin}`,
      };
}

import { mkdir, rename } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { IntentstreamError } from '../errors.js';
import {
  type HistoryEntry,
  MODEL_FILES,
  type ModelDirEntry,
  appendHistory,
  candidatePath,
  candidatesPath,
  exists,
  isModelVersion,
  listModelDirs,
  missingFiles,
  readCurrent,
  readHistory,
  readModelJson,
  versionPath,
  writeCurrent,
  writeModelJson,
} from './model-dir.js';

export { type HistoryEntry, MODEL_FILES } from './model-dir.js';

export interface ModelEntry extends ModelDirEntry {
  current: boolean;
  /** metrics.json as written by the trainer (shape owned by the trainer). */
  metrics: Record<string, unknown> | undefined;
}

export class RegistryError extends IntentstreamError {
  override name = 'RegistryError';
}

/**
 * What readers of the registry get (the scorer, `models list`, the trainer's champion gauges): the
 * versions, CURRENT and its history, never a way to change them.
 */
export interface RegistryView {
  readonly root: string;
  /** Where a version's files are; throws RegistryError for a name that is not a version. */
  dirOf(version: string): string;
  current(): Promise<string | undefined>;
  history(): Promise<HistoryEntry[]>;
  /** Registered models, by version. */
  list(): Promise<ModelEntry[]>;
  /** Candidates a training run wrote and nobody registered yet, by version. */
  listCandidates(): Promise<ModelEntry[]>;
  /** Where `intentstream train` puts the candidate `version`. */
  candidateDirOf(version: string): string;
  /** The manifest.json and metrics.json of a version (undefined where missing or unreadable). */
  describe(
    version: string,
  ): Promise<{ manifest?: Record<string, unknown>; metrics?: Record<string, unknown> }>;
}

export function createRegistryView(root: string): RegistryView {
  const dirOf = (version: string) => {
    if (!isModelVersion(version))
      throw new RegistryError(
        `invalid model version ${JSON.stringify(version)}: a version is letters, digits, '.', '_' and '-'; \`intentstream models list\` shows the versions in ${root}`,
      );
    return versionPath(root, version);
  };
  const withMetrics = async (entries: ModelDirEntry[], champion: string | undefined) =>
    Promise.all(
      entries.map(async (e) => ({
        ...e,
        current: e.version === champion,
        metrics: await readModelJson(e.dir, MODEL_FILES.metrics),
      })),
    );
  return {
    root,
    dirOf,
    current: () => readCurrent(root),
    history: () => readHistory(root),
    async list() {
      return withMetrics(await listModelDirs(root), await readCurrent(root));
    },
    async listCandidates() {
      return withMetrics(await listModelDirs(candidatesPath(root)), undefined);
    },
    candidateDirOf(version) {
      dirOf(version);
      return candidatePath(root, version);
    },
    async describe(version) {
      const dir = dirOf(version);
      const [manifest, metrics] = await Promise.all([
        readModelJson(dir, MODEL_FILES.manifest),
        readModelJson(dir, MODEL_FILES.metrics),
      ]);
      return { ...(manifest ? { manifest } : {}), ...(metrics ? { metrics } : {}) };
    },
  };
}

/**
 * The model registry: `<root>/<version>/` per model, `<root>/CURRENT` naming the champion, and
 * `<root>/HISTORY.jsonl` recording every switch so rollback can restore the previous champion
 * (layout: model-dir.ts).
 */
export interface RegistryOptions {
  /**
   * Checks a model directory before CURRENT may name it (promote, rollback); throws to refuse.
   * The CLI and the trainer pass verifyModelDir (verify.ts).
   */
  verify?: (dir: string) => Promise<void>;
}

export function createModelRegistry(root: string, options: RegistryOptions = {}) {
  const view = createRegistryView(root);
  const { dirOf, current, history } = view;

  /** Throws, naming where the model is and the command that fixes it, unless `version` is registered and whole. */
  async function assertComplete(version: string): Promise<void> {
    const dir = dirOf(version);
    if (!(await exists(dir))) {
      const candidate = candidatePath(root, version);
      throw new RegistryError(
        (await exists(candidate))
          ? `model ${version} is not registered: it is a candidate in ${candidate}; register it with \`intentstream models register ${version}\``
          : `no model ${version} in ${root}: \`intentstream models list\` shows the registered versions and the candidates`,
      );
    }
    const [file] = await missingFiles(dir);
    if (file !== undefined)
      throw new RegistryError(
        `model ${version} is incomplete: ${file} is missing in ${dir}; remove that directory and register a complete candidate (\`intentstream train\`, then \`intentstream models register <version>\`)`,
      );
  }

  /** A candidate directory, or a candidate's version under `<root>/candidates/`, and the version it registers as. */
  async function resolveCandidate(candidate: string): Promise<{ dir: string; version: string }> {
    const asPath = resolve(candidate);
    if (await exists(asPath)) {
      const named = (await readModelJson(asPath, MODEL_FILES.manifest))?.version;
      return { dir: asPath, version: typeof named === 'string' ? named : basename(asPath) };
    }
    if (isModelVersion(candidate) && (await exists(candidatePath(root, candidate))))
      return { dir: candidatePath(root, candidate), version: candidate };
    throw new RegistryError(
      `no candidate ${candidate}: neither a directory nor a version in ${candidatesPath(root)}; \`intentstream train\` writes one and \`intentstream models list\` shows the candidates`,
    );
  }

  /** Moves a finished candidate directory into the registry (same file system: one rename). */
  async function register(candidateDir: string, version: string): Promise<string> {
    const target = dirOf(version);
    const [file] = await missingFiles(candidateDir);
    if (file !== undefined)
      throw new RegistryError(
        `${candidateDir} is not a complete model: ${file} is missing; train a new candidate with \`intentstream train\``,
      );
    if (await exists(target))
      throw new RegistryError(
        `model ${version} is already registered in ${target}; make it serve with \`intentstream models promote ${version}\``,
      );
    await mkdir(root, { recursive: true });
    try {
      await rename(candidateDir, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      throw new RegistryError(
        `${candidateDir} is on another file system than the registry ${root}; move it under ${candidatesPath(root)} and run \`intentstream models register ${version}\``,
      );
    }
    await assertComplete(version);
    return target;
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
        throw new RegistryError(
          `refused to ${action} ${version}: ${(error as Error).message}; pick another version (\`intentstream models list\`) or train a new candidate (\`intentstream train\`)`,
        );
      }
    }
    const previous = (await current()) ?? null;
    await writeCurrent(root, version);
    const entry: HistoryEntry = { at: new Date().toISOString(), action, version, previous, reason };
    await appendHistory(root, entry);
    return entry;
  }

  return {
    ...view,
    register,
    /**
     * Registers a candidate named by its directory or by its version under `<root>/candidates/` (what
     * `intentstream train` prints); the version is the one its manifest names.
     */
    async registerCandidate(candidate: string): Promise<{ version: string; dir: string }> {
      const { dir, version } = await resolveCandidate(candidate);
      return { version, dir: await register(dir, version) };
    },
    /** Records the trainer's promotion decision next to the registered model. */
    async recordDecision(version: string, decision: unknown): Promise<void> {
      await writeModelJson(dirOf(version), MODEL_FILES.decision, decision);
    },
    promote(version: string, reason = 'manual'): Promise<HistoryEntry> {
      return switchTo(version, 'promote', reason);
    },
    /** Restores the champion that preceded the current one. */
    async rollback(reason = 'manual rollback'): Promise<HistoryEntry> {
      const champion = await current();
      if (!champion)
        throw new RegistryError(
          `nothing to roll back: no CURRENT model in ${root}; make one serve with \`intentstream models promote <version>\``,
        );
      const promotions = (await history()).filter((h) => h.version === champion);
      const previous = promotions.at(-1)?.previous;
      if (!previous)
        throw new RegistryError(
          `nothing to roll back to: ${champion} has no recorded predecessor in the history of ${root}; pick a version with \`intentstream models promote <version>\``,
        );
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

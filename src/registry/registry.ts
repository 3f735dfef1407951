import { basename, resolve } from 'node:path';
import { IntentstreamError } from '../errors.js';
import { PreconditionFailedError } from '../storage/index.js';
import {
  CrossDeviceError,
  type HistoryEntry,
  MODEL_FILES,
  type ModelDirEntry,
  candidatePath,
  candidatesPath,
  createLocalModelStore,
  exists,
  isModelVersion,
  listModelDirs,
  missingFiles,
  readModelJson,
} from './model-dir.js';
import type { CurrentRead, ModelStore } from './model-store.js';

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
  /** The local models directory (candidates; the registered models too unless they are on object storage). */
  readonly root: string;
  /** Where the registered models are, for messages: `root` or `s3://bucket/prefix`. */
  readonly location: string;
  /** Where a version's files are (for messages); throws RegistryError for a name that is not a version. */
  dirOf(version: string): string;
  /** A local directory holding the version's files (fetched first when they are on object storage). */
  localDirOf(version: string): Promise<string>;
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

/** `store` holds the registered models (default: the directory `root` itself). */
export function createRegistryView(
  root: string,
  store: ModelStore = createLocalModelStore(root),
): RegistryView {
  const checked = (version: string) => {
    if (!isModelVersion(version))
      throw new RegistryError(
        `invalid model version ${JSON.stringify(version)}: a version is letters, digits, '.', '_' and '-'; \`intentstream models list\` shows the versions in ${store.location}`,
      );
    return version;
  };
  const withMetrics = async (
    entries: ModelDirEntry[],
    champion: string | undefined,
    metricsOf: (e: ModelDirEntry) => Promise<Record<string, unknown> | undefined>,
  ) =>
    Promise.all(
      entries.map(async (e) => ({ ...e, current: e.version === champion, metrics: await metricsOf(e) })),
    );
  const current = async () => (await store.readCurrent()).version;
  return {
    history: async () => withUnrecordedSwitches(await store.readHistory(), await store.readCurrent()),
    root,
    location: store.location,
    dirOf: (version) => store.locate(checked(version)),
    localDirOf: (version) => store.localDir(checked(version)),
    current,
    async list() {
      return withMetrics(await store.list(), await current(), (e) =>
        store.readJson(e.version, MODEL_FILES.metrics),
      );
    },
    async listCandidates() {
      return withMetrics(await listModelDirs(candidatesPath(root)), undefined, (e) =>
        readModelJson(e.dir, MODEL_FILES.metrics),
      );
    },
    candidateDirOf(version) {
      return candidatePath(root, checked(version));
    },
    async describe(version) {
      checked(version);
      const [manifest, metrics] = await Promise.all([
        store.readJson(version, MODEL_FILES.manifest),
        store.readJson(version, MODEL_FILES.metrics),
      ]);
      return { ...(manifest ? { manifest } : {}), ...(metrics ? { metrics } : {}) };
    },
  };
}

/**
 * The history as one unbroken chain of switches ending at CURRENT. A process killed between switching
 * CURRENT and appending its entry leaves that switch unrecorded: CURRENT (or the `previous` of the next
 * entry) then names a version the entry before does not. Each such gap is filled, on reading only (two
 * machines repairing one gap would record it twice), with an entry from the version recorded before it.
 */
function withUnrecordedSwitches(recorded: HistoryEntry[], read: CurrentRead): HistoryEntry[] {
  const chain: HistoryEntry[] = [];
  const unrecorded = (version: string, at: string): HistoryEntry => ({
    at,
    action: 'promote',
    version,
    previous: chain.at(-1)?.version ?? null,
    reason: 'unrecorded: CURRENT was switched by a process that stopped before recording it',
  });
  for (const entry of recorded) {
    if (entry.previous !== null && entry.previous !== (chain.at(-1)?.version ?? null))
      chain.push(unrecorded(entry.previous, entry.at));
    chain.push(entry);
  }
  if (read.version !== undefined && read.version !== chain.at(-1)?.version)
    chain.push(unrecorded(read.version, new Date().toISOString()));
  return chain;
}

/**
 * The model registry: a directory per model, CURRENT naming the champion, and a history recording every
 * switch so rollback can restore the previous champion (layout: model-dir.ts locally,
 * model-store-objects.ts on object storage). Candidates are always in `<root>/candidates/`.
 */
export interface RegistryOptions {
  /**
   * Checks a model directory before CURRENT may name it (promote, rollback); throws to refuse.
   * The CLI and the trainer pass verifyModelDir (verify.ts).
   */
  verify?: (dir: string) => Promise<void>;
  /** Where the registered models are (default: the directory `root`). */
  store?: ModelStore;
}

export function createModelRegistry(root: string, options: RegistryOptions = {}) {
  const store = options.store ?? createLocalModelStore(root);
  const view = createRegistryView(root, store);
  const { dirOf, current, history } = view;

  /** Throws, naming where the model is and the command that fixes it, unless `version` is registered and whole. */
  async function assertComplete(version: string): Promise<void> {
    const dir = dirOf(version);
    if (!(await store.has(version))) {
      const candidate = candidatePath(root, version);
      throw new RegistryError(
        (await exists(candidate))
          ? `model ${version} is not registered: it is a candidate in ${candidate}; register it with \`intentstream models register ${version}\``
          : `no model ${version} in ${store.location}: \`intentstream models list\` shows the registered versions and the candidates`,
      );
    }
    const [file] = await store.missingFiles(version);
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

  /** Moves a finished candidate directory into the registry (locally one rename; on object storage an upload). */
  async function register(candidateDir: string, version: string): Promise<string> {
    const target = dirOf(version);
    const [file] = await missingFiles(candidateDir);
    if (file !== undefined)
      throw new RegistryError(
        `${candidateDir} is not a complete model: ${file} is missing; train a new candidate with \`intentstream train\``,
      );
    if (await store.has(version))
      throw new RegistryError(
        `model ${version} is already registered in ${target}; make it serve with \`intentstream models promote ${version}\``,
      );
    try {
      await store.add(candidateDir, version);
    } catch (error) {
      if (!(error instanceof CrossDeviceError)) throw error;
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
        await options.verify(await store.localDir(version));
      } catch (error) {
        throw new RegistryError(
          `refused to ${action} ${version}: ${(error as Error).message}; pick another version (\`intentstream models list\`) or train a new candidate (\`intentstream train\`)`,
        );
      }
    }
    const read = await store.readCurrent();
    const previous = read.version ?? null;
    try {
      await store.writeCurrent(version, read);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      throw new RegistryError(
        `refused to ${action} ${version}: CURRENT in ${store.location} changed while this ${action} ran (another trainer or operator switched it); \`intentstream models list\` shows what serves now`,
        { cause: error, retriable: true },
      );
    }
    const entry: HistoryEntry = { at: new Date().toISOString(), action, version, previous, reason };
    await store.appendHistory(entry);
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
      dirOf(version);
      await store.writeJson(version, MODEL_FILES.decision, decision);
    },
    promote(version: string, reason = 'manual'): Promise<HistoryEntry> {
      return switchTo(version, 'promote', reason);
    },
    /** Restores the champion that preceded the current one. */
    async rollback(reason = 'manual rollback'): Promise<HistoryEntry> {
      const champion = await current();
      if (!champion)
        throw new RegistryError(
          `nothing to roll back: no CURRENT model in ${store.location}; make one serve with \`intentstream models promote <version>\``,
        );
      const promotions = (await history()).filter((h) => h.version === champion);
      const previous = promotions.at(-1)?.previous;
      if (!previous)
        throw new RegistryError(
          `nothing to roll back to: ${champion} has no recorded predecessor in the history of ${store.location}; pick a version with \`intentstream models promote <version>\``,
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

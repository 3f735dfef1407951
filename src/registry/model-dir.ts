/**
 * The models directory: the one module that knows its layout. Everything else asks the registry
 * (registry.ts) or reads a model through model-files.ts, so the layout can later move to object
 * storage behind these functions.
 *
 *   <root>/CURRENT                 the serving version's name (replaced atomically)
 *   <root>/HISTORY.jsonl           one line per switch of CURRENT, so rollback knows the previous one
 *   <root>/<version>/              a registered model (MODEL_FILES)
 *   <root>/candidates/<version>/   what a training run wrote, before it is registered
 *   <root>/.train.lock             held by the process that trains into this root
 */
import { appendFile, mkdir, readFile, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IntentstreamError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { ModelStore } from './model-store.js';

/** Files of one model directory (what the trainer writes; the registry checks the required ones). */
export const MODEL_FILES = {
  /** tfjs topology + weights manifest (model-files.ts). */
  model: 'model.json',
  weights: 'weights.bin',
  /** The fitted feature encoder: a model is useless without the exact encoding it was trained on. */
  encoder: 'encoder.json',
  /** The EvaluationReport. */
  metrics: 'metrics.json',
  /** Version, data range, dataset counts, parameters (the label target), training summary. */
  manifest: 'manifest.json',
  card: 'model-card.md',
  /** Written last: the SHA-256 of every other file (verify.ts). */
  checksums: 'checksums.json',
  /** The trainer's promotion decision, added when a run registers its candidate. */
  decision: 'decision.json',
} as const;

/** What a directory must hold before the registry accepts it or CURRENT may name it. */
export const REQUIRED_FILES = [MODEL_FILES.model, MODEL_FILES.encoder, MODEL_FILES.metrics] as const;

const CURRENT = 'CURRENT';
const HISTORY = 'HISTORY.jsonl';
const CANDIDATES = 'candidates';
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A name the registry accepts as a version (also a safe directory name). */
export function isModelVersion(name: string): boolean {
  return VERSION.test(name);
}

/** `<root>/<version>`; the caller checks the name with isModelVersion. */
export function versionPath(root: string, version: string): string {
  return join(root, version);
}

/** `<root>/candidates/<version>`: where a training run writes before registration. */
export function candidatePath(root: string, version: string): string {
  return join(root, CANDIDATES, version);
}

/** The lock file that keeps two trainers from training into one root at once. */
export function trainLockPath(root: string): string {
  return join(root, '.train.lock');
}

export interface HistoryEntry {
  at: string;
  action: 'promote' | 'rollback';
  version: string;
  previous: string | null;
  reason: string;
}

const orUndefinedIfMissing = <T>(error: unknown, missing: T): T => {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missing;
  throw error;
};

/** The version CURRENT names; undefined while it is absent or empty. */
export async function readCurrent(root: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(root, CURRENT), 'utf8')).trim();
    return text.length > 0 ? text : undefined;
  } catch (error) {
    return orUndefinedIfMissing(error, undefined);
  }
}

/** Replaces CURRENT atomically (temp file + fsync + rename), so a reader never sees a partial name. */
export async function writeCurrent(root: string, version: string): Promise<void> {
  await writeFileAtomic(join(root, CURRENT), Buffer.from(`${version}\n`));
}

export async function readHistory(root: string): Promise<HistoryEntry[]> {
  let text: string;
  try {
    text = await readFile(join(root, HISTORY), 'utf8');
  } catch (error) {
    return orUndefinedIfMissing(error, []);
  }
  return text
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
}

export async function appendHistory(root: string, entry: HistoryEntry): Promise<void> {
  // A torn last line (an append cut short) must not swallow this entry.
  const torn = await readFile(join(root, HISTORY), 'utf8').then(
    (text) => text.length > 0 && !text.endsWith('\n'),
    () => false,
  );
  await appendFile(join(root, HISTORY), `${torn ? '\n' : ''}${JSON.stringify(entry)}\n`);
}

/** The files of REQUIRED_FILES that `dir` lacks. */
export async function missingFiles(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (const file of REQUIRED_FILES) {
    if (!(await exists(join(dir, file)))) missing.push(file);
  }
  return missing;
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A JSON file of a model directory (manifest, metrics); undefined when it is missing or unreadable. */
export async function readModelJson(
  dir: string,
  file: (typeof MODEL_FILES)[keyof typeof MODEL_FILES],
): Promise<Record<string, unknown> | undefined> {
  return readFile(join(dir, file), 'utf8')
    .then((t) => JSON.parse(t) as Record<string, unknown>)
    .catch(() => undefined);
}

/** A model directory's JSON file as text; throws (ENOENT and all) for the caller to explain. */
export async function readModelText(
  dir: string,
  file: (typeof MODEL_FILES)[keyof typeof MODEL_FILES],
): Promise<string> {
  return readFile(join(dir, file), 'utf8');
}

export async function writeModelJson(
  dir: string,
  file: (typeof MODEL_FILES)[keyof typeof MODEL_FILES],
  value: unknown,
): Promise<void> {
  await writeFileAtomic(join(dir, file), Buffer.from(`${JSON.stringify(value, null, 2)}\n`));
}

/** A model directory found under a root: its version, where it is and when it was made. */
export interface ModelDirEntry {
  version: string;
  dir: string;
  createdAt: string;
}

/**
 * Directories under `parent` named as versions that hold a model.json, by name. Skips CURRENT,
 * HISTORY, candidates/ and half-moved or temporary directories.
 */
export async function listModelDirs(parent: string): Promise<ModelDirEntry[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (error) {
    names = orUndefinedIfMissing(error, []);
  }
  const entries: ModelDirEntry[] = [];
  for (const name of names.sort()) {
    if (!VERSION.test(name) || name === CURRENT || name === HISTORY) continue;
    const dir = join(parent, name);
    const info = await stat(dir);
    if (!info.isDirectory() || !(await exists(join(dir, MODEL_FILES.model)))) continue;
    entries.push({ version: name, dir, createdAt: info.birthtime.toISOString() });
  }
  return entries;
}

/** The candidates directory of a root (listModelDirs lists what it holds). */
export function candidatesPath(root: string): string {
  return join(root, CANDIDATES);
}

/** A candidate directory that cannot be renamed into the registry (another file system). */
export class CrossDeviceError extends IntentstreamError {}

/**
 * The models directory as a ModelStore: the layout above, unchanged. Switching CURRENT is one atomic
 * rename; it is not conditional here, so processes that share one directory serialize promotions
 * with the trainer's lock file.
 */
export function createLocalModelStore(root: string): ModelStore {
  return {
    location: root,
    locate: (version) => versionPath(root, version),
    async readCurrent() {
      const version = await readCurrent(root);
      return { version, tag: version };
    },
    writeCurrent: (version) => writeCurrent(root, version),
    readHistory: () => readHistory(root),
    appendHistory: (entry) => appendHistory(root, entry),
    list: () => listModelDirs(root),
    has: (version) => exists(versionPath(root, version)),
    missingFiles: (version) => missingFiles(versionPath(root, version)),
    readJson: (version, file) => readModelJson(versionPath(root, version), file),
    writeJson: (version, file, value) => writeModelJson(versionPath(root, version), file, value),
    async add(candidateDir, version) {
      await mkdir(root, { recursive: true });
      try {
        await rename(candidateDir, versionPath(root, version));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        throw new CrossDeviceError(`${candidateDir} is on another file system than ${root}`);
      }
    },
    localDir: async (version) => versionPath(root, version),
  };
}

/**
 * Where registered models, CURRENT and the history are kept: the models directory (model-dir.ts's
 * layout, as before) or object storage shared by every machine (model-store-objects.ts). The registry
 * (registry.ts) works only through this interface.
 */
import type { HistoryEntry, MODEL_FILES, ModelDirEntry } from './model-dir.js';

export type ModelFile = (typeof MODEL_FILES)[keyof typeof MODEL_FILES];

/** CURRENT as read, with what a conditional switch compares against (undefined tag: no CURRENT yet). */
export interface CurrentRead {
  version: string | undefined;
  tag: string | undefined;
}

export interface ModelStore {
  /** Where the registered models are, for messages: a directory or `s3://bucket/prefix`. */
  readonly location: string;
  /** Where a version is, for messages. */
  locate(version: string): string;
  readCurrent(): Promise<CurrentRead>;
  /**
   * Points CURRENT at `version` in one write. Where the store can (object storage), only if CURRENT is
   * still what `expected` read, so two trainers cannot both promote: the loser gets PreconditionFailedError.
   */
  writeCurrent(version: string, expected: CurrentRead): Promise<void>;
  readHistory(): Promise<HistoryEntry[]>;
  appendHistory(entry: HistoryEntry): Promise<void>;
  /** Registered versions that hold a model.json, by version. */
  list(): Promise<ModelDirEntry[]>;
  has(version: string): Promise<boolean>;
  /** The required files the version lacks. */
  missingFiles(version: string): Promise<string[]>;
  readJson(version: string, file: ModelFile): Promise<Record<string, unknown> | undefined>;
  writeJson(version: string, file: ModelFile, value: unknown): Promise<void>;
  /** Takes a complete candidate directory in as `version` (locally a rename; on object storage an upload). */
  add(candidateDir: string, version: string): Promise<void>;
  /** A local directory holding the version's files (tfjs and verify read files): itself, or a fetched copy. */
  localDir(version: string): Promise<string>;
}

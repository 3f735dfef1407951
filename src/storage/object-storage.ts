/**
 * Where the timeline store, ingest checkpoints and the model registry keep their bytes: a flat
 * namespace of keys (`dt=2026-01-01/ingest-p0-e0000000001.avro`, `CURRENT`), with two
 * implementations — a local directory (local.ts, the default) and an S3-compatible bucket (s3.ts).
 * Keys use `/` as the separator on both.
 */
import { IntentstreamError } from '../errors.js';

export interface ObjectInfo {
  key: string;
  /** Changes whenever the object's bytes are replaced; what conditional writes and polls compare. */
  etag: string;
  size: number;
  /** When it was last written, where the backend says (listings). */
  modified?: Date;
}

export interface PutOptions {
  /** Write only if no object has the key (two writers: exactly one succeeds). */
  ifAbsent?: boolean;
  /** Write only if the object still has this etag (read-modify-write without lost updates). */
  ifMatch?: string;
}

export interface ObjectStorage {
  /** Where the objects are, for messages: a directory or `s3://bucket/prefix`. */
  readonly location: string;
  /** Whether put's ifAbsent/ifMatch are enforced by the server (atomically) rather than checked first. */
  readonly atomicConditions: boolean;
  /** Where one key is, for messages and returned paths (a file path or an s3:// URL). */
  locate(key: string): string;
  /**
   * Writes the object whole: readers see the previous object or the whole new one, never a part
   * (local: temp file + fsync + rename; S3: one PUT). Throws PreconditionFailedError when a condition fails.
   */
  put(key: string, body: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<ObjectInfo>;
  /** The object's bytes and etag; undefined when there is none. */
  get(key: string): Promise<{ body: Buffer; etag: string } | undefined>;
  /** The object's bytes only when its etag differs from `etag` ('unchanged' otherwise). */
  getIfChanged(
    key: string,
    etag: string | undefined,
  ): Promise<{ body: Buffer; etag: string } | 'unchanged' | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** The names of the "directories" directly under `prefix` (which ends in `/` or is empty), sorted. */
  listDirs(prefix: string): Promise<string[]>;
  /** Deletes the objects; keys that do not exist are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Deletes everything under `prefix` (which ends in `/`). */
  deletePrefix(prefix: string): Promise<void>;
  /** The same storage with every key under `prefix` (`models/`). */
  scoped(prefix: string): ObjectStorage;
}

/** A conditional put whose condition did not hold: someone else wrote the key first. */
export class PreconditionFailedError extends IntentstreamError {
  override name = 'PreconditionFailedError';
}

/** The object store could not be reached or refused a request; trying again later may succeed. */
export class StorageUnavailableError extends IntentstreamError {
  override name = 'StorageUnavailableError';
  constructor(message: string, cause: unknown) {
    super(message, { retriable: true, cause });
  }
}

/** `a/` + `b` without doubled or missing separators; the empty prefix is the root. */
export function joinKey(prefix: string, key: string): string {
  if (prefix === '') return key;
  return prefix.endsWith('/') ? `${prefix}${key}` : `${prefix}/${key}`;
}

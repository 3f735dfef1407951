import { IntentstreamError } from '../errors.js';
import { type SessionizerSnapshot, decodeSnapshot, encodeSnapshot } from '../sessionizer/index.js';
import { type ObjectStorage, createLocalStorage } from '../storage/index.js';

export const CHECKPOINT_VERSION = 1;

/** What a partition checkpoint holds: where to resume and the open-session state at that point. */
export interface PartitionCheckpoint {
  topic: string;
  partition: number;
  /** The next offset to process: every message before it is reflected in `snapshot` or stored. */
  nextOffset: number;
  /** Increases with every checkpoint; store segments with a higher epoch are orphans of a crash. */
  epoch: number;
  savedAt: number;
  snapshot: SessionizerSnapshot;
}

/** A partition checkpoint file that this build cannot read (corrupt, or of another version). */
export class PartitionCheckpointError extends IntentstreamError {
  override name = 'PartitionCheckpointError';
}

/**
 * Per-partition checkpoints as objects `<topic>/p<partition>.ckpt` in a directory (`<dir>/<topic>/…`)
 * or any ObjectStorage (an S3 bucket prefix): a JSON header line, then the sessionizer snapshot.
 * Written whole (temp file + rename locally, one PUT on S3): a reader gets the previous checkpoint or
 * the new one.
 */
export function createCheckpointStore(where: string | ObjectStorage) {
  const storage = typeof where === 'string' ? createLocalStorage(where) : where;
  const keyOf = (topic: string, partition: number) => `${topic}/p${partition}.ckpt`;
  const pathOf = (topic: string, partition: number) => storage.locate(keyOf(topic, partition));
  return {
    /** Where the checkpoints are, for messages: a directory or `s3://bucket/prefix`. */
    location: storage.location,
    pathOf,
    async load(topic: string, partition: number): Promise<PartitionCheckpoint | undefined> {
      const path = pathOf(topic, partition);
      const bytes = (await storage.get(keyOf(topic, partition)))?.body;
      if (bytes === undefined) return undefined;
      const newline = bytes.indexOf(0x0a);
      if (newline < 0)
        throw new PartitionCheckpointError(`checkpoint ${path} has no header line; it is corrupt`);
      const header = JSON.parse(bytes.subarray(0, newline).toString('utf8')) as Omit<
        PartitionCheckpoint,
        'snapshot'
      > & {
        version: number;
      };
      if (header.version !== CHECKPOINT_VERSION) {
        throw new PartitionCheckpointError(
          `checkpoint ${path} has version ${header.version}; this build reads ${CHECKPOINT_VERSION}`,
        );
      }
      const { version: _v, ...rest } = header;
      return { ...rest, snapshot: decodeSnapshot(bytes.subarray(newline + 1)) };
    },
    /** Writes the checkpoint durably; returns its size in bytes. */
    async save(checkpoint: PartitionCheckpoint): Promise<number> {
      const { snapshot, ...header } = checkpoint;
      const head = Buffer.from(`${JSON.stringify({ version: CHECKPOINT_VERSION, ...header })}\n`);
      const body = encodeSnapshot(snapshot);
      await storage.put(keyOf(checkpoint.topic, checkpoint.partition), [head, body]);
      return head.length + body.length;
    },
  };
}
export type CheckpointStore = ReturnType<typeof createCheckpointStore>;

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntentstreamError } from '../errors.js';
import { type SessionizerSnapshot, decodeSnapshot, encodeSnapshot } from '../sessionizer/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';

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
 * Per-partition checkpoints as files `<dir>/<topic>/p<partition>.ckpt`:
 * a JSON header line, then the sessionizer snapshot. Written atomically.
 */
export function createCheckpointStore(dir: string) {
  const pathOf = (topic: string, partition: number) => join(dir, topic, `p${partition}.ckpt`);
  return {
    pathOf,
    async load(topic: string, partition: number): Promise<PartitionCheckpoint | undefined> {
      const path = pathOf(topic, partition);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
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
      await writeFileAtomic(pathOf(checkpoint.topic, checkpoint.partition), [head, body]);
      return head.length + body.length;
    },
  };
}
export type CheckpointStore = ReturnType<typeof createCheckpointStore>;

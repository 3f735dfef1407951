import type { Config } from '../../config/index.js';
import type { PartitionedConsumer } from '../../kafka/partitioned-consumer.js';
import type { Logger } from '../../log/logger.js';
import type { ScorerMetrics } from '../../metrics/scorer-metrics.js';
import { decodeCommitMetadata } from '../commit-metadata.js';
import type { ScorerCore } from '../core.js';
import type { PartitionOutput, TransactionalOutput } from './transactional-output.js';

/** One assigned partition's Kafka-side state (its sessions live in the core). */
export interface PartitionRun {
  partition: number;
  /** Offsets below this were already scored (committed): they are replayed without emitting. */
  committed: number;
  output: PartitionOutput;
  /** Set after a group rejoin: the committed offset must match our position before the state is trusted. */
  verify: boolean;
  /** Set while the partition replays [rebuild point, committed). */
  rebuilding: { from: number; replayed: number; started: number; truncated: number } | undefined;
}

export interface PartitionLifecycle {
  /** The partition's run, (re)initialized when it is new or must be verified after a rejoin. */
  ensure(partition: number, firstFetched: number): Promise<PartitionRun>;
  /** Drops the partition's sessions and closes its output; the next batch re-initializes it. */
  discard(partition: number, run?: PartitionRun): Promise<void>;
  /** A new assignment: lost partitions are discarded, kept ones verified before their state is trusted. */
  reassign(mine: readonly number[]): Promise<void>;
  discardAll(): Promise<void>;
  /** The run currently registered for the partition. */
  get(partition: number): PartitionRun | undefined;
}

/**
 * Assignment, fencing and rebuild of the scorer's partitions. Session state is in memory; each
 * committed offset carries, in its metadata, a rebuild point: the first offset of the oldest live run
 * of activity (within `scorer.rebuildWindow`) and the partition's max event time before it. On
 * assignment the partition's output is opened (fencing the previous owner), the committed offset read,
 * and the sessions reset to the rebuild point: the consumer loop then replays up to the committed offset
 * without emitting, so the state equals that of an uninterrupted run (docs/architecture.md).
 */
export function createPartitionLifecycle(options: {
  core: ScorerCore;
  input: PartitionedConsumer;
  output: TransactionalOutput;
  config: Readonly<Config>;
  logger: Logger;
  metrics: ScorerMetrics;
  now: () => number;
}): PartitionLifecycle {
  const { core, input, output, config, logger, metrics, now } = options;
  const topic = config.topics.events;
  const runs = new Map<number, PartitionRun>();

  async function discard(partition: number, run = runs.get(partition)): Promise<void> {
    core.table.dropPartition(partition);
    runs.delete(partition);
    await run?.output.close();
  }

  /** True when a rejoin left the partition's state where the committed offset says it is. */
  async function stillValid(run: PartitionRun): Promise<boolean> {
    const { offset } = await input.committedOffset(run.partition);
    const part = core.partitionState(run.partition);
    if (part && offset === part.nextOffset) return true;
    logger.warn('partition state does not match the committed offset after a rejoin: rebuilding', {
      partition: run.partition,
      committed: offset,
      position: part?.nextOffset,
    });
    return false;
  }

  /** Where replay starts: the committed rebuild point, or (offsets committed by something else) record timestamps. */
  async function rebuildPoint(partition: number, committed: number, metadata: string | null) {
    const point = decodeCommitMetadata(metadata);
    if (point)
      return { from: Math.min(point.offset, committed), maxTime: point.maxTime, truncated: point.truncated };
    const byTime = await input.admin.fetchTopicOffsetsByTimestamp(topic, now() - config.scorer.rebuildWindow);
    const offset = Number(byTime.find((x) => x.partition === partition)?.offset ?? committed);
    const from = Math.min(committed, offset >= 0 ? offset : committed);
    logger.warn(
      'committed offset carries no rebuild point: rebuilding from record timestamps (approximate)',
      {
        partition,
        committed,
        from,
      },
    );
    return { from, maxTime: null, truncated: 0 };
  }

  async function init(partition: number, firstFetched: number): Promise<PartitionRun> {
    const opened = await output.open(partition);
    let found: Awaited<ReturnType<PartitionedConsumer['committedOffset']>>;
    try {
      found = await input.committedOffset(partition);
    } catch (error) {
      await opened.close();
      throw error;
    }
    const { offset: committed, metadata } = found;
    const run: PartitionRun = {
      partition,
      committed: committed ?? 0,
      output: opened,
      verify: false,
      rebuilding: undefined,
    };
    if (committed === undefined) {
      core.resetPartition(partition, firstFetched, null);
      logger.info('partition has no committed offset: scoring from the start', { partition });
      return run;
    }
    const { from, maxTime, truncated } = await rebuildPoint(partition, committed, metadata);
    core.resetPartition(partition, from, maxTime);
    if (from < committed) {
      run.rebuilding = { from, replayed: 0, started: performance.now(), truncated };
      metrics.rebuilds.inc();
      logger.info('rebuilding partition state: replaying without emitting', {
        partition,
        from,
        committed,
        messages: committed - from,
        truncatedAtCommit: truncated,
      });
    }
    return run;
  }

  return {
    get: (partition) => runs.get(partition),
    discard,
    async ensure(partition, firstFetched) {
      const previous = runs.get(partition);
      if (previous && !previous.verify) return previous;
      if (previous?.rebuilding === undefined && previous && (await stillValid(previous))) {
        previous.verify = false;
        return previous;
      }
      await discard(partition, previous);
      const run = await init(partition, firstFetched);
      runs.set(partition, run);
      return run;
    },
    async reassign(mine) {
      for (const [p, run] of [...runs]) {
        if (!mine.includes(p)) await discard(p, run);
        else run.verify = true; // we may have missed a generation: check before trusting the state
      }
    },
    async discardAll() {
      for (const [p, run] of [...runs]) await discard(p, run);
    },
  };
}

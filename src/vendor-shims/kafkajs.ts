/**
 * kafkajs internals (2.2.4):
 * - the producer's per-partition grouping, patched at install time (kafkajs-grouping-patch.mjs, applied
 *   by scripts/postinstall.mjs) because the stock one is quadratic in the batch size: performance only;
 * - the metadata string of a committed offset inside a transaction: kafkajs passes per-partition
 *   `metadata` through to TxnOffsetCommit, though its types omit it. The scorer's restart depends on it
 *   (scoring/commit-metadata.ts says what it holds);
 * - the consumer group's join-and-sync, which ingest runs under its own lock (rejoinGatedAssigner), so
 *   no flush of a partition's sessions is under way while the group hands partitions to other members:
 *   kafkajs has no hook before a rejoin (Java's onPartitionsRevoked).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  type FetchOffsetsPartition,
  type PartitionAssigner,
  PartitionAssigners,
  type PartitionOffset,
} from 'kafkajs';
import { groupMessagesPath, groupingState } from './kafkajs-grouping-patch.mjs';
import type { ShimProblem } from './problems.js';

/** A partition's offset for `transaction.sendOffsets` that carries a metadata string to the broker. */
export function offsetWithMetadata(offset: {
  partition: number;
  offset: string;
  metadata: string;
}): PartitionOffset {
  return offset;
}

/** The metadata string committed with a partition's offset (admin.fetchOffsets), null when none. */
export function committedMetadata(partition: FetchOffsetsPartition | undefined): string | null {
  return partition?.metadata ?? null;
}

const TXN_OFFSET_COMMIT = 'kafkajs/src/protocol/requests/txnOffsetCommit/v0/request.js';
const CONSUMER_GROUP = 'kafkajs/src/consumer/consumerGroup.js';

/** Runs one join-and-sync of a consumer's group (`join`) and resolves with it. */
export type RejoinGate = (join: () => Promise<void>) => Promise<void>;

interface ConsumerGroupInternals {
  cluster: object;
  joinAndSync(): Promise<void>;
}

/** Gates by the consumer's cluster object, which kafkajs creates per consumer and hands to its assigners. */
const gates = new WeakMap<object, RejoinGate>();
let gatesInstalled = false;

/** Routes ConsumerGroup.prototype.joinAndSync through the gate of its consumer, where one is set (once). */
function installRejoinGates(): void {
  if (gatesInstalled) return;
  const ConsumerGroup = createRequire(import.meta.url)(CONSUMER_GROUP) as {
    prototype: ConsumerGroupInternals;
  };
  const original = ConsumerGroup.prototype.joinAndSync;
  if (typeof original !== 'function')
    throw new Error(`kafkajs: ${CONSUMER_GROUP} has no joinAndSync (see src/vendor-shims/kafkajs.ts)`);
  ConsumerGroup.prototype.joinAndSync = function (this: ConsumerGroupInternals) {
    const gate = gates.get(this.cluster);
    return gate === undefined ? original.call(this) : gate(() => original.call(this));
  };
  gatesInstalled = true;
}

/**
 * kafkajs's round-robin assigner (same protocol name, so members with and without it share a group),
 * which also makes every join-and-sync of the consumer it is given to run inside `gate`: kafkajs builds
 * a consumer's assigners with that consumer's cluster object, the one its ConsumerGroup holds.
 */
export function rejoinGatedAssigner(gate: RejoinGate): PartitionAssigner {
  installRejoinGates();
  return (config) => {
    gates.set(config.cluster, gate);
    return PartitionAssigners.roundRobin(config);
  };
}

/** The kafkajs sources the checks read; tests pass other texts. */
export interface KafkajsSources {
  /** groupMessagesPerPartition.js, or undefined when it cannot be found. */
  grouping(): string | undefined;
  /** the TxnOffsetCommit request encoder, or undefined when it cannot be found. */
  txnOffsetCommit(): string | undefined;
  /** consumer/consumerGroup.js, or undefined when it cannot be found. */
  consumerGroup(): string | undefined;
}

function readResolved(specifier: () => string): string | undefined {
  try {
    return readFileSync(specifier(), 'utf8');
  } catch {
    return undefined;
  }
}

const installedSources: KafkajsSources = {
  grouping: () => readResolved(groupMessagesPath),
  txnOffsetCommit: () => readResolved(() => createRequire(import.meta.url).resolve(TXN_OFFSET_COMMIT)),
  consumerGroup: () => readResolved(() => createRequire(import.meta.url).resolve(CONSUMER_GROUP)),
};

/**
 * The grouping patch (a warning when absent: large producer batches are slower, nothing else) and the
 * transactional offset metadata (fatal when kafkajs no longer encodes it).
 */
export function checkKafkajsInternals(sources: KafkajsSources = installedSources): ShimProblem[] {
  const problems: ShimProblem[] = [];
  const grouping = sources.grouping();
  const state = grouping === undefined ? 'missing' : groupingState(grouping);
  if (state !== 'already') {
    problems.push({
      package: 'kafkajs',
      internal: 'producer/groupMessagesPerPartition.js',
      severity: 'warning',
      message:
        state === 'quadratic'
          ? 'kafkajs: the producer grouping patch is not applied (installed with --ignore-scripts?), so large producer batches are slow; run `node scripts/postinstall.mjs`'
          : `kafkajs: producer/groupMessagesPerPartition.js is ${state === 'missing' ? 'not found' : 'not the 2.2.4 text the patch knows'}, so it is not patched and large producer batches may be slow; see src/vendor-shims/kafkajs-grouping-patch.mjs`,
    });
  }
  const txn = sources.txnOffsetCommit();
  if (txn === undefined || !/\(\{\s*partition,\s*offset,\s*metadata\s*\}\)/.test(txn)) {
    problems.push({
      package: 'kafkajs',
      internal: 'protocol/requests/txnOffsetCommit',
      severity: 'fatal',
      message: `kafkajs: ${TXN_OFFSET_COMMIT} ${txn === undefined ? 'is not found' : 'no longer encodes a partition offset metadata'}, which the scorer's transactional commits carry (its rebuild point after a restart); the installed kafkajs is not the version src/vendor-shims/kafkajs.ts was written for`,
    });
  }
  const group = sources.consumerGroup();
  if (
    group === undefined ||
    !/\n {2}joinAndSync\(\) \{/.test(group) ||
    !group.includes('this.cluster = cluster')
  ) {
    problems.push({
      package: 'kafkajs',
      internal: 'consumer/consumerGroup.js joinAndSync',
      severity: 'fatal',
      message: `kafkajs: ${CONSUMER_GROUP} ${group === undefined ? 'is not found' : 'no longer has joinAndSync() on a group that keeps its cluster'}, which ingest runs under its lock so that no flush races a rebalance; the installed kafkajs is not the version src/vendor-shims/kafkajs.ts was written for`,
    });
  }
  return problems;
}

/**
 * kafkajs internals (2.2.4):
 * - the producer's per-partition grouping, patched at install time (kafkajs-grouping-patch.mjs, applied
 *   by scripts/postinstall.mjs) because the stock one is quadratic in the batch size: performance only;
 * - the metadata string of a committed offset inside a transaction: kafkajs passes per-partition
 *   `metadata` through to TxnOffsetCommit, though its types omit it. The scorer's restart depends on it
 *   (scoring/commit-metadata.ts says what it holds).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FetchOffsetsPartition, PartitionOffset } from 'kafkajs';
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

/** The kafkajs sources the checks read; tests pass other texts. */
export interface KafkajsSources {
  /** groupMessagesPerPartition.js, or undefined when it cannot be found. */
  grouping(): string | undefined;
  /** the TxnOffsetCommit request encoder, or undefined when it cannot be found. */
  txnOffsetCommit(): string | undefined;
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
  return problems;
}

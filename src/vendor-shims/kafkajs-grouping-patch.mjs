// kafkajs 2.2.4's producer groups a send's messages per partition with `[...current, message]` for
// every message: quadratic in the batch size. The scorer sends one transaction of thousands of
// predictions per fetched batch, where that grouping alone dominated its CPU (BENCHMARKS.md). The
// replacement is the same function in one pass (upstream PR tulios/kafkajs#1576, unmerged).
//
// Plain JavaScript because scripts/postinstall.mjs applies it at install time, before anything is
// compiled; vendor-shims/kafkajs.ts reads the same texts to report at service start whether the
// installed kafkajs carries it (`npm ci --ignore-scripts` skips postinstall).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const QUADRATIC = `  return messages.reduce((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition] || []
    return Object.assign(result, { [partition]: [...current, message] })
  }, {})`;

export const LINEAR = `  // intentstream scripts/postinstall.mjs: one pass instead of copying the partition's array per message.
  const result = {}
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition]
    if (current === undefined) result[partition] = [message]
    else current.push(message)
  }
  return result`;

/** 'already' (the file carries the fix) | 'quadratic' (the known original) | 'unknown' for a file's text. */
export function groupingState(text) {
  if (text.includes(LINEAR)) return 'already';
  return text.includes(QUADRATIC) ? 'quadratic' : 'unknown';
}

/** 'patched' | 'already' | 'unknown' for the file at `path` (rewritten when 'patched'). */
export function patchGroupMessages(path) {
  const text = readFileSync(path, 'utf8');
  const state = groupingState(text);
  if (state !== 'quadratic') return state;
  writeFileSync(path, text.replace(QUADRATIC, LINEAR));
  return 'patched';
}

/** The installed kafkajs's grouping module; throws (code MODULE_NOT_FOUND) without kafkajs. */
export function groupMessagesPath() {
  const require = createRequire(import.meta.url);
  return require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
}

#!/usr/bin/env node
// npm postinstall: fixes kafkajs 2.2.4's producer, which groups a send's messages per partition
// with `[...current, message]` for every message: quadratic in the batch size. The scorer sends
// one transaction of thousands of predictions per fetched batch, where that grouping alone was a
// quarter of its CPU (bench/score profile). The replacement is the same function in one pass
// (upstream PR tulios/kafkajs#1576, unmerged). Idempotent; an unknown file is left alone with a
// warning, so a kafkajs upgrade never gets a blind edit.
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

/** 'patched' | 'already' | 'unknown' for the file at `path` (rewritten when 'patched'). */
export function patchGroupMessages(path) {
  const text = readFileSync(path, 'utf8');
  if (text.includes(LINEAR)) return 'already';
  if (!text.includes(QUADRATIC)) return 'unknown';
  writeFileSync(path, text.replace(QUADRATIC, LINEAR));
  return 'patched';
}

export function groupMessagesPath() {
  const require = createRequire(import.meta.url);
  return require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let path;
  try {
    path = groupMessagesPath();
  } catch {
    process.exit(0); // kafkajs not installed (e.g. a partial install): nothing to fix
  }
  const result = patchGroupMessages(path);
  if (result === 'unknown')
    process.stderr.write(
      `[postinstall] ${path} is not the kafkajs 2.2.4 text this patch knows; left unchanged (large producer batches may be slow)\n`,
    );
  else if (result === 'patched')
    process.stderr.write(`[postinstall] patched ${path}: linear per-partition grouping\n`);
}

// The kafkajs fix that scripts/postinstall.mjs applies (see there); a module of its own so tests
// import it without running it.
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

#!/usr/bin/env node
// npm postinstall: fixes kafkajs 2.2.4's producer, which groups a send's messages per partition
// with `[...current, message]` for every message: quadratic in the batch size. The scorer sends
// one transaction of thousands of predictions per fetched batch, where that grouping alone was a
// quarter of its CPU (bench/score profile). The replacement is the same function in one pass
// (upstream PR tulios/kafkajs#1576, unmerged). Idempotent; an unknown file is left alone with a
// warning, so a kafkajs upgrade never gets a blind edit.
import { groupMessagesPath, patchGroupMessages } from './lib/kafkajs-patch.mjs';

let path;
try {
  path = groupMessagesPath();
} catch (error) {
  if (error?.code !== 'MODULE_NOT_FOUND') {
    process.stderr.write(
      `[postinstall] cannot locate kafkajs's groupMessagesPerPartition.js (${error?.message}); left unpatched\n`,
    );
  }
  process.exit(0); // kafkajs not installed (a partial install): nothing to fix
}
const result = patchGroupMessages(path);
if (result === 'unknown')
  process.stderr.write(
    `[postinstall] ${path} is not the kafkajs 2.2.4 text this patch knows; left unchanged (large producer batches may be slow)\n`,
  );
else if (result === 'patched')
  process.stderr.write(`[postinstall] patched ${path}: linear per-partition grouping\n`);

#!/usr/bin/env node
// npm postinstall: applies the kafkajs grouping fix (src/vendor-shims/kafkajs-grouping-patch.mjs says
// what and why). Idempotent; an unknown file is left alone with a warning, so a kafkajs upgrade never
// gets a blind edit. Services report at start-up when the fix is missing (src/vendor-shims/check.ts).
import { groupMessagesPath, patchGroupMessages } from '../src/vendor-shims/kafkajs-grouping-patch.mjs';

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

/**
 * scripts/postinstall.mjs replaces kafkajs's quadratic per-partition grouping of a producer send.
 * Checks the installed kafkajs carries the fix and groups exactly as the original did, and that the
 * patcher rewrites only the text it knows, once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  LINEAR,
  QUADRATIC,
  groupMessagesPath,
  patchGroupMessages,
} from '../../src/vendor-shims/kafkajs-grouping-patch.mjs';

type Group = (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { key: string; partition?: number }[];
  partitioner: (a: { message: { key: string; partition?: number } }) => number;
}) => Record<number, { key: string }[]>;

/** The original kafkajs 2.2.4 function, as the reference. */
const original: Group = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce(
    (result, message) => {
      const partition = partitioner({ topic, partitionMetadata, message } as never);
      const current = result[partition] || [];
      return Object.assign(result, { [partition]: [...current, message] });
    },
    {} as Record<number, { key: string }[]>,
  );
};

test('the installed kafkajs groups per partition in one pass, exactly as the original', () => {
  const path = groupMessagesPath();
  assert.ok(readFileSync(path, 'utf8').includes(LINEAR), `${path} lacks the postinstall fix`);
  const installed = createRequire(import.meta.url)(path) as Group;
  const messages = Array.from({ length: 5_000 }, (_, i) => ({ key: `k${(i * 7919) % 1013}` }));
  const partitioner = ({ message }: { message: { key: string } }) => Number(message.key.slice(1)) % 6;
  const args = { topic: 't', partitionMetadata: [{}, {}, {}, {}, {}, {}], messages, partitioner };
  assert.deepEqual(installed(args), original(args), 'grouping differs from kafkajs 2.2.4');
  assert.deepEqual(installed({ ...args, partitionMetadata: [] }), {}, 'no metadata must give no groups');
});

test('the patcher rewrites the known quadratic text once and leaves unknown files alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafkajs-patch-'));
  try {
    const file = join(dir, 'groupMessagesPerPartition.js');
    writeFileSync(file, `module.exports = (x) => {\n${QUADRATIC}\n}\n`);
    assert.equal(patchGroupMessages(file), 'patched');
    assert.ok(!readFileSync(file, 'utf8').includes('[...current'), 'quadratic spread still there');
    assert.equal(patchGroupMessages(file), 'already');
    const other = join(dir, 'other.js');
    writeFileSync(other, 'module.exports = () => ({})\n');
    assert.equal(patchGroupMessages(other), 'unknown');
    assert.equal(readFileSync(other, 'utf8'), 'module.exports = () => ({})\n', 'unknown file was changed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

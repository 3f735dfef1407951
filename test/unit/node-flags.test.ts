/** The V8 flags of src/cli/node-flags.ts are the ones every place that starts node for a service writes out. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SERVICE_NODE_FLAGS, missingNodeFlags } from '../../src/cli/node-flags.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('bin/intentstream.js, the Dockerfile and scripts/demo start node with SERVICE_NODE_FLAGS', () => {
  const flags = SERVICE_NODE_FLAGS.join(' ');
  assert.equal(read('bin/intentstream.js').split('\n')[0], `#!/usr/bin/env -S node ${flags}`, 'shebang');
  const entry = JSON.stringify(['node', ...SERVICE_NODE_FLAGS, 'bin/intentstream.js']).replaceAll(',', ', ');
  assert.ok(read('Dockerfile').includes(`ENTRYPOINT ${entry}`), `Dockerfile lacks ENTRYPOINT ${entry}`);
  assert.ok(read('scripts/demo').includes(`CLI=(node ${flags} bin/intentstream.js)`), 'scripts/demo CLI');
});

test('missingNodeFlags reads argv and NODE_OPTIONS, in either spelling', () => {
  assert.deepEqual(missingNodeFlags([], ''), [...SERVICE_NODE_FLAGS]);
  assert.deepEqual(
    missingNodeFlags(['--max-semi-space-size=64'], ''),
    [],
    'another size is a choice, not a miss',
  );
  assert.deepEqual(missingNodeFlags([], '--inspect --max_semi_space_size=32'), []);
  assert.deepEqual(missingNodeFlags([], '"--max-semi-space-size=32"'), [], 'quoted in NODE_OPTIONS');
  assert.deepEqual(missingNodeFlags(['--max-old-space-size=2048'], ''), [...SERVICE_NODE_FLAGS]);
});

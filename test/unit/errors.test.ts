/**
 * The error base class: what callers read off an error (retriable, exit code, cause), and one name per
 * error class across src/, so a log line's error name says which class (and module) threw it.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/index.js';
import { EXIT_USAGE, IntentstreamError, exitCodeOf, isRetriable } from '../../src/errors.js';
import { PartitionCheckpointError } from '../../src/ingest/checkpoint.js';
import { CheckpointError } from '../../src/model/checkpoint.js';
import { LockBusyError } from '../../src/trainer/lock.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('IntentstreamError', () => {
  it('carries retriable, exit code and cause, with defaults for a plain failure', () => {
    const root = new Error('disk full');
    const e = new IntentstreamError('cannot write', { retriable: true, exitCode: 3, cause: root });
    assert.equal(e.message, 'cannot write');
    assert.equal(e.retriable, true);
    assert.equal(e.exitCode, 3);
    assert.equal(e.cause, root);
    assert.equal(e.name, 'IntentstreamError');
    const plain = new IntentstreamError('boom');
    assert.equal(plain.retriable, false);
    assert.equal(plain.exitCode, 1);
    assert.equal('cause' in plain, false);
  });

  it('subclasses keep their own names, instanceof and messages', () => {
    const config = new ConfigError('bad config', [{ path: 'a', message: 'b' }]);
    assert.ok(
      config instanceof ConfigError && config instanceof IntentstreamError && config instanceof Error,
    );
    assert.equal(config.name, 'ConfigError');
    assert.equal(exitCodeOf(config), EXIT_USAGE);
    assert.deepEqual(config.issues, [{ path: 'a', message: 'b' }]);
    const busy = new LockBusyError('/x.lock', { pid: 1, host: 'h', startedAt: 't', purpose: 'train' });
    assert.ok(isRetriable(busy), 'a busy lock may be free on the next try');
    assert.match(busy.message, /^lock \/x\.lock is held by pid 1/);
    const training = new CheckpointError('x');
    const partition = new PartitionCheckpointError('y');
    assert.notEqual(training.name, partition.name);
    assert.ok(!(partition instanceof CheckpointError));
  });

  it('leaves foreign errors alone: not retriable, exit code 1', () => {
    assert.equal(isRetriable(new TypeError('x')), false);
    assert.equal(exitCodeOf(new RangeError('x')), 1);
    assert.equal(exitCodeOf('a string'), 1);
  });

  it('every error class in src/ extends IntentstreamError and has a name no other class has', () => {
    const seen = new Map<string, string>();
    const pattern = /export class (\w+Error) extends (\w+)/g;
    for (const file of sourceFiles(SRC)) {
      const where = relative(SRC, file);
      for (const [, name, base] of readFileSync(file, 'utf8').matchAll(pattern)) {
        if (name === 'IntentstreamError') continue;
        assert.notEqual(base, 'Error', `${name} in ${where} extends Error, not IntentstreamError`);
        assert.ok(!seen.has(name!), `${name} is declared in both ${seen.get(name!)} and ${where}`);
        seen.set(name!, where);
      }
    }
    assert.ok(seen.size >= 10, `found only ${seen.size} error classes: the pattern no longer matches`);
  });
});

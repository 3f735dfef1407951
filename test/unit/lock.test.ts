import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LockBusyError, acquireLock } from '../../src/trainer/lock.js';

describe('training lock', () => {
  it('is exclusive while held and free after release', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'lock-')), 'train.lock');
    const held = await acquireLock(path, 'test');
    await assert.rejects(acquireLock(path, 'second'), (e: unknown) => {
      assert.ok(e instanceof LockBusyError, 'LockBusyError');
      assert.equal(e.owner.pid, process.pid);
      return true;
    });
    await held.release();
    const again = await acquireLock(path, 'third');
    await again.release();
  });
});

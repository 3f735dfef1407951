/** The training lock across processes: a holder that was SIGKILLed does not block the next run. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LockBusyError, acquireLock } from '../../src/trainer/lock.js';

const LOCK_MODULE = fileURLToPath(new URL('../../src/trainer/lock.ts', import.meta.url));

describe('training lock', () => {
  it('survives a crash: a lock whose holder was SIGKILLed is taken over', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'lock-')), 'train.lock');
    const script = `import { acquireLock } from ${JSON.stringify(LOCK_MODULE)};
      await acquireLock(${JSON.stringify(path)}, 'child'); console.log('held'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve()),
    );
    const owner = JSON.parse(await readFile(path, 'utf8')) as { pid: number };
    assert.equal(owner.pid, child.pid);
    await assert.rejects(acquireLock(path, 'while alive'), LockBusyError);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const taken = await acquireLock(path, 'after crash');
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as { pid: number }).pid, process.pid);
    await taken.release();
  });
});

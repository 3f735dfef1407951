import { open, readFile, unlink } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { IntentstreamError } from '../errors.js';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  purpose: string;
}

/** Another live process holds the lock; `owner` says who. */
export class LockBusyError extends IntentstreamError {
  override name = 'LockBusyError';
  constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {
    super(
      `lock ${path} is held by pid ${owner.pid} on ${owner.host} since ${owner.startedAt} (${owner.purpose})`,
      { retriable: true },
    );
  }
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock file that survives crashes: created with O_EXCL and the
 * owner's pid; a lock whose owner process is gone (same host) is stale and is
 * taken over, so a SIGKILLed trainer never blocks the next run. Locks held on
 * another host (shared volume) are only taken over by hand.
 */
export async function acquireLock(path: string, purpose: string): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.sync();
      await handle.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          const current = await readOwner(path);
          if (current?.pid === me.pid && current.host === me.host) await unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = await readOwner(path);
      if (owner && (owner.host !== me.host || isAlive(owner.pid))) throw new LockBusyError(path, owner);
      // Stale (owner gone) or unreadable (crashed mid-write): remove and retry.
      await unlink(path).catch(() => undefined);
    }
  }
  throw new Error(`could not acquire lock ${path} after removing a stale lock three times`);
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

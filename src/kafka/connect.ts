import { setTimeout as delay } from 'node:timers/promises';
import { IntentstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';

export class StartAbortedError extends IntentstreamError {
  override name = 'StartAbortedError';
}

/**
 * Runs `step` (connect, subscribe) until it succeeds: a broker or partition leader that is not there
 * at start-up delays a process instead of ending it. kafkajs already retries each call a few times;
 * between our attempts we back off from 1 s to `maxDelayMs`, logging each failure. `shouldStop` ends
 * the wait (a SIGTERM during start-up) with StartAbortedError.
 */
export async function untilDone(
  what: string,
  step: () => Promise<void>,
  options: { logger: Logger; shouldStop: () => boolean; maxDelayMs?: number },
): Promise<void> {
  const { logger, shouldStop, maxDelayMs = 30_000 } = options;
  for (let attempt = 1, wait = 1_000; ; attempt++, wait = Math.min(maxDelayMs, wait * 2)) {
    if (shouldStop()) throw new StartAbortedError(`stopped while waiting to ${what}`);
    try {
      await step();
      if (attempt > 1) logger.info(`${what}: succeeded`, { attempt });
      return;
    } catch (error) {
      logger.warn(`${what} failed; retrying`, { attempt, retryInMs: wait, error: (error as Error).message });
    }
    for (let waited = 0; waited < wait && !shouldStop(); waited += 250) await delay(250);
  }
}

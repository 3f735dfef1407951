import { IntentstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { createBackoff, waitUnless } from './backoff.js';

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
  const backoff = createBackoff({ maxMs: maxDelayMs });
  for (let attempt = 1; ; attempt++) {
    if (shouldStop()) throw new StartAbortedError(`stopped while waiting to ${what}`);
    const wait = backoff.next();
    try {
      await step();
      if (attempt > 1) logger.info(`${what}: succeeded`, { attempt });
      return;
    } catch (error) {
      logger.warn(`${what} failed; retrying`, { attempt, retryInMs: wait, error: (error as Error).message });
    }
    await waitUnless(wait, shouldStop);
  }
}

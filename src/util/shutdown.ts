import type { Logger } from '../log/logger.js';

/**
 * Runs `stop` once on SIGTERM/SIGINT (every later signal gets the same
 * in-flight promise); a second SIGINT while stopping exits at once.
 * Returns a function that removes the handlers.
 */
export function onShutdownSignal(logger: Logger, stop: (signal: string) => Promise<void>): () => void {
  let stopping: Promise<void> | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === 'SIGINT') {
        logger.warn('second interrupt: exiting without draining');
        process.exit(130);
      }
      return;
    }
    logger.info('shutdown requested: draining', { signal });
    stopping = stop(signal).catch((error: unknown) => {
      logger.error('shutdown failed', { error });
      process.exitCode = 1;
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}

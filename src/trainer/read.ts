import type { Logger } from '../log/logger.js';
import type { SessionTimeline } from '../schemas/types.js';
import type { CorruptSegment, TimelineStore } from '../store/index.js';

/**
 * Stored sessions for training: a corrupt timeline file (truncated, bit-flipped, inconsistent) is
 * skipped whole with a warning naming it and why, and added to `skipped`, so one bad file never
 * stops a retrain. A function that starts a fresh read each call (a run reads the store several
 * times); each corrupt file is reported once.
 */
export function sessionsForTraining(
  store: TimelineStore,
  range: { from?: number; to?: number },
  logger: Logger,
  skipped: CorruptSegment[] = [],
): () => AsyncIterable<SessionTimeline> {
  const reported = new Set<string>();
  return () =>
    store.read(range, {
      onCorrupt(segment) {
        if (reported.has(segment.path)) return;
        reported.add(segment.path);
        skipped.push(segment);
        logger.warn('skipped a corrupt timeline file; training goes on without its sessions', { ...segment });
      },
    });
}

/**
 * The back-off every retry loop of ours uses (start-up connects, a failed scorer batch): waits that
 * start at `initialMs` and double up to `maxMs`; `reset()` after a success starts over.
 */
export interface Backoff {
  /** The wait before the next attempt (and doubles the one after it). */
  next(): number;
  reset(): void;
}

export function createBackoff({ initialMs = 1_000, maxMs = 30_000 } = {}): Backoff {
  if (!(initialMs > 0) || !(maxMs >= initialMs))
    throw new RangeError(`back-off needs 0 < initialMs <= maxMs, got ${initialMs} and ${maxMs}`);
  let wait = initialMs;
  return {
    next() {
      const now = wait;
      wait = Math.min(maxMs, wait * 2);
      return now;
    },
    reset() {
      wait = initialMs;
    },
  };
}

/** Waits `ms`, in short steps so that `shouldStop` (a SIGTERM) ends the wait early. */
export async function waitUnless(ms: number, shouldStop: () => boolean, stepMs = 250): Promise<void> {
  for (let waited = 0; waited < ms && !shouldStop(); waited += stepMs)
    await new Promise((resolve) => setTimeout(resolve, Math.min(stepMs, ms - waited)));
}

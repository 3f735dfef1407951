/**
 * Emission pacing for a live sink: how long to wait before sending the next event so that a maximum
 * rate and/or an event-time speed factor are honoured. The clock is injected so tests need not sleep.
 */
export interface PacerOptions {
  /** Maximum events per second (undefined = unlimited). */
  rate?: number;
  /** Event time runs this many times faster than the wall clock (needs `startTime`). */
  speed?: number;
  /** Event time that maps to the pacer's creation. */
  startTime?: number;
  now?: () => number;
}

/** Returns `waitMs(eventTime)`: milliseconds to wait before sending the event at `eventTime`. */
export function createPacer(options: PacerOptions): (eventTime: number) => number {
  const { rate, speed, startTime, now = Date.now } = options;
  const wallStart = now();
  let sent = 0;
  return (eventTime: number): number => {
    sent++;
    let waitMs = 0;
    if (rate) waitMs = Math.max(waitMs, (sent / rate) * 1000 - (now() - wallStart));
    if (speed && startTime !== undefined) {
      waitMs = Math.max(waitMs, (eventTime - startTime) / speed - (now() - wallStart));
    }
    return waitMs;
  };
}

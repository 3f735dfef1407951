import type { Logger } from '../log/logger.js';
import type { TimelineStore } from '../store/index.js';
import { sessionsForTraining } from './read.js';

const DAY_MS = 86_400_000;

/** Start time of the newest stored session (the store is by day of session start). */
export async function newestSessionStart(store: TimelineStore, logger: Logger): Promise<number | undefined> {
  const days = await store.listDays();
  for (const day of days.reverse()) {
    let newest: number | undefined;
    const from = Date.parse(`${day}T00:00:00Z`);
    for await (const s of sessionsForTraining(store, { from, to: from + DAY_MS }, logger)())
      newest = Math.max(newest ?? s.start_time, s.start_time);
    if (newest !== undefined) return newest;
  }
  return undefined;
}

/** [from, to) of session start times to train on; defaults relative to the newest stored session. */
export async function trainingRange(
  store: TimelineStore,
  options: { from?: number; to?: number; days: number },
  logger: Logger,
): Promise<{ from: number; to: number }> {
  if (options.from !== undefined && options.to !== undefined) return { from: options.from, to: options.to };
  const newest = await newestSessionStart(store, logger);
  if (newest === undefined && options.to === undefined) {
    throw new Error(`the timeline store ${store.dir} holds no sessions: ingest or import some first`);
  }
  const to = options.to ?? (newest as number) + 1;
  return { from: options.from ?? to - options.days * DAY_MS, to };
}

/** Stored sessions the window [from, to) leaves out, before and after it. */
export interface LeftOut {
  before: number;
  after: number;
}

/**
 * Counts the stored sessions outside [from, to), so a run can say what its window left out (a
 * default window silently training on a quarter of the store is how a new user loses data).
 * Corrupt files are skipped here without a warning: the training read reports those it meets.
 */
export async function sessionsOutsideWindow(
  store: TimelineStore,
  range: { from: number; to: number },
): Promise<LeftOut> {
  const count = async (r: { from?: number; to?: number }) => {
    let n = 0;
    for await (const _ of store.read(r, { onCorrupt: () => {} })) n++;
    return n;
  };
  return { before: await count({ to: range.from }), after: await count({ from: range.to }) };
}

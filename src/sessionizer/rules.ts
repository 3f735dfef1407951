/**
 * Session rules shared by the event-time sessionizer and the live scorer.
 *
 * Everything here is pure: `sessionBoundary` decides, for one event applied in
 * event-time order, whether it continues the cookie's current session or which
 * rule ends that session first. The sessionizer uses exactly this function, so
 * a scorer that calls it sees the same boundaries.
 */
import { createHash } from 'node:crypto';

export interface SessionRules {
  /** A gap strictly greater than this between consecutive events splits the session; an equal gap continues it. */
  readonly inactivityGapMs: number;
  /** An event at `startTime + maxDurationMs` or later starts a new session (sessions last < maxDurationMs). */
  readonly maxDurationMs: number;
  /** A session is closed as soon as it holds this many events. */
  readonly maxEvents: number;
  /** Watermark = max event time seen − graceMs; events older than the watermark are late. */
  readonly graceMs: number;
  /** How many event ids of recently closed sessions are remembered for deduplication (0 disables). */
  readonly dedupeWindow: number;
  /**
   * Cookies with open or pending state one sessionizer (one partition) keeps; beyond it the least
   * recently active is closed as 'evicted' (a memory bound against floods of new cookies). Infinity = no bound.
   */
  readonly maxOpenCookies: number;
}

export const DEFAULT_SESSION_RULES: Readonly<SessionRules> = Object.freeze({
  inactivityGapMs: 30 * 60_000,
  maxDurationMs: 24 * 3_600_000,
  maxEvents: 2000,
  graceMs: 2 * 60_000,
  dedupeWindow: 20_000,
  maxOpenCookies: Number.POSITIVE_INFINITY,
});

/** Fills defaults and validates; throws RangeError on a nonsensical value. Returns a frozen copy. */
export function resolveSessionRules(rules: Partial<SessionRules> = {}): Readonly<SessionRules> {
  const r: SessionRules = { ...DEFAULT_SESSION_RULES, ...rules };
  const check = (name: keyof SessionRules, ok: boolean): void => {
    if (!ok) throw new RangeError(`invalid session rule ${name}: ${String(r[name])}`);
  };
  check('inactivityGapMs', Number.isFinite(r.inactivityGapMs) && r.inactivityGapMs > 0);
  check('maxDurationMs', Number.isFinite(r.maxDurationMs) && r.maxDurationMs > 0);
  check('maxEvents', Number.isInteger(r.maxEvents) && r.maxEvents >= 1);
  check('graceMs', Number.isFinite(r.graceMs) && r.graceMs >= 0);
  check('dedupeWindow', Number.isInteger(r.dedupeWindow) && r.dedupeWindow >= 0);
  check(
    'maxOpenCookies',
    r.maxOpenCookies === Number.POSITIVE_INFINITY ||
      (Number.isInteger(r.maxOpenCookies) && r.maxOpenCookies >= 1),
  );
  return Object.freeze(r);
}

/** Maps the `sessions` block of the loaded config (durations already in ms) onto SessionRules. */
export function sessionRulesFromConfig(sessions: {
  inactivityGap: number;
  maxDuration: number;
  maxEvents: number;
  grace: number;
  dedupeWindow: number;
  maxOpenPerPartition?: number | null;
}): Readonly<SessionRules> {
  return resolveSessionRules({
    inactivityGapMs: sessions.inactivityGap,
    maxDurationMs: sessions.maxDuration,
    maxEvents: sessions.maxEvents,
    graceMs: sessions.grace,
    dedupeWindow: sessions.dedupeWindow,
    maxOpenCookies: sessions.maxOpenPerPartition ?? Number.POSITIVE_INFINITY,
  });
}

export type SessionBoundary = 'continue' | 'gap' | 'max_duration' | 'max_events';

/** What `sessionBoundary` needs to know about the session an event might join. */
export interface SessionSoFar {
  startTime: number;
  lastTime: number;
  count: number;
}

/**
 * Decides what an event at `eventTime` (applied in event-time order) does to the previous session:
 * - `undefined` prev → 'continue' (nothing to close; the event starts the cookie's first session);
 * - prev already holds ≥ maxEvents events → 'max_events' (the sessionizer closes such a session
 *   as soon as it fills, so it only ever sees this if the rules shrank between restarts);
 * - eventTime − lastTime > inactivityGapMs → 'gap' (an exactly equal gap continues);
 * - eventTime − startTime ≥ maxDurationMs → 'max_duration';
 * - otherwise 'continue'.
 * The checks run in that order, so a split that is both a gap and over-long is reported as 'gap'.
 */
export function sessionBoundary(
  prev: SessionSoFar | undefined,
  eventTime: number,
  rules: Pick<SessionRules, 'inactivityGapMs' | 'maxDurationMs' | 'maxEvents'>,
): SessionBoundary {
  if (prev === undefined) return 'continue';
  if (prev.count >= rules.maxEvents) return 'max_events';
  if (eventTime - prev.lastTime > rules.inactivityGapMs) return 'gap';
  if (eventTime - prev.startTime >= rules.maxDurationMs) return 'max_duration';
  return 'continue';
}

/**
 * Deterministic session id: the first 16 hex digits (64 bits) of
 * sha256(JSON.stringify([cookieId, startTime, firstEventId])). It is known as soon as the
 * session's first event is, so a live scorer can compute the same id.
 */
export function sessionIdFor(cookieId: string, startTime: number, firstEventId: string): string {
  return createHash('sha256')
    .update(JSON.stringify([cookieId, startTime, firstEventId]))
    .digest()
    .toString('hex', 0, 8); // the first 16 hex digits, as a flat string (a .slice would pin all 64)
}

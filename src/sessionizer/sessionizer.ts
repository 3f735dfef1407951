/**
 * Pure event-time sessionizer for ONE Kafka partition: no I/O, no clock, no Kafka.
 *
 * - Watermark W = max event_time seen − graceMs (−Infinity before the first accepted event).
 *   It only moves forward (also across a restore that raises graceMs).
 * - push(): 1) duplicate if the event_id is in the cookie's open/pending events or in the
 *   partition-wide FIFO of the last `dedupeWindow` closed event ids (checked first, so a re-sent
 *   old event counts as a duplicate rather than late); 2) late if event_time < W (lateByMs =
 *   W − event_time); 3) otherwise accepted into the cookie's pending buffer, sorted by
 *   (event_time, event_id). An id that fell out of the window is accepted again.
 * - A pending event is final once W > event_time (strict: an event exactly AT W is still
 *   accepted and may sort before it by event_id). Final events are applied in order through
 *   `sessionBoundary` (gap strictly > inactivityGapMs splits; ≥ maxDurationMs from the start
 *   splits; a session is closed the moment it holds maxEvents events).
 * - An open session closes with 'gap' once W > lastTime + inactivityGapMs: every event accepted
 *   from then on (time ≥ W) would split it, including any of the cookie's pending ones.
 * - Each cookie has one deadline, min(earliest pending time, lastTime + gap), in an indexed
 *   min-heap; advance() does one step per due cookie in (deadline, cookie_id) order. Closed
 *   sessions therefore come out ordered by the event time that decided their end (the splitting
 *   or filling event's time, or lastTime + gap for idle closes), ties by cookie_id: a pure
 *   function of the state, so restored instances produce the same sequence.
 * - Memory bound: with more than `maxOpenCookies` cookies held, the least recently pushed one is
 *   evicted: its pending events are applied in order and its session closes as 'evicted'. The order
 *   is the cookie map's insertion order, which snapshots keep, so restores evict identically.
 * - session_id = sessionIdFor(cookie_id, start_time, first event_id) (16 hex of sha256).
 */
import type { CloseReason, SessionTimeline, ShopEvent } from '../schemas/types.js';
import {
  type CookieState,
  hasPending,
  insertPending,
  newCookieState,
  openSessionOf,
  takePending,
} from './cookie.js';
import { DeadlineHeap, RecentIds } from './queue.js';
import { type SessionRules, resolveSessionRules, sessionBoundary, sessionIdFor } from './rules.js';
import type { CookieSnapshot, SessionizerSnapshot } from './state.js';

export type PushResult =
  | { outcome: 'accepted' }
  | { outcome: 'duplicate' }
  | { outcome: 'late'; lateByMs: number };

export interface SessionizerCounters {
  accepted: number;
  duplicates: number;
  late: number;
  closedByReason: Record<CloseReason, number>;
}

const ACCEPTED: PushResult = Object.freeze({ outcome: 'accepted' });
const DUPLICATE: PushResult = Object.freeze({ outcome: 'duplicate' });

function zeroCounters(): SessionizerCounters {
  return {
    accepted: 0,
    duplicates: 0,
    late: 0,
    closedByReason: { gap: 0, max_duration: 0, max_events: 0, end_of_input: 0, evicted: 0 },
  };
}

export class Sessionizer {
  readonly rules: Readonly<SessionRules>;
  private readonly cookies = new Map<string, CookieState>();
  private readonly heap = new DeadlineHeap<CookieState>();
  private recent: RecentIds;
  private closed: SessionTimeline[] = [];
  private maxTime = Number.NEGATIVE_INFINITY;
  private wm = Number.NEGATIVE_INFINITY;
  private pendingCount = 0;
  private readonly c: SessionizerCounters = zeroCounters();

  constructor(rules: Partial<SessionRules> = {}) {
    this.rules = resolveSessionRules(rules);
    this.recent = new RecentIds(this.rules.dedupeWindow);
  }

  /**
   * max event time seen − graceMs; −Infinity before the first accepted event. Never moves back,
   * even when a restore raises graceMs.
   */
  get watermark(): number {
    return this.wm;
  }
  get maxEventTime(): number {
    return this.maxTime;
  }
  /** Cookies with an open session or pending events. */
  get openSessions(): number {
    return this.cookies.size;
  }
  get pendingEvents(): number {
    return this.pendingCount;
  }
  /** Closed sessions waiting for drainClosed(). */
  get undrainedSessions(): number {
    return this.closed.length;
  }
  /** A copy of the counters. */
  get counters(): SessionizerCounters {
    return { ...this.c, closedByReason: { ...this.c.closedByReason } };
  }

  push(event: ShopEvent): PushResult {
    const t = event.event_time;
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new RangeError(`event ${event.event_id}: event_time must be a finite number, got ${String(t)}`);
    }
    let c = this.cookies.get(event.cookie_id);
    if (c?.ids.has(event.event_id) || this.recent.has(event.event_id)) {
      this.c.duplicates++;
      return DUPLICATE;
    }
    const w = this.wm;
    if (t < w) {
      this.c.late++;
      return { outcome: 'late', lateByMs: w - t };
    }
    if (c === undefined) {
      c = newCookieState(event.cookie_id);
      this.cookies.set(c.id, c);
    } else if (this.rules.maxOpenCookies !== Number.POSITIVE_INFINITY) {
      // Bounded: keep `cookies` in least-recently-pushed order (Map insertion order) for eviction.
      this.cookies.delete(c.id);
      this.cookies.set(c.id, c);
    }
    insertPending(c, event);
    c.ids.add(event.event_id);
    this.pendingCount++;
    this.c.accepted++;
    // When the new event is the cookie's earliest pending one its deadline may have moved earlier.
    if (c.pending[c.head] === event) this.heap.set(c, this.deadlineOf(c));
    if (t > this.maxTime) {
      this.maxTime = t;
      if (t - this.rules.graceMs > this.wm) {
        this.wm = t - this.rules.graceMs;
        this.advance();
      }
    }
    while (this.cookies.size > this.rules.maxOpenCookies) this.evictNext();
    return ACCEPTED;
  }

  /**
   * Memory bound: the least recently pushed cookie applies its pending events now, in order, and its
   * open session closes as 'evicted'.
   */
  private evictNext(): void {
    const c = this.cookies.values().next().value as CookieState | undefined;
    if (c === undefined) return;
    while (hasPending(c)) this.step(c);
    this.close(c, 'evicted');
    this.cookies.delete(c.id);
    this.heap.delete(c);
  }

  /** Applies everything the current watermark makes final. push() calls it; calling it again is a no-op. */
  advance(): void {
    const w = this.wm;
    const heap = this.heap;
    for (;;) {
      const c = heap.peek();
      if (c === undefined || c.deadline >= w) return;
      this.step(c);
      if (c.open === null && !hasPending(c)) {
        this.cookies.delete(c.id);
        heap.delete(c);
      } else {
        heap.set(c, this.deadlineOf(c));
      }
    }
  }

  /** Sessions closed since the last drain, in closing order. */
  drainClosed(): SessionTimeline[] {
    const out = this.closed;
    this.closed = [];
    return out;
  }

  /**
   * End of input (batch import): applies every pending event in order (splits by gap,
   * max_duration, max_events as usual), then closes every remaining open session with
   * `reason`, ordered by (end_time, cookie_id). Leaves the sessionizer empty but usable;
   * maxEventTime, counters and the dedupe FIFO are kept.
   */
  flushAll(reason: CloseReason = 'end_of_input'): void {
    const heap = this.heap;
    for (;;) {
      const c = heap.peek();
      if (c === undefined) break;
      if (hasPending(c)) this.step(c);
      if (!hasPending(c)) heap.delete(c);
      else heap.set(c, this.deadlineOf(c));
    }
    const rest: CookieState[] = [];
    for (const c of this.cookies.values()) if (c.open !== null) rest.push(c);
    rest.sort((a, b) => a.open!.lastTime - b.open!.lastTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const c of rest) this.close(c, reason);
    this.cookies.clear();
    heap.clear();
  }

  /**
   * A plain, JSON-serializable copy of the whole state (arrays are fresh; ShopEvent objects are
   * shared and must be treated as immutable). Undrained closed sessions are included, so drain
   * before snapshotting to keep snapshots small.
   */
  snapshot(): SessionizerSnapshot {
    const cookies: CookieSnapshot[] = [];
    for (const c of this.cookies.values()) {
      cookies.push({
        cookie_id: c.id,
        open: c.open === null ? null : c.open.events.slice(),
        pending: c.pending.slice(c.head),
      });
    }
    return {
      version: 1,
      rules: { ...this.rules },
      maxEventTime: Number.isFinite(this.maxTime) ? this.maxTime : null,
      watermark: Number.isFinite(this.wm) ? this.wm : null,
      counters: this.counters,
      cookies,
      recentlyClosedIds: this.recent.toArray(),
      undrained: this.closed.slice(),
    };
  }

  /**
   * Loads an already validated snapshot (use `restoreSessionizer` from state.ts, which validates).
   * With unchanged rules the result behaves exactly like the original; with changed rules anything
   * the new rules make final is applied at once.
   */
  static fromValidSnapshot(s: SessionizerSnapshot, rules: Partial<SessionRules>): Sessionizer {
    const z = new Sessionizer(rules);
    z.maxTime = s.maxEventTime ?? Number.NEGATIVE_INFINITY;
    z.wm = Math.max(s.watermark ?? Number.NEGATIVE_INFINITY, z.maxTime - z.rules.graceMs);
    z.c.accepted = s.counters.accepted;
    z.c.duplicates = s.counters.duplicates;
    z.c.late = s.counters.late;
    Object.assign(z.c.closedByReason, s.counters.closedByReason);
    z.recent = RecentIds.from(s.recentlyClosedIds, z.rules.dedupeWindow);
    z.closed = s.undrained.slice();
    for (const cs of s.cookies) {
      const c = newCookieState(cs.cookie_id, cs.pending.slice());
      if (cs.open !== null && cs.open.length > 0) {
        c.open = openSessionOf(cs.open.slice());
        for (const e of c.open.events) c.ids.add(e.event_id);
      }
      for (const e of c.pending) c.ids.add(e.event_id);
      z.pendingCount += c.pending.length;
      if (c.open === null && c.pending.length === 0) continue;
      z.cookies.set(c.id, c);
      z.heap.set(c, z.deadlineOf(c));
    }
    z.advance();
    return z;
  }

  /** min(earliest pending event time, lastTime + gap); Infinity when the cookie holds nothing. */
  private deadlineOf(c: CookieState): number {
    const p = c.pending[c.head];
    const pt = p === undefined ? Number.POSITIVE_INFINITY : p.event_time;
    if (c.open === null) return pt;
    const g = c.open.lastTime + this.rules.inactivityGapMs;
    return g < pt ? g : pt;
  }

  /** One unit of work for a due cookie: an idle 'gap' close, or applying its earliest pending event. */
  private step(c: CookieState): void {
    const p = c.pending[c.head];
    const open = c.open;
    if (open !== null && (p === undefined || open.lastTime + this.rules.inactivityGapMs < p.event_time)) {
      this.close(c, 'gap');
      return;
    }
    if (p === undefined) return;
    takePending(c);
    this.pendingCount--;
    const t = p.event_time;
    const b = sessionBoundary(open ?? undefined, t, this.rules);
    if (b !== 'continue') this.close(c, b);
    const s = c.open;
    if (s === null) {
      c.open = { startTime: t, lastTime: t, count: 1, events: [p] };
    } else {
      s.events.push(p);
      s.lastTime = t;
      s.count++;
    }
    if (c.open!.count >= this.rules.maxEvents) this.close(c, 'max_events');
  }

  private close(c: CookieState, reason: CloseReason): void {
    const s = c.open;
    if (s === null) return;
    c.open = null;
    const events = s.events;
    for (const e of events) {
      c.ids.delete(e.event_id);
      this.recent.add(e.event_id);
    }
    this.closed.push({
      session_id: sessionIdFor(c.id, s.startTime, events[0]!.event_id),
      cookie_id: c.id,
      start_time: s.startTime,
      end_time: s.lastTime,
      close_reason: reason,
      event_count: s.count,
      events,
    });
    this.c.closedByReason[reason]++;
  }
}

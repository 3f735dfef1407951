/**
 * Pure event-time sessionizer for ONE Kafka partition: no I/O, no clock. See README-style notes
 * in index.ts for the full semantics; in short:
 *
 * - Watermark W = max event_time seen − graceMs (−Infinity before the first accepted event);
 *   it only moves forward.
 * - push(): duplicate check first (same event_id in the cookie's open/pending events, or in the
 *   partition-wide FIFO of recently closed ids), then the late check (event_time < W), else the
 *   event joins the cookie's pending buffer, sorted by (event_time, event_id).
 * - A pending event is final once W > event_time (strictly: an event AT W is still accepted, and
 *   may sort before it by event_id). Final events are applied in order via `sessionBoundary`.
 * - An open session closes with 'gap' once W > lastTime + inactivityGapMs: any event accepted
 *   from then on (time ≥ W) would split it anyway.
 * - Work is driven by a min-heap of per-cookie deadlines (min(earliest pending time,
 *   lastTime + gap)); one step per pop, in (deadline, cookie_id) order, so closed sessions
 *   come out ordered by the event time that decided their end, ties by cookie_id.
 */
import type { CloseReason, SessionTimeline, ShopEvent } from '../schemas/types.js';
import { DeadlineHeap, RecentIds, type Scheduled } from './queue.js';
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

interface OpenSession {
  startTime: number;
  lastTime: number;
  count: number;
  events: ShopEvent[];
}

interface CookieState extends Scheduled {
  open: OpenSession | null;
  /** pending[head..] are the buffered, not yet final events, sorted by (event_time, event_id). */
  pending: ShopEvent[];
  head: number;
  /** Deadline of this cookie's valid heap entry. */
  deadline: number;
  /** event ids of the open session and the pending buffer. */
  ids: Set<string>;
}

const ACCEPTED: PushResult = Object.freeze({ outcome: 'accepted' });
const DUPLICATE: PushResult = Object.freeze({ outcome: 'duplicate' });

function zeroCounters(): SessionizerCounters {
  return {
    accepted: 0,
    duplicates: 0,
    late: 0,
    closedByReason: { gap: 0, max_duration: 0, max_events: 0, end_of_input: 0 },
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
      c = {
        id: event.cookie_id,
        gen: 0,
        open: null,
        pending: [],
        head: 0,
        deadline: Number.NaN,
        ids: new Set(),
      };
      this.cookies.set(c.id, c);
    }
    insertSorted(c, event);
    c.ids.add(event.event_id);
    this.pendingCount++;
    this.c.accepted++;
    if (c.pending[c.head] === event) {
      // The new event is the cookie's earliest pending one: its deadline may have moved earlier.
      const dl = this.deadlineOf(c);
      if (dl !== c.deadline) {
        c.gen++;
        c.deadline = dl;
        this.heap.push(c, dl);
        if (this.heap.size > 2 * this.cookies.size + 1024) this.rebuildHeap();
      }
    }
    if (t > this.maxTime) {
      this.maxTime = t;
      if (t - this.rules.graceMs > this.wm) {
        this.wm = t - this.rules.graceMs;
        this.advance();
      }
    }
    return ACCEPTED;
  }

  /** Applies everything the current watermark makes final. push() calls it; calling it again is a no-op. */
  advance(): void {
    const w = this.wm;
    const heap = this.heap;
    for (;;) {
      const top = heap.peek();
      if (top === undefined || top.deadline >= w) return;
      if (!heap.isValid(top)) {
        heap.pop();
        continue;
      }
      const c = top.item;
      this.step(c);
      c.gen++;
      if (c.open === null && c.head === c.pending.length) {
        this.cookies.delete(c.id);
        heap.pop();
      } else {
        c.deadline = this.deadlineOf(c);
        heap.replaceTop(c, c.deadline);
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
      const top = heap.peek();
      if (top === undefined) break;
      const c = top.item;
      if (!heap.isValid(top) || c.head === c.pending.length) {
        heap.pop();
        continue;
      }
      this.step(c);
      c.gen++;
      if (c.head === c.pending.length) {
        heap.pop();
      } else {
        c.deadline = this.deadlineOf(c);
        heap.replaceTop(c, c.deadline);
      }
    }
    const rest: CookieState[] = [];
    for (const c of this.cookies.values()) {
      c.gen++;
      if (c.open !== null) rest.push(c);
    }
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
      const c: CookieState = {
        id: cs.cookie_id,
        gen: 0,
        open: null,
        pending: cs.pending.slice(),
        head: 0,
        deadline: Number.NaN,
        ids: new Set(),
      };
      if (cs.open !== null && cs.open.length > 0) {
        const events = cs.open.slice();
        c.open = {
          startTime: events[0]!.event_time,
          lastTime: events[events.length - 1]!.event_time,
          count: events.length,
          events,
        };
        for (const e of events) c.ids.add(e.event_id);
      }
      for (const e of c.pending) c.ids.add(e.event_id);
      z.pendingCount += c.pending.length;
      if (c.open === null && c.pending.length === 0) continue;
      z.cookies.set(c.id, c);
      c.deadline = z.deadlineOf(c);
      z.heap.push(c, c.deadline);
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
    c.head++;
    if (c.head === c.pending.length) {
      c.pending = [];
      c.head = 0;
    } else if (c.head >= 1024 && 2 * c.head >= c.pending.length) {
      c.pending = c.pending.slice(c.head);
      c.head = 0;
    }
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

  private rebuildHeap(): void {
    this.heap.clear();
    for (const c of this.cookies.values()) {
      c.gen++;
      c.deadline = this.deadlineOf(c);
      this.heap.push(c, c.deadline);
    }
  }
}

/** Inserts into c.pending[c.head..] keeping (event_time, event_id) order; O(1) for in-order arrivals. */
function insertSorted(c: CookieState, e: ShopEvent): void {
  const a = c.pending;
  const last = a.length > c.head ? a[a.length - 1]! : undefined;
  if (last === undefined || before(last, e)) {
    a.push(e);
    return;
  }
  let lo = c.head;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(a[mid]!, e)) lo = mid + 1;
    else hi = mid;
  }
  a.splice(lo, 0, e);
}

function before(x: ShopEvent, y: ShopEvent): boolean {
  return x.event_time < y.event_time || (x.event_time === y.event_time && x.event_id < y.event_id);
}

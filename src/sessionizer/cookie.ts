/** Per-cookie state of the sessionizer and its pending-buffer helpers (internal). */
import type { ShopEvent } from '../schemas/types.js';
import type { Scheduled } from './queue.js';

export interface OpenSession {
  startTime: number;
  lastTime: number;
  count: number;
  events: ShopEvent[];
}

export interface CookieState extends Scheduled {
  open: OpenSession | null;
  /** pending[head..] are the buffered, not yet final events, sorted by (event_time, event_id). */
  pending: ShopEvent[];
  head: number;
  /** Event ids of the open session and the pending buffer (per-cookie duplicate check). */
  ids: Set<string>;
}

export function newCookieState(id: string, pending: ShopEvent[] = []): CookieState {
  return { id, deadline: 0, heapIndex: -1, open: null, pending, head: 0, ids: new Set() };
}

export function openSessionOf(events: ShopEvent[]): OpenSession {
  return {
    startTime: events[0]!.event_time,
    lastTime: events[events.length - 1]!.event_time,
    count: events.length,
    events,
  };
}

/** (event_time, event_id) order. */
export function before(x: ShopEvent, y: ShopEvent): boolean {
  return x.event_time < y.event_time || (x.event_time === y.event_time && x.event_id < y.event_id);
}

/** Inserts into c.pending[c.head..] keeping (event_time, event_id) order; O(1) for in-order arrivals. */
export function insertPending(c: CookieState, e: ShopEvent): void {
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

/** Removes and returns the earliest pending event (the buffer is compacted as its head advances). */
export function takePending(c: CookieState): ShopEvent | undefined {
  const e = c.pending[c.head];
  if (e === undefined) return undefined;
  c.head++;
  if (c.head === c.pending.length) {
    c.pending = [];
    c.head = 0;
  } else if (c.head >= 1024 && 2 * c.head >= c.pending.length) {
    c.pending = c.pending.slice(c.head);
    c.head = 0;
  }
  return e;
}

export function hasPending(c: CookieState): boolean {
  return c.head < c.pending.length;
}

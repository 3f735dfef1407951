/**
 * Live session state of the scorer: one entry per cookie (its current session), per Kafka partition,
 * with a process-wide LRU bound. Pure bookkeeping: no model, no Kafka, no clock.
 *
 * Sessions follow the ingest rules through `sessionBoundary` (gap / max duration / max events), with
 * one difference the live scorer cannot avoid: events are applied in ARRIVAL order (the scorer cannot
 * wait for stragglers), so an out-of-order event joins the cookie's current session and moves its
 * lastTime only forward. Events older than the partition watermark (max event time − grace) are "late":
 * ingest dead-letters them, the scorer counts and skips them.
 *
 * Runs ("chains") of sessions: a cookie's sessions not separated by an inactivity gap (i.e. split by
 * max_duration or max_events) form a chain. A chain starts at an event more than the gap after the
 * latest event time of the cookie's previous chain. Everything the scorer holds for a cookie is a
 * function of the events of its current chain, the partition's max event time before the chain began,
 * and the events after; that is what makes the restart rebuild (see `rebuildPoint`) exact.
 */
import type { StepEvent } from '../features/index.js';
import type { ShopEvent } from '../schemas/types.js';
import { type SessionRules, sessionBoundary, sessionIdFor } from '../sessionizer/rules.js';
import type { EmitMemory } from './emission.js';

export interface LiveSession extends EmitMemory {
  readonly cookieId: string;
  readonly partition: number;
  readonly sessionId: string;
  /** Event time of the session's first event (in arrival order). */
  readonly startTime: number;
  /** Largest event time in the session. */
  lastTime: number;
  /** Events applied to the session (duplicates and late events excluded). */
  count: number;
  /** The model state after the session's last event (initial state before the first step). */
  state: unknown;
  /**
   * The most recent maxBufferedEvents events, oldest first, for recomputing the state under a new model
   * and as the `previous` of the next step. Flat, BUFFER_STRIDE slots per event (see bufferedEvent):
   * 500,000 sessions × 5 events as objects cost a third more heap.
   */
  buffer: BufferSlot[];
  /** All event ids of the session once it outgrew the buffer (before that, the buffer is scanned). */
  ids: Set<string> | undefined;
  /** Offset, event time and partition max event time (before it) of the chain's first event. */
  readonly chainStartOffset: number;
  readonly chainStartTime: number;
  readonly chainStartMaxTime: number;
  /** Largest event time of the whole chain. */
  chainLastTime: number;
  /** Recency stamp (process-wide) for LRU eviction across partitions. */
  touched: number;
}

/** A slot of LiveSession.buffer: a string field, null, or the event time relative to startTime, or the price. */
export type BufferSlot = string | number | null;
/** Slots per buffered event: event_id, event_type, event_time − startTime, item_id, category_id, price, device, referrer. */
export const BUFFER_STRIDE = 8;

/** Events in the session's buffer. */
export function bufferedCount(s: LiveSession): number {
  return s.buffer.length / BUFFER_STRIDE;
}

/** The i-th buffered event (0 = oldest) as a fresh StepEvent. */
export function bufferedEvent(s: LiveSession, i: number): StepEvent {
  const b = s.buffer;
  const o = i * BUFFER_STRIDE;
  return {
    event_id: b[o] as string,
    event_type: b[o + 1] as string,
    event_time: s.startTime + (b[o + 2] as number), // integers below 2^53: exact
    item_id: b[o + 3] as string | null,
    category_id: b[o + 4] as string | null,
    price: b[o + 5] as number | null,
    device: b[o + 6] as string | null,
    referrer: b[o + 7] as string | null,
  };
}

export type ApplyResult =
  | { outcome: 'scored'; session: LiveSession; previous: StepEvent | undefined; newSession: boolean }
  | { outcome: 'duplicate' }
  | { outcome: 'late'; lateByMs: number };

/** Where a restarted scorer must start reading a partition to rebuild this state exactly (see scorer.ts). */
export interface RebuildPoint {
  /** First offset to re-read (= nextOffset when nothing is live). */
  offset: number;
  /** The partition's max event time before that offset (null before any event). */
  maxTime: number | null;
  /** Live chains older than the rebuild window: a rebuild would reproduce them only from `offset`. */
  truncated: number;
}

export interface SessionTableOptions {
  rules: Pick<SessionRules, 'inactivityGapMs' | 'maxDurationMs' | 'maxEvents' | 'graceMs'>;
  maxOpenSessions: number;
  maxBufferedEvents: number;
  /** Chains that began more than this before the partition's max event time are left out of the rebuild point. */
  rebuildWindowMs: number;
  /** Model state of a new session. */
  initialState: () => unknown;
}

/**
 * Shares the strings of low-cardinality fields between buffered events (a decoded event holds its
 * own copy of every string). The table stops growing at `max` entries; later strings stay unshared.
 */
export function createInterner(max = 100_000): (s: string | null) => string | null {
  const table = new Map<string, string>();
  return (s) => {
    if (s === null) return null;
    const hit = table.get(s);
    if (hit !== undefined) return hit;
    if (table.size < max) table.set(s, s);
    return s;
  };
}

export class PartitionSessions {
  /** cookie_id → current session, least recently active first. */
  readonly sessions = new Map<string, LiveSession>();
  /** chain start offset → the chain's current session, in offset order (oldest chain first). */
  readonly chains = new Map<number, LiveSession>();
  /** Largest event time applied (−Infinity before the first). */
  maxTime = Number.NEGATIVE_INFINITY;
  /** Offset after the last applied message. */
  nextOffset = 0;

  constructor(readonly partition: number) {}
}

export class SessionTable {
  private readonly parts = new Map<number, PartitionSessions>();
  private readonly rules: SessionTableOptions['rules'];
  private readonly maxOpen: number;
  private readonly maxBuffered: number;
  private readonly windowMs: number;
  private readonly initialState: () => unknown;
  private readonly intern = createInterner();
  private tick = 0;
  private openCount = 0;
  /** Sessions dropped for capacity (least recently active first) since creation. */
  evicted = 0;
  /** Sessions dropped because no future non-late event can continue them. */
  expired = 0;

  constructor(options: SessionTableOptions) {
    this.rules = options.rules;
    this.maxOpen = options.maxOpenSessions;
    this.maxBuffered = options.maxBufferedEvents;
    this.windowMs = options.rebuildWindowMs;
    this.initialState = options.initialState;
    if (!(Number.isInteger(this.maxOpen) && this.maxOpen >= 1))
      throw new RangeError('maxOpenSessions must be >= 1');
    if (!(Number.isInteger(this.maxBuffered) && this.maxBuffered >= 1))
      throw new RangeError('maxBufferedEvents must be >= 1');
  }

  get openSessions(): number {
    return this.openCount;
  }

  partition(p: number): PartitionSessions {
    let part = this.parts.get(p);
    if (!part) {
      part = new PartitionSessions(p);
      this.parts.set(p, part);
    }
    return part;
  }

  has(p: number): boolean {
    return this.parts.has(p);
  }

  partitions(): IterableIterator<PartitionSessions> {
    return this.parts.values();
  }

  /** Forgets a partition (revoked, or its state is no longer trusted). */
  dropPartition(p: number): void {
    const part = this.parts.get(p);
    if (!part) return;
    this.openCount -= part.sessions.size;
    this.parts.delete(p);
  }

  /**
   * Applies one decoded event (at `offset`, in arrival order) to the cookie's live session: duplicate
   * and lateness checks, session boundary, chain bookkeeping, buffer. Does not touch the model state.
   */
  apply(part: PartitionSessions, event: ShopEvent, offset: number): ApplyResult {
    const t = event.event_time;
    const rules = this.rules;
    let s = part.sessions.get(event.cookie_id);
    if (s !== undefined && this.isDuplicate(s, event.event_id)) {
      part.nextOffset = offset + 1;
      return { outcome: 'duplicate' };
    }
    const watermark = part.maxTime - rules.graceMs;
    if (t < watermark) {
      part.nextOffset = offset + 1;
      return { outcome: 'late', lateByMs: watermark - t };
    }
    let newSession = false;
    if (s === undefined || sessionBoundary(s, t, rules) !== 'continue') {
      const newChain = s === undefined || t - s.chainLastTime > rules.inactivityGapMs;
      const next = this.newSession(part, event, newChain ? undefined : s, offset);
      if (s !== undefined) {
        part.sessions.delete(s.cookieId);
        if (newChain) part.chains.delete(s.chainStartOffset);
      } else {
        this.openCount++;
      }
      part.sessions.set(next.cookieId, next);
      part.chains.set(next.chainStartOffset, next); // an inherited chain keeps its place in offset order
      s = next;
      newSession = true;
    } else {
      // LRU: re-inserting moves the cookie to the most recently active end.
      part.sessions.delete(s.cookieId);
      part.sessions.set(s.cookieId, s);
    }
    const held = bufferedCount(s);
    const previous = held === 0 ? undefined : bufferedEvent(s, held - 1);
    s.count++;
    if (t > s.lastTime) s.lastTime = t;
    if (t > s.chainLastTime) s.chainLastTime = t;
    s.touched = ++this.tick;
    if (held === this.maxBuffered && s.ids === undefined) {
      s.ids = new Set();
      for (let o = 0; o < s.buffer.length; o += BUFFER_STRIDE) s.ids.add(s.buffer[o] as string);
    }
    this.append(s, event, held === this.maxBuffered);
    s.ids?.add(event.event_id);
    if (t > part.maxTime) part.maxTime = t;
    part.nextOffset = offset + 1;
    if (newSession && this.openCount > this.maxOpen) this.evictLeastRecent();
    return { outcome: 'scored', session: s, previous, newSession };
  }

  /** Marks `offset` consumed without an event (a message that did not decode). */
  skip(part: PartitionSessions, offset: number): void {
    part.nextOffset = offset + 1;
  }

  /**
   * Drops sessions no future non-late event can continue (the chain's last event is more than the gap
   * behind the watermark): invisible to the scores, it only frees memory. Walks from the least
   * recently active end and stops at the first live one, so each call costs O(dropped + 1).
   */
  expire(part: PartitionSessions): number {
    let dropped = 0;
    for (const s of part.sessions.values()) {
      if (!this.isDead(part, s)) break;
      this.remove(part, s);
      dropped++;
    }
    this.expired += dropped;
    return dropped;
  }

  /**
   * The rebuild point of a partition: the start of its oldest live chain that began within the rebuild
   * window (chains that began earlier are counted as truncated), with the max event time before it.
   * Replaying the partition from there with that max event time reproduces every other live session
   * exactly. Dead sessions met on the way are dropped.
   */
  rebuildPoint(part: PartitionSessions): RebuildPoint {
    const cutoff = part.maxTime - this.windowMs;
    let truncated = 0;
    for (const [offset, s] of part.chains) {
      if (this.isDead(part, s)) {
        this.remove(part, s);
        this.expired++;
        continue;
      }
      if (s.chainStartTime < cutoff) {
        truncated++;
        continue;
      }
      return { offset, maxTime: finiteOrNull(s.chainStartMaxTime), truncated };
    }
    return { offset: part.nextOffset, maxTime: finiteOrNull(part.maxTime), truncated };
  }

  /**
   * Appends what a session keeps of an event: buffered events are held for as long as their session
   * lives (500,000 sessions × 5 events), so only the fields the step encoding reads (a StepEvent's 8
   * of the event's 12), repeated strings interned, the time as a small integer, in a new array of
   * exactly the needed length (a pushed-to array keeps up to half again as spare capacity).
   * `full`: the oldest event makes room.
   */
  private append(s: LiveSession, event: ShopEvent, full: boolean): void {
    const intern = this.intern;
    const old = s.buffer;
    const from = full ? BUFFER_STRIDE : 0;
    const next: BufferSlot[] = new Array(old.length - from + BUFFER_STRIDE);
    let o = 0;
    for (let i = from; i < old.length; i++) next[o++] = old[i]!;
    next[o++] = event.event_id;
    next[o++] = intern(event.event_type);
    next[o++] = event.event_time - s.startTime;
    next[o++] = intern(event.item_id);
    next[o++] = intern(event.category_id);
    next[o++] = event.price;
    next[o++] = intern(event.device);
    next[o] = intern(event.referrer);
    s.buffer = next;
  }

  private isDead(part: PartitionSessions, s: LiveSession): boolean {
    return s.chainLastTime + this.rules.inactivityGapMs < part.maxTime - this.rules.graceMs;
  }

  private isDuplicate(s: LiveSession, eventId: string): boolean {
    if (s.ids !== undefined) return s.ids.has(eventId);
    const buffer = s.buffer;
    for (let o = buffer.length - BUFFER_STRIDE; o >= 0; o -= BUFFER_STRIDE)
      if (buffer[o] === eventId) return true;
    return false;
  }

  private newSession(
    part: PartitionSessions,
    event: ShopEvent,
    chainOf: LiveSession | undefined,
    offset: number,
  ): LiveSession {
    const t = event.event_time;
    return {
      cookieId: event.cookie_id,
      partition: part.partition,
      sessionId: sessionIdFor(event.cookie_id, t, event.event_id),
      startTime: t,
      lastTime: t,
      count: 0,
      state: this.initialState(),
      buffer: [],
      ids: undefined,
      lastScored: Number.NaN,
      lastEmitted: Number.NaN,
      chainStartOffset: chainOf?.chainStartOffset ?? offset,
      chainStartTime: chainOf?.chainStartTime ?? t,
      chainStartMaxTime: chainOf?.chainStartMaxTime ?? part.maxTime,
      chainLastTime: chainOf?.chainLastTime ?? t,
      touched: 0,
    };
  }

  private remove(part: PartitionSessions, s: LiveSession): void {
    part.sessions.delete(s.cookieId);
    part.chains.delete(s.chainStartOffset);
    this.openCount--;
  }

  /** Evicts the least recently active session of the whole process (O(partitions)). */
  private evictLeastRecent(): void {
    let victim: LiveSession | undefined;
    let victimPart: PartitionSessions | undefined;
    for (const part of this.parts.values()) {
      const head = part.sessions.values().next().value as LiveSession | undefined;
      if (head !== undefined && (victim === undefined || head.touched < victim.touched)) {
        victim = head;
        victimPart = part;
      }
    }
    if (victim && victimPart) {
      this.remove(victimPart, victim);
      this.evicted++;
    }
  }
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGenerator } from '../../src/generator/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { ScorerCore } from '../../src/scoring/core.js';
import {
  type ApplyResult,
  type LiveSession,
  SessionTable,
  bufferedCount,
  bufferedEvent,
} from '../../src/scoring/live-sessions.js';
import { Sessionizer, resolveSessionRules, sessionIdFor } from '../../src/sessionizer/index.js';
import { shopEvent } from '../helpers/events.js';
import { initializedStepModel } from '../helpers/models.js';

const bufferedIds = (s: LiveSession) =>
  Array.from({ length: bufferedCount(s) }, (_, i) => bufferedEvent(s, i).event_id);

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1);
const rules = resolveSessionRules({
  inactivityGapMs: 30 * MIN,
  maxDurationMs: 24 * 60 * MIN,
  maxEvents: 2000,
  graceMs: 2 * MIN,
});

function ev(cookie: string, id: string, minutes: number, type = 'page_view'): ShopEvent {
  return shopEvent({ cookie_id: cookie, event_id: id, event_type: type, event_time: T0 + minutes * MIN });
}

function table(overrides: Partial<ConstructorParameters<typeof SessionTable>[0]> = {}) {
  return new SessionTable({
    rules,
    maxOpenSessions: 1000,
    maxBufferedEvents: 50,
    rebuildWindowMs: 60 * MIN,
    initialState: () => 0,
    ...overrides,
  });
}

const outcome = (r: ApplyResult) => r.outcome;
const sessionOf = (r: ApplyResult) => (r.outcome === 'scored' ? r.session.sessionId : undefined);

describe('scorer live sessions', () => {
  it('cuts sessions exactly where the ingest sessionizer does (shared sessionBoundary, same session ids)', () => {
    // In-order, duplicate-free traffic with tight rules so gap, max_duration and max_events cuts all happen.
    const tight = resolveSessionRules({
      inactivityGapMs: 10 * MIN,
      maxDurationMs: 15 * MIN,
      maxEvents: 12,
      graceMs: 0,
    });
    const events: ShopEvent[] = [];
    for (const item of createGenerator({
      seed: 7,
      cookies: 200,
      maxEvents: 20_000,
      outOfOrderRate: 0,
      duplicateRate: 0,
    })) {
      if (item.kind === 'event') events.push(item.event);
    }
    const sessionizer = new Sessionizer(tight);
    for (const e of events) sessionizer.push(e);
    sessionizer.flushAll();
    const expected = new Map<string, [string, number]>();
    const reasons = new Set<string>();
    for (const s of sessionizer.drainClosed()) {
      reasons.add(s.close_reason);
      s.events.forEach((e, i) => expected.set(e.event_id, [s.session_id, i + 1]));
    }
    for (const r of ['gap', 'max_duration', 'max_events'])
      assert.ok(reasons.has(r), `ingest cut sessions by ${r}`);
    const core = new ScorerCore({
      rules: tight,
      maxOpenSessions: 100_000,
      maxBufferedEvents: 50,
      rebuildWindowMs: 60 * MIN,
      emit: { policy: 'every', delta: 0.1, threshold: 0.5 },
      positiveClass: 'purchase',
      model: initializedStepModel('v1'),
    });
    const actual = new Map<string, [string, number]>();
    for (let i = 0; i < events.length; i += 500) {
      const items = events.slice(i, i + 500).map((event, k) => ({ offset: i + k, event }));
      for (const p of core.process(0, items, true).predictions) {
        actual.set(p.event_id, [p.session_id, p.events_in_session]);
      }
    }
    assert.equal(actual.size, expected.size, 'every event scored once');
    assert.deepEqual(actual, expected, 'same session id and position for every event');
  });

  it('buffers the step fields of the most recent events exactly, and hands the last one as the next previous', () => {
    const t = table({ maxBufferedEvents: 3 });
    const part = t.partition(0);
    const step = (e: ShopEvent) => ({
      event_id: e.event_id,
      event_type: e.event_type,
      event_time: e.event_time,
      item_id: e.item_id,
      category_id: e.category_id,
      price: e.price,
      device: e.device,
      referrer: e.referrer,
    });
    const events = [
      shopEvent({ cookie_id: 'a', event_id: 'a1', event_type: 'page_view', event_time: T0 + 5 * MIN }),
      shopEvent({
        ...{ cookie_id: 'a', event_id: 'a2', event_type: 'add_to_cart', event_time: T0 + 4 * MIN }, // before start, within grace
        ...{ item_id: 'i1', category_id: 'c1', price: 19.99, device: 'mobile', referrer: 'ads' },
      }),
      shopEvent({
        cookie_id: 'a',
        event_id: 'a3',
        event_type: 'page_view',
        event_time: T0 + 6 * MIN,
        price: 3,
      }),
      shopEvent({
        cookie_id: 'a',
        event_id: 'a4',
        event_type: 'purchase',
        event_time: T0 + 7 * MIN,
        price: 0.1,
      }),
    ];
    const previous: unknown[] = [];
    for (const [i, e] of events.entries()) {
      const r = t.apply(part, e, i);
      assert.equal(r.outcome, 'scored');
      if (r.outcome === 'scored') previous.push(r.previous);
    }
    assert.deepEqual(previous, [undefined, ...events.slice(0, 3).map(step)], 'previous events');
    const s = part.sessions.get('a')!;
    assert.equal(bufferedCount(s), 3, 'the oldest event made room');
    assert.deepEqual(
      [0, 1, 2].map((i) => bufferedEvent(s, i)),
      events.slice(1).map(step),
      'buffered step fields',
    );
  });

  it('skips duplicate event ids of the live session, also after the buffer overflows', () => {
    const t = table({ maxBufferedEvents: 3 });
    const part = t.partition(0);
    let offset = 0;
    const apply = (e: ShopEvent) => t.apply(part, e, offset++);
    for (let i = 0; i < 5; i++) assert.equal(outcome(apply(ev('a', `a${i}`, i))), 'scored');
    assert.equal(outcome(apply(ev('a', 'a0', 5))), 'duplicate', 'an id that left the buffer is still known');
    assert.equal(outcome(apply(ev('a', 'a4', 5))), 'duplicate');
    assert.equal(part.sessions.get('a')!.count, 5);
    assert.deepEqual(
      bufferedIds(part.sessions.get('a')!),
      ['a2', 'a3', 'a4'],
      'the buffer holds the most recent events',
    );
    assert.equal(part.nextOffset, offset, 'skipped messages still advance the position');
  });

  it('scores out-of-order events in arrival order; events behind the watermark are late and skipped', () => {
    const t = table();
    const part = t.partition(0);
    const first = t.apply(part, ev('a', 'a1', 10), 0);
    const early = t.apply(part, ev('a', 'a0', 9), 1); // 1 minute out of order: joins the session
    assert.equal(sessionOf(early), sessionOf(first));
    assert.equal(part.sessions.get('a')!.lastTime, T0 + 10 * MIN, 'lastTime never moves back');
    assert.equal(
      part.sessions.get('a')!.startTime,
      T0 + 10 * MIN,
      'the first ARRIVED event starts the session',
    );
    t.apply(part, ev('b', 'b1', 20), 2); // watermark = 20 − 2 = 18 min
    const late = t.apply(part, ev('a', 'a2', 17), 3);
    assert.deepEqual(late, { outcome: 'late', lateByMs: MIN });
    assert.equal(part.sessions.get('a')!.count, 2);
  });

  it('starts a new session (new id, count from 1) after a gap, and keeps gap cuts in one chain only when shorter', () => {
    const t = table();
    const part = t.partition(0);
    const a1 = t.apply(part, ev('a', 'a1', 0), 0);
    const a2 = t.apply(part, ev('a', 'a2', 31), 1);
    assert.notEqual(sessionOf(a1), sessionOf(a2));
    assert.equal(sessionOf(a2), sessionIdFor('a', T0 + 31 * MIN, 'a2'));
    assert.ok(a2.outcome === 'scored' && a2.newSession && a2.session.count === 1, 'counts restart');
    assert.deepEqual([...part.chains.keys()], [1], 'a gap split starts a new chain');
  });

  it('keeps a max_events split in the same chain (the rebuild must replay from the chain start)', () => {
    const t = table({ rules: { ...rules, maxEvents: 3 } });
    const part = t.partition(0);
    for (let i = 0; i < 7; i++) t.apply(part, ev('bot', `x${i}`, i), i);
    const s = part.sessions.get('bot')!;
    assert.equal(s.count, 1, 'third session holds the 7th event');
    assert.equal(s.chainStartOffset, 0);
    assert.deepEqual([...part.chains.keys()], [0]);
    assert.deepEqual(t.rebuildPoint(part), { offset: 0, maxTime: null, truncated: 0 });
  });

  it('rebuild point: oldest live chain within the window, with the max event time before it; older chains are counted as truncated', () => {
    const t = table({ rebuildWindowMs: 60 * MIN });
    const part = t.partition(0);
    // "long" is active every 20 minutes from minute 0: one chain that outlives the window.
    let offset = 0;
    t.apply(part, ev('long', 'l0', 0), offset++);
    t.apply(part, ev('x', 'x0', 5), offset++);
    t.apply(part, ev('long', 'l1', 20), offset++);
    t.apply(part, ev('y', 'y0', 39), offset++); // offset 3: chain start, max time before = 20 min
    t.apply(part, ev('long', 'l2', 40), offset++);
    t.apply(part, ev('long', 'l3', 60), offset++);
    t.apply(part, ev('y', 'y1', 65), offset++);
    t.apply(part, ev('long', 'l4', 80), offset++);
    // max time 80 min; window 60 → cutoff 20 min. "long" began at 0 (truncated); "x" is dead
    // (5 + 30 < 80 − 2); "y" began at 39 and is still live → the rebuild starts at y's offset 3.
    assert.deepEqual(t.rebuildPoint(part), { offset: 3, maxTime: T0 + 20 * MIN, truncated: 1 });
    assert.equal(part.sessions.has('x'), false, 'dead sessions are dropped on the way');
  });

  it('rebuild point is the next offset when nothing is live', () => {
    const t = table();
    const part = t.partition(0);
    t.apply(part, ev('a', 'a1', 0), 0);
    t.apply(part, ev('b', 'b1', 100), 1);
    t.skip(part, 2);
    assert.deepEqual(t.rebuildPoint(part), { offset: 1, maxTime: T0, truncated: 0 });
    const empty = table().partition(3);
    empty.nextOffset = 42;
    assert.deepEqual(table().rebuildPoint(empty), { offset: 42, maxTime: null, truncated: 0 });
  });

  it('expires sessions idle beyond the gap behind the watermark, least recently active first', () => {
    const t = table();
    const part = t.partition(0);
    t.apply(part, ev('a', 'a1', 0), 0);
    t.apply(part, ev('b', 'b1', 10), 1);
    t.apply(part, ev('c', 'c1', 40), 2); // watermark 38: a is dead (0 + 30 < 38), b is not (10 + 30 ≥ 38)
    assert.equal(t.expire(part), 1);
    assert.deepEqual([...part.sessions.keys()], ['b', 'c']);
    assert.equal(t.openSessions, 2);
    assert.equal(t.expired, 1);
  });

  it('evicts the least recently active session of the process when over maxOpenSessions (O(1) LRU per touch)', () => {
    const t = table({ maxOpenSessions: 3 });
    const p0 = t.partition(0);
    const p1 = t.partition(1);
    t.apply(p0, ev('a', 'a1', 0), 0);
    t.apply(p1, ev('b', 'b1', 0), 0);
    t.apply(p0, ev('c', 'c1', 1), 1);
    t.apply(p0, ev('a', 'a2', 2), 2); // touching a makes b the least recently active
    t.apply(p1, ev('d', 'd1', 3), 1);
    assert.equal(t.evicted, 1);
    assert.equal(t.openSessions, 3);
    assert.deepEqual([...p0.sessions.keys()], ['c', 'a']);
    assert.deepEqual([...p1.sessions.keys()], ['d'], 'b (partition 1) was evicted');
    assert.equal(p1.chains.size, 1, 'its chain is forgotten too');
    t.apply(p1, ev('b', 'b2', 4), 2);
    assert.equal(p1.sessions.get('b')!.count, 1, 'an evicted cookie starts a new session');
    assert.deepEqual([...p0.sessions.keys()], ['a'], 'c was next');
  });

  it('forgets a dropped partition', () => {
    const t = table();
    t.apply(t.partition(0), ev('a', 'a1', 0), 0);
    t.apply(t.partition(1), ev('b', 'b1', 0), 0);
    t.dropPartition(0);
    assert.equal(t.openSessions, 1);
    assert.equal(t.has(0), false);
  });
});

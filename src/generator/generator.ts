/**
 * Seeded synthetic tracker traffic in EMISSION order.
 *
 * Every cookie is a lazy state machine (see cookie.ts); a binary heap keyed by
 * each cookie's next event time interleaves them, so the clean stream is in
 * non-decreasing event time across cookies with memory bounded by the number of
 * cookies. A mess layer, driven by its own random stream, then
 *  - holds back `outOfOrderRate` of the events and emits them 1-5 s (event time)
 *    later, i.e. after events up to 5 s newer than themselves;
 *  - re-emits `duplicateRate` of the events 0-3 s later with the same event_id and content;
 *  - after `malformedRate` of the events emits an extra malformed message;
 *  - yields each session's oracle record right after its last event (`emitOracle`).
 * Output is a pure function of the options: iterating twice gives the same items.
 */
import type { ShopEvent } from '../schemas/types.js';
import { MinHeap } from '../util/heap.js';
import { Rng, hash32 } from '../util/random.js';
import { Catalogue } from './catalogue.js';
import { Cookie, type CookieEnv } from './cookie.js';
import { makeMalformed } from './malformed.js';
import { taxonomyOf } from './taxonomy.js';
import type { EventItem, GeneratedItem, GeneratorOptions, ResolvedGeneratorOptions } from './types.js';

export const DEFAULT_START_TIME = Date.UTC(2026, 10, 1); // 2026-11-01T00:00:00Z
export const DAY_MS = 86_400_000;
/** Upper bound on how far (event time) an out-of-order event trails events emitted before it. */
export const MAX_OUT_OF_ORDER_MS = 5_000;
/** Upper bound on how far a duplicate trails its original. */
export const MAX_DUPLICATE_DELAY_MS = 3_000;

export interface TrafficGenerator extends Iterable<GeneratedItem> {
  readonly options: ResolvedGeneratorOptions;
}

function rate(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  return value;
}

function count(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: GeneratorOptions = {}): ResolvedGeneratorOptions {
  const maxEvents = options.maxEvents ?? Number.POSITIVE_INFINITY;
  if (!(maxEvents >= 0)) throw new RangeError(`maxEvents must be >= 0, got ${maxEvents}`);
  const durationMs = options.durationMs ?? DAY_MS;
  if (!(durationMs > 0)) throw new RangeError(`durationMs must be > 0, got ${durationMs}`);
  const startTime = options.startTime ?? DEFAULT_START_TIME;
  if (!Number.isFinite(startTime)) throw new RangeError(`startTime must be finite, got ${startTime}`);
  const meanSessionGapMs = options.meanSessionGapMs ?? 6 * 3_600_000;
  if (!(meanSessionGapMs > 0)) throw new RangeError(`meanSessionGapMs must be > 0, got ${meanSessionGapMs}`);
  const items = options.items ?? 5_000;
  const categories = options.categories ?? 50;
  if (!(items >= 1 && categories >= 1)) throw new RangeError('items and categories must be >= 1');
  return {
    seed: (options.seed ?? 1) >>> 0,
    cookies: count('cookies', options.cookies ?? 5_000),
    startTime: Math.floor(startTime),
    durationMs,
    outOfOrderRate: rate('outOfOrderRate', options.outOfOrderRate ?? 0.02),
    duplicateRate: rate('duplicateRate', options.duplicateRate ?? 0.01),
    botCookies: count('botCookies', options.botCookies ?? 2),
    malformedRate: rate('malformedRate', options.malformedRate ?? 0),
    maxEvents,
    emitOracle: options.emitOracle ?? false,
    meanSessionGapMs,
    items: count('items', items),
    categories: count('categories', categories),
    taxonomy: taxonomyOf(options.taxonomy ?? 'ours').name,
  };
}

/** A re-iterable, deterministic stream of generated items (see the module comment). */
export function createGenerator(options: GeneratorOptions = {}): TrafficGenerator {
  const resolved = resolveOptions(options);
  return {
    options: resolved,
    [Symbol.iterator]: () => generate(resolved),
  };
}

function* generate(o: ResolvedGeneratorOptions): Generator<GeneratedItem, void, undefined> {
  if (o.maxEvents === 0) return;
  const env: CookieEnv = {
    catalogue: new Catalogue(o.items, o.categories),
    seed: o.seed,
    startTime: o.startTime,
    endTime: o.startTime + o.durationMs,
    meanSessionGapMs: o.meanSessionGapMs,
    emitOracle: o.emitOracle,
    taxonomy: o.taxonomy === 'ours' ? null : taxonomyOf(o.taxonomy),
  };
  const sessionIds = env.taxonomy?.sessionIdColumn ?? false;
  const cookies = new MinHeap<Cookie>();
  for (let i = 0; i < o.cookies + o.botCookies; i++) {
    const cookie = new Cookie(i, i >= o.cookies, env);
    if (!cookie.done) cookies.push(cookie.nextTime, i, cookie);
  }
  const mess = new Rng(hash32(o.seed, 0x6d657373)); // 'mess'
  const delayed = new MinHeap<EventItem>();
  let delayedSeq = 0;
  let emitted = 0;

  while (cookies.size > 0) {
    const cookie = cookies.peek() as Cookie;
    while (delayed.peekKey() <= cookie.nextTime) {
      yield delayed.pop() as EventItem;
      if (++emitted >= o.maxEvents) return;
    }
    const session = sessionIds ? cookie.sessionKey : undefined;
    const event = cookie.takeEvent();
    const item: EventItem =
      session === undefined ? { kind: 'event', event } : { kind: 'event', event, session };
    const sessionEnd = cookie.advance();
    if (cookie.done) cookies.pop();
    else cookies.updateTopKey(cookie.nextTime);

    if (o.outOfOrderRate > 0 && mess.chance(o.outOfOrderRate)) {
      delayed.push(event.event_time + mess.int(1_000, MAX_OUT_OF_ORDER_MS), delayedSeq++, item);
    } else {
      yield item;
      if (++emitted >= o.maxEvents) return;
    }
    if (o.duplicateRate > 0 && mess.chance(o.duplicateRate)) {
      const copy: ShopEvent = { ...event, extras: { ...event.extras } };
      delayed.push(
        event.event_time + mess.int(0, MAX_DUPLICATE_DELAY_MS),
        delayedSeq++,
        session === undefined ? { kind: 'event', event: copy } : { kind: 'event', event: copy, session },
      );
    }
    if (o.malformedRate > 0 && mess.chance(o.malformedRate)) yield makeMalformed(mess, event);
    if (sessionEnd !== null) yield sessionEnd;
  }
  while (delayed.size > 0) {
    yield delayed.pop() as EventItem;
    if (++emitted >= o.maxEvents) return;
  }
}

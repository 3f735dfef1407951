import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BROWSE_EVENT_TYPES,
  type BehaviourStep,
  Catalogue,
  DEFAULT_START_TIME,
  DEVICES,
  type GeneratedItem,
  type GeneratorOptions,
  MALFORMED_CLASSES,
  MAX_DUPLICATE_DELAY_MS,
  MAX_OUT_OF_ORDER_MS,
  type MalformedItem,
  REFERRERS,
  Rng,
  SHOP2_EVENT_TYPES,
  SHOP2_NOISE_EVENTS,
  SHOP2_ROLES,
  type SessionContext,
  type SessionEndItem,
  WeightedTable,
  createGenerator,
  createPacer,
  priceOf,
  purchaseProbability,
  stepsFromEvents,
  taxonomyOf,
  toNdjsonLine,
} from '../../src/generator/index.js';
import { KNOWN_EVENT_TYPES, type ShopEvent } from '../../src/schemas/types.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function take(options: GeneratorOptions, n = Number.POSITIVE_INFINITY): GeneratedItem[] {
  const out: GeneratedItem[] = [];
  if (n <= 0) return out;
  for (const item of createGenerator(options)) {
    out.push(item);
    if (out.length >= n) break;
  }
  return out;
}

const eventsOf = (items: GeneratedItem[]): ShopEvent[] =>
  items.flatMap((i) => (i.kind === 'event' ? [i.event] : []));
const sessionsOf = (items: GeneratedItem[]): SessionEndItem[] =>
  items.flatMap((i) => (i.kind === 'session_end' ? [i] : []));

/** One mid-sized run with oracle records, shared by the read-only checks below. */
interface Run {
  items: GeneratedItem[];
  events: ShopEvent[];
  byId: Map<string, ShopEvent>;
  sessions: SessionEndItem[];
  human: SessionEndItem[];
}
let cachedRun: Run | undefined;
function run(): Run {
  if (cachedRun) return cachedRun;
  const items = take({ seed: 11, cookies: 1_500, emitOracle: true });
  const events = eventsOf(items);
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const sessions = sessionsOf(items);
  cachedRun = { items, events, byId, sessions, human: sessions.filter((s) => !s.bot) };
  return cachedRun;
}

function sessionEvents(r: Run, s: SessionEndItem): ShopEvent[] {
  return s.eventIds.map((id) => {
    const e = r.byId.get(id);
    assert.ok(e, `event ${id} of ${s.sessionKey} was never emitted`);
    return e;
  });
}

/** Mann-Whitney AUC with tie handling. */
function auc(scores: number[], labels: boolean[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k] as number]) {
        rankSumPos += rank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = order.length - nPos;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Ridge logistic regression fitted by Newton's method (IRLS). Returns the weights. */
function fitLogistic(X: number[][], y: number[], lambda = 1e-2, iterations = 30): number[] {
  const d = (X[0] as number[]).length;
  let w = new Array<number>(d).fill(0);
  for (let it = 0; it < iterations; it++) {
    const H = Array.from({ length: d }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < X.length; i++) {
      const x = X[i] as number[];
      let z = 0;
      for (let k = 0; k < d; k++) z += (w[k] as number) * (x[k] as number);
      const p = 1 / (1 + Math.exp(-z));
      const r = p * (1 - p);
      const g = p - (y[i] as number);
      for (let a = 0; a < d; a++) {
        const row = H[a] as number[];
        const xa = x[a] as number;
        row[d] = (row[d] as number) + g * xa;
        for (let b = 0; b < d; b++) row[b] = (row[b] as number) + r * xa * (x[b] as number);
      }
    }
    for (let a = 0; a < d; a++) {
      const row = H[a] as number[];
      row[a] = (row[a] as number) + lambda;
      row[d] = (row[d] as number) + lambda * (w[a] as number);
    }
    // Gauss-Jordan with partial pivoting on [H | grad].
    for (let c = 0; c < d; c++) {
      let piv = c;
      for (let r = c + 1; r < d; r++) {
        if (Math.abs((H[r] as number[])[c] as number) > Math.abs((H[piv] as number[])[c] as number)) piv = r;
      }
      [H[c], H[piv]] = [H[piv] as number[], H[c] as number[]];
      const pr = H[c] as number[];
      for (let r = 0; r < d; r++) {
        if (r === c) continue;
        const row = H[r] as number[];
        const f = (row[c] as number) / (pr[c] as number);
        for (let k = c; k <= d; k++) row[k] = (row[k] as number) - f * (pr[k] as number);
      }
    }
    w = w.map((v, a) => v - ((H[a] as number[])[d] as number) / ((H[a] as number[])[a] as number));
  }
  return w;
}

/** Order-blind features of a session prefix: counts, length, duration and the whole context. */
function orderBlindFeatures(prefix: ShopEvent[], context: SessionContext): number[] {
  const counts = BROWSE_EVENT_TYPES.map((t) => prefix.filter((e) => e.event_type === t).length);
  const first = prefix[0] as ShopEvent;
  const last = prefix[prefix.length - 1] as ShopEvent;
  const minutes = (last.event_time - first.event_time) / MIN;
  const h = context.hour;
  return [
    1,
    ...counts.map((c) => Math.log1p(c)),
    ...counts.map((c) => (c > 0 ? 1 : 0)),
    (counts[3] as number) - (counts[4] as number),
    (counts[3] as number) > (counts[4] as number) ? 1 : 0,
    Math.log1p(prefix.length),
    Math.log1p(minutes),
    h >= 18 && h <= 22 ? 1 : 0,
    h >= 12 && h <= 17 ? 1 : 0,
    h <= 5 ? 1 : 0,
    ...['desktop', 'mobile', 'app'].map((d) => (context.device === d ? 1 : 0)),
    ...['search', 'social', 'email', 'ads', 'direct'].map((r) => (context.referrer === r ? 1 : 0)),
    context.returning ? 1 : 0,
  ];
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    assert.deepEqual(sa, sb);
    assert.notDeepEqual(sa, sc);
    assert.ok(new Set(sa).size > 95, 'new Set(sa).size > 95');
  });

  it('draws uniform, int, normal, exponential and weighted values with the right distributions', () => {
    const rng = new Rng(5);
    const n = 100_000;
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      sum += u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    assert.ok(min >= 0 && max < 1, 'min >= 0 && max < 1');
    assert.ok(Math.abs(sum / n - 0.5) < 0.01, 'Math.abs(sum / n - 0.5) < 0.01');

    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const k = rng.int(-2, 3);
      assert.ok(Number.isInteger(k) && k >= -2 && k <= 3, 'Number.isInteger(k) && k >= -2 && k <= 3');
      seen.add(k);
    }
    assert.equal(seen.size, 6);

    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal(3, 2);
      s1 += z;
      s2 += z * z;
    }
    const mean = s1 / n;
    assert.ok(Math.abs(mean - 3) < 0.05, 'Math.abs(mean - 3) < 0.05');
    assert.ok(
      Math.abs(Math.sqrt(s2 / n - mean * mean) - 2) < 0.05,
      'Math.abs(Math.sqrt(s2 / n - mean * mean) - 2) < 0.05',
    );

    let e = 0;
    for (let i = 0; i < n; i++) e += rng.exponential(4);
    assert.ok(Math.abs(e / n - 4) < 0.1, 'Math.abs(e / n - 4) < 0.1');

    const counts = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 30_000; i++) counts[rng.weightedChoice(['a', 'b', 'c'] as const, [1, 2, 0])]++;
    assert.equal(counts.c, 0);
    assert.ok(Math.abs(counts.b / counts.a - 2) < 0.15, 'Math.abs(counts.b / counts.a - 2) < 0.15');

    const table = new WeightedTable([0, 3, 1]);
    const tc = [0, 0, 0];
    for (let i = 0; i < 20_000; i++) tc[table.sample(rng)]!++;
    assert.equal(tc[0], 0);
    assert.ok(
      Math.abs((tc[1] as number) / (tc[2] as number) - 3) < 0.3,
      'Math.abs((tc[1] as number) / (tc[2] as number) - 3) < 0.3',
    );
    assert.throws(() => rng.choice([]), RangeError);
    assert.throws(() => new WeightedTable([0, 0]), RangeError);
  });
});

describe('createGenerator: determinism and options', () => {
  it('gives identical output for the same seed and different output for another seed', () => {
    const a = JSON.stringify(take({ seed: 7 }, 20_000));
    const b = JSON.stringify(take({ seed: 7 }, 20_000));
    const c = JSON.stringify(take({ seed: 8 }, 20_000));
    assert.equal(a, b);
    assert.notEqual(a, c);
    // Re-iterating one generator restarts the same stream.
    const g = createGenerator({ seed: 7, cookies: 200 });
    assert.equal(JSON.stringify([...g]), JSON.stringify([...g]));
  });

  it('never calls Math.random and never reads the wall clock', (t) => {
    t.mock.method(Math, 'random', () => {
      throw new Error('Math.random called');
    });
    t.mock.method(Date, 'now', () => {
      throw new Error('Date.now called');
    });
    const items = take({ cookies: 100, malformedRate: 0.05, emitOracle: true }, 3_000);
    assert.equal(items.length, 3_000);
    const first = eventsOf(items)[0] as ShopEvent;
    assert.ok(
      first.event_time >= DEFAULT_START_TIME && first.event_time < DEFAULT_START_TIME + DAY,
      'first.event_time >= DEFAULT_START_TIME && first.event_time < DEFAULT_START_TIME + DAY',
    );
  });

  it('stops after maxEvents event items and honours startTime/durationMs', () => {
    const items = take({ cookies: 300, maxEvents: 1_234, emitOracle: true, malformedRate: 0.1 });
    assert.equal(eventsOf(items).length, 1_234);
    assert.equal(items[items.length - 1]?.kind, 'event');
    assert.equal(take({ maxEvents: 0 }).length, 0);

    const start = Date.UTC(2030, 0, 1);
    const r = take({ cookies: 200, startTime: start, durationMs: 6 * HOUR, emitOracle: true });
    const sessions = sessionsOf(r);
    assert.ok(sessions.length > 200, 'sessions.length > 200');
    for (const s of sessions) {
      assert.ok(s.firstEventTime >= start && s.firstEventTime < start + 6 * HOUR, s.sessionKey);
    }
  });

  it('rejects invalid options', () => {
    assert.throws(() => createGenerator({ outOfOrderRate: 1.5 }), RangeError);
    assert.throws(() => createGenerator({ duplicateRate: -0.1 }), RangeError);
    assert.throws(() => createGenerator({ cookies: 2.5 }), RangeError);
    assert.throws(() => createGenerator({ durationMs: 0 }), RangeError);
    assert.throws(() => createGenerator({ maxEvents: -1 }), RangeError);
  });
});

describe('createGenerator: event content', () => {
  it('emits well-formed events with unique ids, consistent page types, catalogue items and prices', () => {
    const r = run();
    assert.ok(r.events.length > 50_000, `only ${r.events.length} events`);
    const known = new Set<string>(KNOWN_EVENT_TYPES);
    const pageTypes: Record<string, string[]> = {
      page_view: ['home', 'category', 'content'],
      search: ['search'],
      product_view: ['product'],
      add_to_cart: ['product'],
      remove_from_cart: ['cart'],
      checkout: ['checkout'],
      purchase: ['confirmation'],
    };
    const catalogue = new Catalogue();
    const priceOfItem = new Map<string, number>();
    const types = new Set<string>();
    const devices = new Set<string>(DEVICES);
    const referrers = new Set<string | null>(REFERRERS);
    let withExtras = 0;
    for (const e of r.events) {
      types.add(e.event_type);
      assert.ok(known.has(e.event_type), e.event_type);
      assert.match(e.cookie_id, /^ck_[0-9a-f]{12}$/);
      assert.match(e.event_id, /^[0-9a-f]{16}$/);
      assert.ok(Number.isInteger(e.event_time), 'Number.isInteger(e.event_time)');
      assert.ok(
        pageTypes[e.event_type]?.includes(e.page_type as string),
        `${e.event_type} on ${e.page_type}`,
      );
      assert.ok(e.device !== null && devices.has(e.device), 'e.device !== null && devices.has(e.device)');
      assert.ok(referrers.has(e.referrer), 'referrers.has(e.referrer)');
      for (const v of Object.values(e.extras)) assert.equal(typeof v, 'string');
      if (Object.keys(e.extras).length > 0) withExtras++;
      if (['product_view', 'add_to_cart', 'remove_from_cart'].includes(e.event_type)) {
        assert.match(e.item_id as string, /^i\d+$/);
        const item = Number((e.item_id as string).slice(1));
        assert.ok(item < catalogue.itemCount, 'item < catalogue.itemCount');
        assert.equal(e.category_id, `c${catalogue.itemCategory[item]}`);
        assert.equal(e.price, priceOf(item));
        const seen = priceOfItem.get(e.item_id as string);
        if (seen !== undefined) assert.equal(e.price, seen);
        priceOfItem.set(e.item_id as string, e.price as number);
        assert.ok((e.price as number) > 0, '(e.price as number) > 0');
      }
      if (e.event_type === 'add_to_cart')
        assert.ok((e.quantity as number) >= 1, '(e.quantity as number) >= 1');
      if (e.event_type === 'purchase') assert.match(e.extras['order_id'] as string, /^o[0-9a-f]{8}$/);
    }
    assert.deepEqual([...types].sort(), [...KNOWN_EVENT_TYPES].sort());
    assert.ok(
      withExtras > r.events.length * 0.1 && withExtras < r.events.length * 0.9,
      'withExtras > r.events.length * 0.1 && withExtras < r.events.length * 0.9',
    );
    // Zipf-ish popularity: the most viewed item is seen far more often than the median one.
    const views = new Map<string, number>();
    for (const e of r.events) {
      if (e.event_type === 'product_view')
        views.set(e.item_id as string, (views.get(e.item_id as string) ?? 0) + 1);
    }
    const sorted = [...views.values()].sort((a, b) => b - a);
    assert.ok(
      (sorted[0] as number) > 20 * (sorted[Math.floor(sorted.length / 2)] as number),
      '(sorted[0] as number) > 20 * (sorted[Math.floor(sorted.length / 2)] as number)',
    );
    // Without duplicates every event_id is unique.
    const clean = eventsOf(take({ seed: 3, cookies: 1_000, duplicateRate: 0 }));
    assert.equal(new Set(clean.map((e) => e.event_id)).size, clean.length);
  });

  it('serialises events as stable NDJSON', () => {
    const e = eventsOf(take({ cookies: 50 }, 10))[0] as ShopEvent;
    const shuffled = { ...e, extras: { z: '1', a: '2' } } as ShopEvent;
    const reordered = Object.fromEntries(Object.entries(shuffled).reverse()) as unknown as ShopEvent;
    const line = toNdjsonLine({ kind: 'event', event: reordered });
    assert.equal(line, toNdjsonLine(shuffled));
    assert.deepEqual(Object.keys(JSON.parse(line)), [
      'cookie_id',
      'event_id',
      'event_type',
      'event_time',
      'item_id',
      'category_id',
      'price',
      'quantity',
      'page_type',
      'device',
      'referrer',
      'extras',
    ]);
    assert.ok(line.endsWith('"extras":{"a":"2","z":"1"}}'), 'line.endsWith(\'"extras":{"a":"2","z":"1"}}\')');
    assert.deepEqual(JSON.parse(toNdjsonLine(e)), e);
    assert.throws(
      () => toNdjsonLine({ kind: 'malformed', malformedClass: 'truncated_avro', key: 'k' }),
      TypeError,
    );
  });
});

describe('createGenerator: mess', () => {
  it('is in non-decreasing event time without injected disorder', () => {
    const events = eventsOf(take({ seed: 4, cookies: 1_000, outOfOrderRate: 0, duplicateRate: 0 }));
    assert.ok(events.length > 30_000, 'events.length > 30_000');
    for (let i = 1; i < events.length; i++) {
      assert.ok((events[i] as ShopEvent).event_time >= (events[i - 1] as ShopEvent).event_time, `at ${i}`);
    }
  });

  it('emits injected out-of-order events late by at most a few seconds', () => {
    const events = eventsOf(take({ seed: 4, cookies: 1_000, outOfOrderRate: 0.02, duplicateRate: 0 }));
    let maxSoFar = Number.NEGATIVE_INFINITY;
    let late = 0;
    let worst = 0;
    for (const e of events) {
      if (e.event_time < maxSoFar) {
        late++;
        worst = Math.max(worst, maxSoFar - e.event_time);
      }
      maxSoFar = Math.max(maxSoFar, e.event_time);
    }
    assert.ok(worst <= MAX_OUT_OF_ORDER_MS, `worst lateness ${worst} ms`);
    assert.ok(worst > 1_000, `worst lateness ${worst} ms`);
    // Held-back events are late unless nothing newer came out in their delay window.
    assert.ok(
      late > events.length * 0.01 && late <= events.length * 0.025,
      `${late} late of ${events.length}`,
    );
  });

  it('re-emits duplicates with the same event_id and content shortly after the original', () => {
    const items = take({ seed: 4, cookies: 1_000, outOfOrderRate: 0, duplicateRate: 0.01 });
    const events = eventsOf(items);
    const first = new Map<string, { event: ShopEvent; index: number }>();
    let duplicates = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as ShopEvent;
      const prev = first.get(e.event_id);
      if (prev === undefined) {
        first.set(e.event_id, { event: e, index: i });
        continue;
      }
      duplicates++;
      assert.deepEqual(e, prev.event);
      assert.notEqual(e, prev.event, 'a duplicate is a separate object');
      // Emitted after the original, before events more than MAX_DUPLICATE_DELAY_MS newer.
      for (let j = prev.index + 1; j < i; j++) {
        assert.ok(
          (events[j] as ShopEvent).event_time <= e.event_time + MAX_DUPLICATE_DELAY_MS,
          '(events[j] as ShopEvent).event_time <= e.event_time + MAX_DUPLICATE_DELAY_MS',
        );
      }
    }
    const rate = duplicates / first.size;
    assert.ok(rate > 0.007 && rate < 0.013, `duplicate rate ${rate}`);
  });

  it('emits malformed items only when malformedRate > 0, covering every class', () => {
    assert.equal(
      take({ seed: 2, cookies: 500 }).filter((i) => i.kind === 'malformed').length,
      0,
      'malformed items with malformedRate 0',
    );
    const items = take({ seed: 2, cookies: 500, malformedRate: 0.05 });
    const malformed = items.filter((i): i is MalformedItem => i.kind === 'malformed');
    const events = eventsOf(items);
    const rate = malformed.length / events.length;
    assert.ok(rate > 0.04 && rate < 0.06, `malformed rate ${rate}`);
    const classes = new Set(malformed.map((m) => m.malformedClass));
    assert.deepEqual([...classes].sort(), [...MALFORMED_CLASSES].sort());
    const cookies = new Set(events.map((e) => e.cookie_id));
    for (const m of malformed) {
      assert.ok(cookies.has(m.key), 'key is a real cookie');
      switch (m.malformedClass) {
        case 'invalid_json':
          assert.throws(() => JSON.parse(m.json as string), SyntaxError);
          break;
        case 'missing_cookie_id': {
          const o = JSON.parse(m.json as string);
          assert.ok(
            !('cookie_id' in o) && typeof o.event_id === 'string',
            "!('cookie_id' in o) && typeof o.event_id === 'string'",
          );
          break;
        }
        case 'non_numeric_event_time': {
          const o = JSON.parse(m.json as string);
          assert.equal(typeof o.event_time, 'string');
          assert.ok(Number.isNaN(Number(o.event_time)), 'Number.isNaN(Number(o.event_time))');
          break;
        }
        default:
          assert.equal(m.json, undefined);
          assert.equal(m.event?.cookie_id, m.key);
      }
    }
  });

  it('runs bot cookies as one long burst of thousands of views that never buys', () => {
    const items = take({ seed: 9, cookies: 300, botCookies: 2, emitOracle: true });
    const perCookie = new Map<string, ShopEvent[]>();
    for (const e of eventsOf(items)) {
      const list = perCookie.get(e.cookie_id) ?? [];
      list.push(e);
      perCookie.set(e.cookie_id, list);
    }
    const bots = sessionsOf(items).filter((s) => s.bot);
    assert.equal(bots.length, 2);
    for (const b of bots) {
      assert.ok(b.eventIds.length > 1_000, 'b.eventIds.length > 1_000');
      assert.equal(b.purchased, false);
      const evs = perCookie.get(b.cookie_id) as ShopEvent[];
      assert.ok(evs.length > 1_000, 'evs.length > 1_000');
      assert.ok(
        evs.every((e) => e.event_type === 'page_view' || e.event_type === 'product_view'),
        "evs.every((e) => e.event_type === 'page_view' || e.event_type === 'product_view')",
      );
      const times = evs.map((e) => e.event_time).sort((x, y) => x - y);
      for (let i = 1; i < times.length; i++)
        assert.ok(
          (times[i] as number) - (times[i - 1] as number) < 5 * SEC,
          '(times[i] as number) - (times[i - 1] as number) < 5 * SEC',
        );
    }
    const humans = [...perCookie.entries()].filter(([c]) => !bots.some((b) => b.cookie_id === c));
    assert.ok(
      humans.every(([, evs]) => evs.length < 1_000),
      'humans.every(([, evs]) => evs.length < 1_000)',
    );
    const noBots = take({ seed: 9, cookies: 300, botCookies: 0, emitOracle: true });
    assert.equal(sessionsOf(noBots).filter((s) => s.bot).length, 0);
  });
});

describe('createGenerator: sessions', () => {
  it('produces sessions that a 30-minute inactivity sessionizer recovers exactly', () => {
    const r = run();
    const perCookie = new Map<string, ShopEvent[]>();
    const seen = new Set<string>();
    for (const e of r.events) {
      if (seen.has(e.event_id)) continue; // duplicate
      seen.add(e.event_id);
      const list = perCookie.get(e.cookie_id) ?? [];
      list.push(e);
      perCookie.set(e.cookie_id, list);
    }
    const recovered: string[] = [];
    for (const evs of perCookie.values()) {
      evs.sort((a, b) => a.event_time - b.event_time);
      let current: string[] = [];
      for (let i = 0; i < evs.length; i++) {
        const e = evs[i] as ShopEvent;
        if (i > 0 && e.event_time - (evs[i - 1] as ShopEvent).event_time > 30 * MIN) {
          recovered.push(current.join(','));
          current = [];
        }
        current.push(e.event_id);
      }
      recovered.push(current.join(','));
    }
    const truth = r.sessions.map((s) => s.eventIds.join(','));
    assert.equal(recovered.length, truth.length);
    assert.deepEqual(new Set(recovered), new Set(truth));
    // Several sessions per cookie, some split by long pauses, and a realistic length mix.
    assert.ok(r.human.length / 1_500 > 3, 'r.human.length / 1_500 > 3');
    assert.ok(
      r.human.some((s) => s.outcome === 'idle_split'),
      "r.human.some((s) => s.outcome === 'idle_split')",
    );
    const lengths = r.human.map((s) => s.eventIds.length);
    assert.ok(
      lengths.some((n) => n === 1) && lengths.some((n) => n >= 20),
      'lengths.some((n) => n === 1) && lengths.some((n) => n >= 20)',
    );
  });

  it('starts sessions at every hour of the day, and some cross midnight UTC', () => {
    const items = take({ seed: 5, cookies: 1_000, durationMs: 2 * DAY, emitOracle: true });
    const sessions = sessionsOf(items).filter((s) => !s.bot);
    const hours = new Set(sessions.map((s) => new Date(s.firstEventTime).getUTCHours()));
    assert.equal(hours.size, 24);
    const midnight = DEFAULT_START_TIME + DAY;
    const crossing = sessions.filter((s) => s.firstEventTime < midnight && s.lastEventTime >= midnight);
    assert.ok(crossing.length >= 3, `${crossing.length} sessions cross midnight`);
    assert.ok(
      crossing.some((s) => s.eventIds.length >= 3),
      'crossing.some((s) => s.eventIds.length >= 3)',
    );
  });

  it('ends purchased sessions with checkout then purchase, after browse-only pre-decision events', () => {
    const r = run();
    const browse = new Set<string>(BROWSE_EVENT_TYPES);
    for (const s of r.human) {
      const evs = sessionEvents(r, s);
      const prefix = evs.slice(0, s.decisionIndex);
      assert.ok(prefix.length >= 1, 'prefix.length >= 1');
      assert.ok(
        prefix.every((e) => browse.has(e.event_type)),
        s.sessionKey,
      );
      assert.equal(s.decisionTime, (prefix[prefix.length - 1] as ShopEvent).event_time);
      const tail = evs.slice(s.decisionIndex).map((e) => e.event_type);
      assert.equal(s.purchased, s.outcome === 'purchase');
      if (s.purchased) assert.deepEqual(tail, ['checkout', 'purchase']);
      else if (s.outcome === 'checkout_abandon') assert.deepEqual(tail, ['checkout']);
      else assert.deepEqual(tail, []);
      for (let i = 1; i < evs.length; i++) {
        const gap = (evs[i] as ShopEvent).event_time - (evs[i - 1] as ShopEvent).event_time;
        assert.ok(gap >= SEC && gap <= 30 * MIN, `${s.sessionKey} gap ${gap}`);
      }
    }
  });
});

describe('oracle', () => {
  it('records exactly purchaseProbability(prefix steps, context), with a realistic purchase rate', () => {
    const r = run();
    assert.ok(r.human.length >= 5_000, `${r.human.length} sessions`);
    let expected = 0;
    for (const s of r.human) {
      const prefix = sessionEvents(r, s).slice(0, s.decisionIndex);
      assert.equal(
        purchaseProbability(stepsFromEvents(prefix), s.context),
        s.purchaseProbability,
        s.sessionKey,
      );
      assert.equal(s.context.hour, new Date(s.decisionTime).getUTCHours());
      expected += s.purchaseProbability;
    }
    const purchases = r.human.filter((s) => s.purchased).length;
    const rate = purchases / r.human.length;
    assert.ok(rate >= 0.05 && rate <= 0.15, `purchase rate ${rate}`);
    // Calibrated: expected and observed purchases agree within ~3 standard deviations.
    assert.ok(
      Math.abs(expected - purchases) < 3 * Math.sqrt(expected),
      `${expected} expected, ${purchases} seen`,
    );
  });

  it('beats an order-blind logistic regression on counts, length, duration and context by >= 0.05 AUC', (t) => {
    const r = run();
    const X: number[][] = [];
    const y: number[] = [];
    for (const s of r.human) {
      X.push(orderBlindFeatures(sessionEvents(r, s).slice(0, s.decisionIndex), s.context));
      y.push(s.purchased ? 1 : 0);
    }
    const half = Math.floor(X.length / 2);
    const w = fitLogistic(X.slice(0, half), y.slice(0, half));
    const test = r.human.slice(half);
    const labels = test.map((s) => s.purchased);
    const blindScores = X.slice(half).map((x) => x.reduce((acc, v, k) => acc + v * (w[k] as number), 0));
    const blindAuc = auc(blindScores, labels);
    const oracleAuc = auc(
      test.map((s) => s.purchaseProbability),
      labels,
    );
    t.diagnostic(
      `${test.length} test sessions: oracle AUC ${oracleAuc.toFixed(4)}, order-blind AUC ${blindAuc.toFixed(4)}`,
    );
    // The fitted model must be a real baseline (far better than chance), not a broken fit.
    assert.ok(blindAuc > 0.7, `order-blind AUC ${blindAuc}`);
    assert.ok(oracleAuc >= 0.85, `oracle AUC ${oracleAuc}`);
    assert.ok(oracleAuc - blindAuc >= 0.05, `oracle ${oracleAuc} vs order-blind ${blindAuc}`);
  });

  it('depends on the order and timing of the same events', () => {
    const t0 = Date.UTC(2026, 10, 3, 20, 0, 0);
    const ctx: SessionContext = { hour: 20, device: 'desktop', referrer: 'direct', returning: false };
    const at = (types: [string, string | null][], gapMs = 20 * SEC): BehaviourStep[] =>
      types.map(([type, itemId], i) => ({ type, itemId, time: t0 + i * gapMs }));

    // Same multiset of events: page_view, search, view i1 twice, add i1, view i2.
    const focused = at([
      ['page_view', null],
      ['search', null],
      ['product_view', 'i1'],
      ['add_to_cart', 'i1'],
      ['product_view', 'i2'],
      ['product_view', 'i1'],
    ]);
    const scattered = at([
      ['product_view', 'i1'],
      ['product_view', 'i1'],
      ['search', null],
      ['product_view', 'i2'],
      ['add_to_cart', 'i1'],
      ['page_view', null],
    ]);
    const sortKey = (s: BehaviourStep[]) => s.map((x) => `${x.type}:${x.itemId}`).sort();
    assert.deepEqual(sortKey(focused), sortKey(scattered));
    const pf = purchaseProbability(focused, ctx);
    const ps = purchaseProbability(scattered, ctx);
    assert.ok(pf > 3 * ps && pf - ps > 0.2, `focused ${pf} vs scattered ${ps}`);

    // Returning to a carted item within minutes vs after a long pause.
    const quickReturn = at([
      ['product_view', 'i1'],
      ['add_to_cart', 'i1'],
      ['product_view', 'i1'],
    ]);
    const slowReturn = quickReturn.map((s, i) => (i === 2 ? { ...s, time: s.time + 20 * MIN } : s));
    assert.ok(
      purchaseProbability(quickReturn, ctx) > 3 * purchaseProbability(slowReturn, ctx),
      'purchaseProbability(quickReturn, ctx) > 3 * purchaseProbability(slowReturn, ctx)',
    );

    // Viewing an item after removing it from the cart vs before.
    const viewThenRemove = at([
      ['product_view', 'i1'],
      ['add_to_cart', 'i1'],
      ['product_view', 'i2'],
      ['add_to_cart', 'i2'],
      ['product_view', 'i1'],
      ['remove_from_cart', 'i1'],
    ]);
    const removeThenView = at([
      ['product_view', 'i1'],
      ['add_to_cart', 'i1'],
      ['product_view', 'i2'],
      ['add_to_cart', 'i2'],
      ['remove_from_cart', 'i1'],
      ['product_view', 'i1'],
    ]);
    assert.ok(
      purchaseProbability(viewThenRemove, ctx) > 2 * purchaseProbability(removeThenView, ctx),
      'purchaseProbability(viewThenRemove, ctx) > 2 * purchaseProbability(removeThenView, ctx)',
    );

    // After a removal, looking at the removed item again is worse than looking at a fresh one.
    const afterRemoval = (itemId: string) =>
      at([
        ['product_view', 'i1'],
        ['add_to_cart', 'i1'],
        ['product_view', 'i2'],
        ['add_to_cart', 'i2'],
        ['remove_from_cart', 'i1'],
        ['product_view', itemId],
      ]);
    assert.ok(
      purchaseProbability(afterRemoval('i3'), ctx) > 2 * purchaseProbability(afterRemoval('i1'), ctx),
      'viewing a removed item lowers intent',
    );

    // search -> view -> add in quick succession vs the same chain with slow steps.
    const quick = at([
      ['search', null],
      ['product_view', 'i7'],
      ['add_to_cart', 'i7'],
    ]);
    const slow = at(
      [
        ['search', null],
        ['product_view', 'i7'],
        ['add_to_cart', 'i7'],
      ],
      3 * MIN,
    );
    assert.ok(
      purchaseProbability(quick, ctx) > 2 * purchaseProbability(slow, ctx),
      'purchaseProbability(quick, ctx) > 2 * purchaseProbability(slow, ctx)',
    );

    // Context, all else equal: evening > morning > night; app > mobile; email > social.
    const byHour = [20, 10, 3].map((hour) => purchaseProbability(quick, { ...ctx, hour }));
    assert.ok(
      (byHour[0] as number) > (byHour[1] as number) && (byHour[1] as number) > (byHour[2] as number),
      `by hour ${byHour}`,
    );
    assert.ok(
      purchaseProbability(quick, { ...ctx, device: 'app' }) >
        purchaseProbability(quick, { ...ctx, device: 'mobile' }),
      'app vs mobile',
    );
    assert.ok(
      purchaseProbability(quick, { ...ctx, referrer: 'email' }) >
        purchaseProbability(quick, { ...ctx, referrer: 'social' }),
      'email vs social',
    );
  });
});

describe('createPacer', () => {
  it('waits for the rate cap and for event time at the speed factor, on an injected clock', () => {
    let now = 1_000;
    const byRate = createPacer({ rate: 10, now: () => now });
    assert.equal(byRate(0), 100, 'the first of 10/s leaves after 100 ms');
    now += 150;
    assert.equal(byRate(0), 50, 'the second is due at 200 ms');
    const bySpeed = createPacer({ speed: 60, startTime: 0, now: () => now });
    assert.equal(bySpeed(60_000), 1_000, 'one minute of event time at 60x is one second');
    now += 400;
    assert.equal(bySpeed(60_000), 600);
    assert.equal(createPacer({ now: () => now })(1e12), 0, 'unpaced');
  });
});

describe('taxonomy shop2', () => {
  const options: GeneratorOptions = { seed: 11, cookies: 400, emitOracle: true, botCookies: 1 };
  const shop2 = take({ ...options, taxonomy: 'shop2' });
  const shop2Events = eventsOf(shop2);
  const taxonomy = taxonomyOf('shop2');

  it('names every event its own way, with noise events and none of our names', () => {
    const types = new Map<string, number>();
    for (const e of shop2Events) types.set(e.event_type, (types.get(e.event_type) ?? 0) + 1);
    const known = new Set<string>(SHOP2_EVENT_TYPES);
    assert.deepEqual(
      [...types.keys()].filter((t) => !known.has(t)),
      [],
    );
    assert.ok(
      SHOP2_EVENT_TYPES.length >= 18 && SHOP2_EVENT_TYPES.length <= 22,
      `${SHOP2_EVENT_TYPES.length} names`,
    );
    for (const t of KNOWN_EVENT_TYPES) assert.equal(types.has(t), false, `our ${t} does not occur`);
    for (const role of Object.values(SHOP2_ROLES).flat())
      assert.ok(types.has(role), `role name ${role} occurs`);
    const noise = SHOP2_NOISE_EVENTS.reduce((n, t) => n + (types.get(t) ?? 0), 0);
    assert.ok(noise > shop2Events.length * 0.1, `noise events (${noise} of ${shop2Events.length})`);
  });

  it('runs the same shopping process as ours: without noise and renamed, the same events and outcomes', () => {
    // The mess layer draws per emitted event, so noise shifts which events it duplicates: compare clean runs.
    const clean = { ...options, duplicateRate: 0, outOfOrderRate: 0 };
    const ours = take(clean);
    const shop2Clean = take({ ...clean, taxonomy: 'shop2' });
    const renamed = eventsOf(shop2Clean)
      .filter((e) => taxonomy.processType(e.event_type) !== null)
      .map((e) => ({ ...e, event_type: taxonomy.processType(e.event_type), event_id: '', extras: {} }));
    const plain = eventsOf(ours).map((e) => ({ ...e, event_id: '', extras: {} }));
    const key = (e: { cookie_id: string; event_time: number; event_type: string | null }) =>
      `${e.cookie_id}/${e.event_time}/${e.event_type}`;
    assert.deepEqual(renamed.map(key).sort(), plain.map(key).sort());
    const outcome = (s: SessionEndItem) => [s.sessionKey, s.outcome, s.purchaseProbability];
    assert.deepEqual(sessionsOf(shop2Clean).map(outcome), sessionsOf(ours).map(outcome));
  });

  it('keeps its oracle: the recorded probability from the pre-decision events, noise counted but not a step', () => {
    const byId = new Map(shop2Events.map((e) => [e.event_id, e]));
    let withNoise = 0;
    for (const s of sessionsOf(shop2).filter((x) => !x.bot)) {
      const events = s.eventIds.map((id) => byId.get(id)!);
      const prefix = events.slice(0, s.decisionIndex);
      if (prefix.some((e) => taxonomy.processType(e.event_type) === null)) withNoise++;
      assert.equal(
        purchaseProbability(stepsFromEvents(prefix, taxonomy.processType), s.context),
        s.purchaseProbability,
        s.sessionKey,
      );
      const tail = events
        .slice(s.decisionIndex)
        .map((e) => e.event_type)
        .filter((t) => taxonomy.processType(t) !== null);
      if (s.purchased) assert.deepEqual(tail, ['checkout_start', 'payment_done']);
    }
    assert.ok(withNoise > 50, `noise inside decision prefixes (${withNoise})`);
  });

  it("writes the shop's session id as a column of its NDJSON lines, matching the oracle's session", () => {
    const sessionOf = new Map<string, string>();
    for (const s of sessionsOf(shop2)) for (const id of s.eventIds) sessionOf.set(id, s.sessionKey);
    let lines = 0;
    for (const item of shop2) {
      if (item.kind !== 'event') continue;
      const row = JSON.parse(toNdjsonLine(item));
      assert.deepEqual(Object.keys(row).slice(0, 3), ['cookie_id', 'session_id', 'event_id']);
      assert.equal(row.session_id, sessionOf.get(row.event_id), row.event_id);
      lines++;
    }
    assert.equal(lines, shop2Events.length);
    assert.equal('session_id' in JSON.parse(toNdjsonLine(take(options, 1)[0]!)), false, 'ours has none');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BASE_NUMERIC_FEATURES,
  CATEGORICAL_COUNT,
  DEFAULT_ROLES,
  ENCODER_VERSION,
  EncoderFormatError,
  FeatureEncoder,
  OOV_INDEX,
  SESSION_STATE_FEATURES,
  eventTypeReport,
  hashBucket,
  stableHash32,
  stepStateFromJSON,
  stepStateToJSON,
} from '../../src/features/index.js';
import { createGenerator } from '../../src/generator/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { T0, ev } from '../helpers/events.js';
import { FOREIGN_EVENT_TYPES, FOREIGN_ROLES, renameEvents } from '../helpers/taxonomy.js';

const OPTIONS = {
  maxSteps: 4,
  itemBuckets: 64,
  categoryBuckets: 16,
  maxVocabulary: 3,
  minCount: 2,
  sessionState: true,
  hashSeed: 7,
};

/** Reference: FNV-1a over Node's own UTF-8 encoding, then the MurmurHash3 finaliser. */
function referenceHash(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Events of the first few generated sessions of one cookie, in order. */
function generatedSession(): ShopEvent[] {
  const events: ShopEvent[] = [];
  let cookie: string | undefined;
  for (const item of createGenerator({
    seed: 5,
    cookies: 20,
    outOfOrderRate: 0,
    duplicateRate: 0,
    botCookies: 0,
  })) {
    if (item.kind !== 'event') continue;
    cookie ??= item.event.cookie_id;
    if (item.event.cookie_id === cookie) events.push(item.event);
    if (events.length >= 40) break;
  }
  return events;
}

describe('stable hash', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['i17', 0],
    ['i17', 7],
    ['c3', 1],
    ['café', 0],
    ['商品-42', 3],
    ['emoji 🛒', 0],
  ];
  for (const [text, seed] of cases) {
    it(`hashes ${JSON.stringify(text)} (seed ${seed}) like FNV-1a over its UTF-8 bytes + fmix32`, () => {
      assert.equal(stableHash32(text, seed), referenceHash(text, seed));
    });
  }
  it('is pinned: bucket assignments never change between releases', () => {
    assert.deepEqual(
      ['i0', 'i1', 'i4999', 'c0'].map((t) => stableHash32(t)),
      ['i0', 'i1', 'i4999', 'c0'].map((t) => referenceHash(t, 0)),
    );
    assert.equal(stableHash32('i17'), 2034335993);
    assert.equal(hashBucket('i17', 1024), 2034335993 % 1024);
  });
});

describe('FeatureEncoder', () => {
  const training = [
    [
      ev('page_view', T0, { device: 'mobile', referrer: null }),
      ev('search', T0 + 1000, { device: 'mobile' }),
    ],
    [ev('page_view', T0, { device: 'mobile' }), ev('page_view', T0, { device: 'desktop', referrer: null })],
    [
      ev('page_view', T0, { device: 'desktop' }),
      ev('page_view', T0, { device: 'tablet', referrer: 'email' }),
    ],
  ];
  const encoder = FeatureEncoder.fit(training, OPTIONS);

  it('fits device and referrer vocabularies on the given sequences only, by count, with OOV', () => {
    const spec = encoder.toJSON();
    // mobile 3, desktop 2, tablet 1 (< minCount 2); referrer: direct 3, (none) 2, email 1.
    assert.deepEqual(spec.devices, ['mobile', 'desktop']);
    assert.deepEqual(spec.referrers, ['direct', '(none)']);
    const state = encoder.startSession(T0);
    const step = (e: ShopEvent) => encoder.encodeStep(e, state).categorical;
    assert.deepEqual([...step(ev('page_view', T0, { device: 'mobile', referrer: null }))].slice(3), [2, 3]);
    assert.deepEqual([...step(ev('page_view', T0, { device: 'tablet', referrer: 'email' }))].slice(3), [
      OOV_INDEX,
      OOV_INDEX,
    ]);
    assert.deepEqual([...step(ev('page_view', T0, { device: 'fridge', referrer: 'x' }))].slice(3), [
      OOV_INDEX,
      OOV_INDEX,
    ]);
    assert.equal(step(ev('teleport', T0))[0], OOV_INDEX, 'unknown event type is OOV');
    assert.equal(encoder.cardinalities.device, 4);
    assert.equal(encoder.cardinalities.item, 66);
  });

  it('caps a vocabulary at maxVocabulary values', () => {
    const many = [
      ['a', 'b', 'c', 'd', 'e'].flatMap((d) => [
        ev('page_view', T0, { device: d }),
        ev('page_view', T0, { device: d }),
      ]),
    ];
    assert.deepEqual(FeatureEncoder.fit(many, OPTIONS).toJSON().devices, ['a', 'b', 'c']);
  });

  it('computes the documented numeric features', () => {
    const e = FeatureEncoder.fit([], OPTIONS);
    const state = e.startSession(T0 - 60_000);
    e.encodeStep(ev('page_view', T0 - 60_000), state);
    const step = e.encodeStep(ev('product_view', T0, { item_id: 'i1', category_id: 'c1', price: 19 }), state);
    const f = Object.fromEntries(e.numericNames.map((n, i) => [n, step.numeric[i]!]));
    const close = (a: number, b: number, what: string) =>
      assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);
    close(f['log_price']!, Math.log1p(19), 'price');
    close(f['log_gap_s']!, Math.log1p(60), 'gap');
    close(f['log_elapsed_s']!, Math.log1p(60), 'elapsed');
    close(f['log_step']!, Math.log1p(1), 'step');
    // 18:00 UTC = 0.75 of the day; Monday = weekday 1.
    close(f['hour_sin']!, Math.sin(2 * Math.PI * 0.75), 'hour sin');
    close(f['hour_cos']!, Math.cos(2 * Math.PI * 0.75), 'hour cos');
    close(f['dow_sin']!, Math.sin((2 * Math.PI * 1) / 7), 'dow sin');
    close(f['dow_cos']!, Math.cos((2 * Math.PI * 1) / 7), 'dow cos');
    assert.equal(step.categorical[1], 2 + hashBucket('i1', 64, 7));
    assert.equal(step.categorical[2], 2 + hashBucket('c1', 16, 7));
  });

  it('derives item and cart relations from earlier events of the session', () => {
    const e = FeatureEncoder.fit([], OPTIONS);
    const state = e.startSession(T0);
    const names = e.numericNames;
    const rel = (event: ShopEvent) => {
      const n = e.encodeStep(event, state).numeric;
      return SESSION_STATE_FEATURES.map((name) => Math.round(n[names.indexOf(name)]! * 1000) / 1000);
    };
    const l = (s: number) => Math.round(Math.log1p(s) * 1000) / 1000;
    // same_item_as_previous, item_seen_before, item_in_cart, item_removed_before, log_since_item_carted_s, log_cart_size
    assert.deepEqual(rel(ev('product_view', T0, { item_id: 'a' })), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(rel(ev('add_to_cart', T0 + 10_000, { item_id: 'a' })), [1, 1, 0, 0, 0, 0]);
    assert.deepEqual(rel(ev('product_view', T0 + 70_000, { item_id: 'b' })), [0, 0, 0, 0, 0, l(1)]);
    assert.deepEqual(rel(ev('product_view', T0 + 130_000, { item_id: 'a' })), [0, 1, 1, 0, l(120), l(1)]);
    assert.deepEqual(rel(ev('remove_from_cart', T0 + 140_000, { item_id: 'a' })), [1, 1, 1, 0, l(130), l(1)]);
    assert.deepEqual(rel(ev('page_view', T0 + 150_000)), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(rel(ev('product_view', T0 + 160_000, { item_id: 'a' })), [0, 1, 0, 1, 0, 0]);
  });

  it('step encoder and sequence encoder give identical features for every event', () => {
    const events = generatedSession();
    const e = FeatureEncoder.fit([events], { ...OPTIONS, maxSteps: 64 });
    const all = e.encodeEvents(events);
    let state = e.startSession(events[0]!.event_time);
    events.forEach((event, i) => {
      if (i === 17) state = stepStateFromJSON(JSON.parse(JSON.stringify(stepStateToJSON(state))));
      const step = e.encodeStep(event, state);
      assert.deepEqual(
        step.categorical,
        all.categorical.slice(i * CATEGORICAL_COUNT, (i + 1) * CATEGORICAL_COUNT),
      );
      assert.deepEqual(step.numeric, all.numeric.slice(i * e.numericSize, (i + 1) * e.numericSize));
    });
  });

  it('keeps the LAST maxSteps events of a long sequence and right-pads a short one', () => {
    const events = generatedSession().slice(0, 10);
    const e = FeatureEncoder.fit([events], OPTIONS);
    const all = e.encodeEvents(events);
    const long = e.encodeSequence(events);
    assert.equal(long.length, 4);
    assert.deepEqual([...long.mask], [1, 1, 1, 1]);
    assert.deepEqual(long.categorical, all.categorical.slice(6 * CATEGORICAL_COUNT));
    assert.deepEqual(long.numeric, all.numeric.slice(6 * e.numericSize));
    const short = e.encodeSequence(events.slice(0, 3));
    assert.equal(short.length, 3);
    assert.deepEqual([...short.mask], [1, 1, 1, 0]);
    assert.deepEqual(
      short.categorical.slice(0, 3 * CATEGORICAL_COUNT),
      all.categorical.slice(0, 3 * CATEGORICAL_COUNT),
    );
    assert.deepEqual(
      [...short.categorical.slice(3 * CATEGORICAL_COUNT)],
      new Array(CATEGORICAL_COUNT).fill(0),
    );
    assert.deepEqual(e.pad(all, 3), short, 'a prefix of an encoded session equals the encoded prefix');
  });

  it('round-trips through JSON with identical encodings', () => {
    const events = generatedSession();
    const json = JSON.parse(JSON.stringify(encoder.toJSON()));
    const restored = FeatureEncoder.fromJSON(json);
    assert.deepEqual(restored.toJSON(), encoder.toJSON());
    assert.deepEqual(restored.encodeEvents(events), encoder.encodeEvents(events));
    assert.equal(json.version, ENCODER_VERSION);
    assert.equal(ENCODER_VERSION, 2);
  });

  it('upgrades a v0 encoder.json (pre-release layout) to the current version', () => {
    const v0 = {
      version: 0,
      max_len: 20,
      event_vocab: ['page_view', 'search', 'product_view', 'add_to_cart'],
      device_vocab: ['mobile', 'desktop'],
      referrer_vocab: ['direct'],
      item_buckets: 100,
      category_buckets: 10,
    };
    const e = FeatureEncoder.fromJSON(v0);
    const spec = e.toJSON();
    assert.equal(spec.version, ENCODER_VERSION);
    assert.deepEqual(spec.roles, DEFAULT_ROLES, 'v0 and v1 read the generator names: the default roles');
    assert.equal(spec.maxSteps, 20);
    assert.equal(spec.hashSeed, 0);
    assert.equal(spec.sessionState, false);
    assert.deepEqual(spec.numericFeatures, [...BASE_NUMERIC_FEATURES]);
    assert.deepEqual(spec.devices, ['mobile', 'desktop']);
    const step = e.encodeStep(ev('search', T0, { device: 'desktop' }), e.startSession(T0));
    assert.deepEqual([...step.categorical], [3, 1, 1, 3, 2]);
    assert.equal(step.numeric.length, BASE_NUMERIC_FEATURES.length);
  });

  it('rejects newer, versionless and malformed encoder files with the field named', () => {
    assert.throws(
      () => FeatureEncoder.fromJSON({ ...encoder.toJSON(), version: 9 }),
      /newer than this build/,
    );
    assert.throws(() => FeatureEncoder.fromJSON({}), EncoderFormatError);
    assert.throws(() => FeatureEncoder.fromJSON({ ...encoder.toJSON(), itemBuckets: 0 }), /itemBuckets/);
    assert.throws(
      () => FeatureEncoder.fromJSON({ ...encoder.toJSON(), numericFeatures: ['x'] }),
      /numericFeatures/,
    );
    assert.throws(() => FeatureEncoder.fromJSON({ version: 0, max_len: 3 }), /encoder v0/);
  });
});

describe('event-type vocabulary and roles', () => {
  const at = (type: string, i: number) => ev(type, T0 + i * 1_000);

  it('keeps the most frequent types seen minCount times, at most maxSize; the rest share the OOV slot', () => {
    const events = [
      ...['a', 'a', 'a', 'b', 'b', 'c', 'c', 'c', 'c', 'd'].map(at),
      ...['e', 'e', 'e'].map((t, i) => at(t, 20 + i)),
    ];
    const e = FeatureEncoder.fit([events], { ...OPTIONS, eventTypes: { maxSize: 3, minCount: 2 } });
    assert.deepEqual(e.eventTypeVocabulary, ['c', 'a', 'e'], 'by count, ties by name, cut at maxSize');
    const index = (type: string) => e.encodeStep(at(type, 0), e.startSession(T0)).categorical[0];
    assert.equal(index('c'), 2);
    assert.equal(index('e'), 4);
    assert.equal(index('b'), OOV_INDEX, 'frequent enough but beyond maxSize');
    assert.equal(index('d'), OOV_INDEX, 'below minCount');
    assert.equal(index('never_seen'), OOV_INDEX);
    assert.equal(e.cardinalities.eventType, 5);
  });

  it('encodes a renamed shop exactly as the original when the roles follow the names', () => {
    const events = generatedSession();
    const options = { ...OPTIONS, eventTypes: { maxSize: 50, minCount: 1 } };
    const ours = FeatureEncoder.fit([events], options);
    const theirs = FeatureEncoder.fit([renameEvents(events)], { ...options, roles: FOREIGN_ROLES });
    assert.deepEqual(
      theirs.eventTypeVocabulary.map((t) => t).sort(),
      ours.eventTypeVocabulary.map((t) => FOREIGN_EVENT_TYPES[t]!).sort(),
    );
    const a = ours.encodeEvents(events);
    const b = theirs.encodeEvents(renameEvents(events));
    assert.deepEqual(b.numeric, a.numeric, 'cart and revisit features follow the roles');
    for (let i = 0; i < events.length; i++) {
      for (let c = 1; c < CATEGORICAL_COUNT; c++) {
        assert.equal(b.categorical[i * CATEGORICAL_COUNT + c], a.categorical[i * CATEGORICAL_COUNT + c]);
      }
      const typeOf = (enc: FeatureEncoder, idx: number) => enc.eventTypeVocabulary[idx - 2];
      const mine = typeOf(ours, a.categorical[i * CATEGORICAL_COUNT]!);
      assert.equal(typeOf(theirs, b.categorical[i * CATEGORICAL_COUNT]!), FOREIGN_EVENT_TYPES[mine!]);
    }
    // Without the roles the foreign cart events are just events: the cart features go quiet.
    const roleless = FeatureEncoder.fit([renameEvents(events)], options).encodeEvents(renameEvents(events));
    assert.notDeepEqual(roleless.numeric, a.numeric);
  });

  it('stores the roles with the encoder, so a restored encoder applies the roles it was fitted with', () => {
    const events = renameEvents(generatedSession());
    const e = FeatureEncoder.fit([events], { ...OPTIONS, roles: FOREIGN_ROLES });
    const restored = FeatureEncoder.fromJSON(JSON.parse(JSON.stringify(e.toJSON())));
    assert.deepEqual(restored.toJSON().roles, FOREIGN_ROLES);
    assert.equal(restored.roles.roleOf('basket_add'), 'addToCart');
    assert.deepEqual(restored.encodeEvents(events), e.encodeEvents(events));
  });

  it('refuses roles that give one event type two roles', () => {
    assert.throws(
      () =>
        FeatureEncoder.fromJSON({
          ...FeatureEncoder.fit([], OPTIONS).toJSON(),
          roles: { ...DEFAULT_ROLES, checkout: ['purchase'] },
        }),
      /one role only: purchase \(checkout, purchase\)/,
    );
  });

  it('reports the types seen, their roles, and the share of events out of the vocabulary', () => {
    const train = [{ events: ['a', 'a', 'basket_add'].map(at) }];
    const test = [{ events: ['a', 'x', 'x', 'basket_add'].map(at) }];
    const e = FeatureEncoder.fit(
      train.map((s) => s.events),
      { ...OPTIONS, roles: FOREIGN_ROLES, eventTypes: { maxSize: 10, minCount: 1 } },
    );
    const report = eventTypeReport(e, { a: 3, x: 2, basket_add: 2 }, { train, test });
    assert.deepEqual(report.types, [
      { type: 'a', count: 3, role: null, inVocabulary: true },
      { type: 'x', count: 2, role: null, inVocabulary: false },
      { type: 'basket_add', count: 2, role: 'addToCart', inVocabulary: true },
    ]);
    assert.equal(report.vocabularySize, 2);
    assert.deepEqual(report.outOfVocabularyShare, { train: 0, test: 0.5 });
  });
});

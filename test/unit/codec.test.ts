import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { contentEventId } from '../../src/schemas/event-id.js';
import {
  type DecodeResult,
  type EventDecoder,
  LOCAL_SCHEMAS,
  REJECT_REASONS,
  type RejectReason,
  SCHEMA_IDS,
  type SessionPrediction,
  type SessionTimeline,
  type ShopEvent,
  createEventDecoder,
  decodePrediction,
  decodeTimeline,
  encodeEvent,
  encodeEventJson,
  encodePrediction,
  encodeTimeline,
  frame,
  isNumericString,
  normalizeEvent,
  parseIso8601,
  sessionPredictionType,
  sessionTimelineType,
  shopEventType,
  shopEventV1Type,
  unframe,
} from '../../src/schemas/index.js';

const T0 = Date.UTC(2024, 2, 7, 10, 0, 0); // 2024-03-07T10:00:00Z

const base: ShopEvent = {
  cookie_id: 'ck-1',
  event_id: 'ev-1',
  event_type: 'page_view',
  event_time: T0,
  item_id: null,
  category_id: null,
  price: null,
  quantity: null,
  page_type: null,
  device: null,
  referrer: null,
  extras: {},
};

const full: ShopEvent = {
  cookie_id: 'ck-42',
  event_id: '0b6f2c1e-1111-4a4a-9999-abcdefabcdef',
  event_type: 'add_to_cart',
  event_time: T0 + 1234,
  item_id: 'sku-123',
  category_id: 'shoes',
  price: 79.99,
  quantity: 2,
  page_type: 'product',
  device: 'mobile',
  referrer: 'https://www.example.com/?q=running',
  extras: { utm_source: 'newsletter', ab: 'B' },
};

const EVENTS: { name: string; event: ShopEvent }[] = [
  { name: 'all optional fields null', event: base },
  { name: 'every field set', event: full },
  {
    name: 'unicode strings, zero price and quantity',
    event: {
      ...full,
      cookie_id: 'ck-ü-😀',
      event_type: 'purchase',
      price: 0,
      quantity: 0,
      extras: { clé: 'välue' },
    },
  },
  { name: 'unknown event type (open set)', event: { ...base, event_type: 'wishlist_add' } },
];

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

function expectOk(r: DecodeResult): Extract<DecodeResult, { ok: true }> {
  if (!r.ok) assert.fail(`expected ok, got ${r.rejection.reason}: ${r.rejection.message}`);
  return r;
}

function expectRejected(r: DecodeResult) {
  if (r.ok) assert.fail(`expected a rejection, got event ${JSON.stringify(r.event)}`);
  return r.rejection;
}

function assertSameEvent(actual: ShopEvent, expected: ShopEvent): void {
  for (const key of Object.keys(expected) as (keyof ShopEvent)[]) {
    assert.deepStrictEqual(actual[key], expected[key], `field ${key}`);
  }
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  assert.deepStrictEqual(actual, expected);
}

describe('avro types', () => {
  it('maps the local schema ids to the contract types', () => {
    assert.deepStrictEqual(SCHEMA_IDS, {
      shopEventV1: 1,
      shopEvent: 2,
      sessionPrediction: 10,
      sessionTimeline: 20,
    });
    assert.deepStrictEqual(
      [...LOCAL_SCHEMAS.keys()].sort((a, b) => a - b),
      [1, 2, 10, 20],
    );
    assert.equal(LOCAL_SCHEMAS.get(1), shopEventV1Type);
    assert.equal(LOCAL_SCHEMAS.get(2), shopEventType);
    assert.equal(LOCAL_SCHEMAS.get(10), sessionPredictionType);
    assert.equal(LOCAL_SCHEMAS.get(20), sessionTimelineType);
    assert.equal(shopEventType.name, 'io.intentstream.ShopEvent');
    assert.equal(shopEventV1Type.name, 'io.intentstream.ShopEvent');
    assert.equal(sessionTimelineType.name, 'io.intentstream.SessionTimeline');
  });

  it('reads timestamp-millis as a number of epoch milliseconds, not a Date', () => {
    const value = shopEventType.fromBuffer(shopEventType.toBuffer(base)) as ShopEvent;
    assert.equal(typeof value.event_time, 'number');
    assert.equal(value.event_time, T0);
  });
});

describe('framing', () => {
  it('frames as 0x00 + big-endian id + payload and unframes back', () => {
    const framed = frame(0x01020304, Buffer.from([0xaa, 0xbb]));
    assert.deepStrictEqual([...framed], [0, 1, 2, 3, 4, 0xaa, 0xbb]);
    const r = unframe(framed);
    assert.ok(r.ok);
    assert.equal(r.schemaId, 0x01020304);
    assert.deepStrictEqual([...r.payload], [0xaa, 0xbb]);
  });

  const cases: { name: string; input: Buffer | null; reason: RejectReason; message: RegExp }[] = [
    { name: 'null', input: null, reason: 'empty_message', message: /empty/ },
    { name: 'empty', input: Buffer.alloc(0), reason: 'empty_message', message: /empty/ },
    {
      name: 'wrong magic',
      input: Buffer.from([7, 0, 0, 0, 2]),
      reason: 'wrong_magic_byte',
      message: /got 0x07/,
    },
    {
      name: 'short header',
      input: Buffer.from([0, 0, 2]),
      reason: 'truncated_payload',
      message: /got only 3/,
    },
  ];
  for (const c of cases) {
    it(`unframe rejects ${c.name}`, () => {
      const r = unframe(c.input);
      assert.ok(!r.ok);
      assert.equal(r.rejection.reason, c.reason);
      assert.match(r.rejection.message, c.message);
    });
  }

  it('frame refuses an out-of-range schema id', () => {
    assert.throws(() => frame(-1, Buffer.alloc(0)), /schema id must be an integer/);
    assert.throws(() => frame(1.5, Buffer.alloc(0)), /schema id must be an integer/);
  });
});

describe('event round trips', () => {
  const decoder = createEventDecoder();
  for (const { name, event } of EVENTS) {
    it(`avro: ${name}`, () => {
      const buf = encodeEvent(event);
      assert.equal(buf[0], 0);
      assert.equal(buf.readUInt32BE(1), 2);
      const r = expectOk(decoder.decode(buf));
      assert.equal(r.encoding, 'avro');
      assert.equal(r.schemaId, 2);
      assertSameEvent(r.event, event);
    });
    it(`json: ${name}`, () => {
      const buf = encodeEventJson(event);
      assert.equal(buf.toString('utf8', 0, 1), '{');
      const r = expectOk(decoder.decode(buf));
      assert.equal(r.encoding, 'json');
      assert.equal(r.schemaId, undefined);
      assertSameEvent(r.event, event);
    });
  }

  it('encodeEventJson writes only the contract fields', () => {
    const extra = { ...full, internal: 'secret' } as ShopEvent;
    assert.deepStrictEqual(Object.keys(JSON.parse(encodeEventJson(extra).toString())), Object.keys(full));
  });

  it('encodeEvent names the offending field of an invalid event', () => {
    const bad = { ...base, cookie_id: 42 } as unknown as ShopEvent;
    assert.throws(
      () => encodeEvent(bad),
      (err: Error) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, /cannot encode ShopEvent: cookie_id must be "string", got 42/);
        return true;
      },
    );
  });

  it('a v1 writer (schema id 1, no referrer/extras) decodes with referrer=null and extras={}', () => {
    const { referrer: _r, extras: _e, ...v1 } = full;
    const buf = frame(SCHEMA_IDS.shopEventV1, shopEventV1Type.toBuffer(v1));
    const a = expectOk(decoder.decode(buf));
    assert.equal(a.encoding, 'avro');
    assert.equal(a.schemaId, 1);
    assertSameEvent(a.event, { ...full, referrer: null, extras: {} });
    // the default map is not shared between events
    const b = expectOk(decoder.decode(buf));
    assert.notEqual(a.event.extras, b.event.extras);
  });
});

describe('JSON normalization', () => {
  const decoder = createEventDecoder();
  const minimal = { cookie_id: 'c', event_id: 'e', event_type: 'search', event_time: T0 };
  const cases: { name: string; input: Buffer; expect: Partial<ShopEvent> }[] = [
    {
      name: 'numeric ids become strings',
      input: json({ ...minimal, item_id: 123, category_id: 7 }),
      expect: { item_id: '123', category_id: '7' },
    },
    {
      name: 'numeric string event_time',
      input: json({ ...minimal, event_time: String(T0) }),
      expect: { event_time: T0 },
    },
    {
      name: 'fractional epoch ms is floored',
      input: json({ ...minimal, event_time: T0 + 0.75 }),
      expect: { event_time: T0 },
    },
    {
      name: 'ISO-8601 with Z',
      input: json({ ...minimal, event_time: '2024-03-07T10:00:00.250Z' }),
      expect: { event_time: T0 + 250 },
    },
    {
      name: 'ISO-8601 with offset',
      input: json({ ...minimal, event_time: '2024-03-07T11:30:00+01:30' }),
      expect: { event_time: T0 },
    },
    {
      name: 'ISO-8601 without zone is UTC',
      input: json({ ...minimal, event_time: '2024-03-07T10:00:00' }),
      expect: { event_time: T0 },
    },
    {
      name: 'ISO-8601 microseconds are truncated',
      input: json({ ...minimal, event_time: '2024-03-07T10:00:00.123999Z' }),
      expect: { event_time: T0 + 123 },
    },
    {
      name: 'extras numbers/booleans to strings, nulls dropped',
      input: json({ ...minimal, extras: { n: 5, b: false, s: 'x', z: null } }),
      expect: { extras: { n: '5', b: 'false', s: 'x' } },
    },
    { name: 'extras null is {}', input: json({ ...minimal, extras: null }), expect: { extras: {} } },
    {
      name: 'unknown keys are ignored',
      input: json({ ...minimal, session_hint: 'x', nested: { a: 1 } }),
      expect: { ...minimal },
    },
    {
      name: 'explicit nulls',
      input: json({ ...minimal, price: null, quantity: null, referrer: null }),
      expect: { price: null, quantity: null, referrer: null },
    },
    {
      name: 'leading whitespace',
      input: Buffer.from(`\n\t  ${JSON.stringify(minimal)}`),
      expect: { ...minimal },
    },
    {
      name: 'UTF-8 BOM',
      input: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(minimal)]),
      expect: { ...minimal },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = expectOk(decoder.decode(c.input));
      assert.equal(r.encoding, 'json');
      for (const [key, value] of Object.entries(c.expect)) {
        assert.deepStrictEqual(r.event[key as keyof ShopEvent], value, key);
      }
    });
  }

  it('normalizeEvent works on plain objects (importer reuse)', () => {
    const r = normalizeEvent({ ...minimal, price: 10, quantity: 3 });
    assert.ok(r.ok);
    assert.deepStrictEqual(r.event, { ...base, ...minimal, price: 10, quantity: 3 });
    const bad = normalizeEvent('a string');
    assert.ok(!bad.ok);
    assert.equal(bad.rejection.reason, 'not_an_object');
  });

  it('an event without event_id (missing or null) gets a content-derived id: the same event twice, the same id', () => {
    const { event_id: _, ...noId } = minimal;
    const a = normalizeEvent(noId);
    const b = normalizeEvent({ ...noId, event_id: null, some_unknown_key: 1 });
    assert.ok(a.ok && b.ok);
    assert.match(a.event.event_id, /^cid_[0-9a-f]{24}$/);
    assert.equal(a.event.event_id, b.event.event_id);
    assert.equal(a.event.event_id, contentEventId({ ...a.event }));
    const other = normalizeEvent({ ...noId, event_time: T0 + 1 });
    assert.ok(other.ok);
    assert.notEqual(other.event.event_id, a.event.event_id, 'another instant is another event');
    const given = normalizeEvent(minimal);
    assert.ok(given.ok);
    assert.equal(given.event.event_id, minimal.event_id, "a sender's id is kept");
  });

  const iso: [string, number | undefined][] = [
    ['2024-03-07', Date.UTC(2024, 2, 7)],
    ['2024-03-07T10:00Z', T0],
    ['2024-03-07 10:00:00-02:00', T0 + 2 * 3_600_000],
    ['2024-03-07T10:00:00+0100', T0 - 3_600_000],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2023-02-29T00:00:00Z', undefined],
    ['2024-13-01T00:00:00Z', undefined],
    ['2024-03-07T24:00:00Z', undefined],
    ['2024-03-07T10:60:00Z', undefined],
    ['March 7, 2024', undefined],
    ['2024-3-7', undefined],
  ];
  for (const [input, expected] of iso) {
    it(`parseIso8601(${JSON.stringify(input)}) = ${expected}`, () => {
      assert.equal(parseIso8601(input), expected);
    });
  }

  const numeric: [string, boolean][] = [
    ['1709805600000', true],
    [' -12.5 ', true],
    ['+7', true],
    ['.5', true],
    ['5.', true],
    ['1e3', false],
    ['0x10', false],
    ['', false],
    ['2024-03-07', false],
  ];
  for (const [input, expected] of numeric) {
    it(`isNumericString(${JSON.stringify(input)}) = ${expected}`, () => {
      assert.equal(isNumericString(input), expected);
    });
  }

  it('a numeric event_time string takes the same rule as the importer: a leading + is accepted', () => {
    const r = normalizeEvent({ ...minimal, event_time: `+${T0}` });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.event.event_time, T0);
  });
});

// --- rejections -----------------------------------------------------------------------------------------

function avroWithItemIdUnionIndex(index: number): Buffer {
  // base has every optional field null and empty extras: the body ends with 8 zero bytes, the first of which
  // is item_id's union branch index
  const buf = Buffer.from(encodeEvent(base));
  assert.deepStrictEqual([...buf.subarray(buf.length - 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
  buf[buf.length - 8] = index * 2; // zig-zag
  return buf;
}

/** Avro long (zig-zag varint) encoding of a non-negative n. */
function avroLong(n: number): Buffer {
  const out: number[] = [];
  let z = n * 2;
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
  return Buffer.from(out);
}

function avroWithHugeExtrasCount(): Buffer {
  // Replace the extras terminator (0) with a block count of 2^28 and nothing after it. Unguarded avsc loops
  // 2^28 times past the end of the buffer (seconds; hours for 2^40) before reporting the truncation.
  const buf = encodeEvent(base);
  return Buffer.concat([buf.subarray(0, buf.length - 1), avroLong(2 ** 28)]);
}

interface RejectCase {
  name: string;
  input: Buffer | null;
  reason: RejectReason;
  field?: string;
  message: RegExp | string;
  maxMessageBytes?: number;
}

const good = { cookie_id: 'ck-9', event_id: 'ev-9', event_type: 'product_view', event_time: T0 };

const oversizeInput = json({ ...good, extras: { pad: 'x'.repeat(200) } });

const REJECT_CASES: RejectCase[] = [
  {
    name: 'null value',
    input: null,
    reason: 'empty_message',
    message: 'value is empty (null or zero bytes)',
  },
  {
    name: 'zero bytes',
    input: Buffer.alloc(0),
    reason: 'empty_message',
    message: 'value is empty (null or zero bytes)',
  },
  {
    name: 'only whitespace',
    input: Buffer.from(' \n '),
    reason: 'empty_message',
    message: 'value is only whitespace (3 bytes)',
  },
  {
    name: 'oversize message',
    input: oversizeInput,
    maxMessageBytes: 128,
    reason: 'oversize_message',
    message: `value is ${oversizeInput.length} bytes, more than the limit of 128 (maxMessageBytes)`,
  },
  {
    name: 'truncated avro body',
    input: encodeEvent(full).subarray(0, 30),
    reason: 'truncated_payload',
    message: 'Avro body (25 bytes) ends before a complete record of schema id 2',
  },
  {
    name: 'truncated confluent header',
    input: Buffer.from([0, 0, 0, 2]),
    reason: 'truncated_payload',
    message: /header needs 5 bytes .* got only 4$/,
  },
  {
    name: 'header without body',
    input: Buffer.from([0, 0, 0, 0, 2]),
    reason: 'truncated_payload',
    message: 'Avro body (0 bytes) ends before a complete record of schema id 2',
  },
  {
    name: 'corrupt map count (2^28 entries claimed, none present)',
    input: avroWithHugeExtrasCount(),
    reason: 'truncated_payload',
    message: /ends before a complete record of schema id 2/,
  },
  {
    name: 'wrong magic byte (binary)',
    input: Buffer.from([0x01, 0, 0, 0, 2, 0]),
    reason: 'wrong_magic_byte',
    message: "expected 0x00 (Confluent Avro) or '{' (JSON) as the first byte, got 0x01",
  },
  {
    name: 'wrong magic byte (text)',
    input: Buffer.from('cookie=ck-1'),
    reason: 'wrong_magic_byte',
    message: "expected 0x00 (Confluent Avro) or '{' (JSON) as the first byte, got 0x63 ('c')",
  },
  {
    name: 'unknown schema id',
    input: frame(77, shopEventType.toBuffer(base)),
    reason: 'unknown_schema_id',
    message:
      'schema id 77 is not one of the locally known ids (1, 2, 10, 20) and no schema registry is configured',
  },
  {
    name: 'schema id of a prediction',
    input: encodePrediction({
      cookie_id: 'ck-1',
      session_id: 's-1',
      model_version: 'v1',
      event_id: 'ev-1',
      event_time: T0,
      scored_at: T0 + 5,
      events_in_session: 3,
      probabilities: { purchase: 0.5 },
    }),
    reason: 'schema_not_an_event',
    message:
      /^schema id 10 is the record io\.intentstream\.SessionPrediction, which cannot be read as io\.intentstream\.ShopEvent/,
  },
  {
    name: 'schema id of a timeline',
    input: frame(20, Buffer.alloc(10)),
    reason: 'schema_not_an_event',
    message: /^schema id 20 is the record io\.intentstream\.SessionTimeline/,
  },
  {
    name: 'invalid avro (bad union index)',
    input: avroWithItemIdUnionIndex(5),
    reason: 'invalid_avro',
    message: /^Avro body \(\d+ bytes\) is not a valid record of schema id 2: invalid union index: 5$/,
  },
  {
    name: 'trailing bytes',
    input: Buffer.concat([encodeEvent(full), Buffer.from([1, 2, 3])]),
    reason: 'trailing_bytes',
    message: /^3 byte\(s\) left after a complete record of schema id 2/,
  },
  {
    name: 'invalid JSON',
    input: Buffer.from('{"cookie_id":"c"'),
    reason: 'invalid_json',
    message: /^value is not valid JSON: .* at position 16/,
  },
  {
    name: 'JSON array',
    input: Buffer.from('[{"cookie_id":"c"}]'),
    reason: 'not_an_object',
    message: 'expected a JSON object (one event per message), got an array',
  },
  {
    name: 'missing cookie_id',
    input: json({ event_id: 'e', event_type: 'search', event_time: T0 }),
    reason: 'missing_field',
    field: 'cookie_id',
    message: 'cookie_id is required (a non-empty string) but is nothing',
  },
  {
    name: 'numeric event_id',
    input: json({ ...good, event_id: 42 }),
    reason: 'invalid_field',
    field: 'event_id',
    message: 'event_id must be a non-empty string, got 42',
  },
  {
    name: 'missing event_time',
    input: json({ cookie_id: 'c', event_id: 'e', event_type: 'search' }),
    reason: 'missing_field',
    field: 'event_time',
    message: /^event_time is required/,
  },
  {
    name: 'non-numeric event_time',
    input: json({ ...good, event_time: 'abc' }),
    reason: 'invalid_field',
    field: 'event_time',
    message: 'event_time must be a number of epoch milliseconds or an ISO-8601 string, got "abc"',
  },
  {
    name: 'event_time in seconds (JSON)',
    input: json({ ...good, event_time: T0 / 1000 }),
    reason: 'invalid_field',
    field: 'event_time',
    message: /outside the accepted range .*; it looks like epoch seconds: send milliseconds/,
  },
  {
    name: 'event_time 0 (avro)',
    input: encodeEvent({ ...base, event_time: 0 }),
    reason: 'invalid_field',
    field: 'event_time',
    message:
      'event_time 0 (1970-01-01T00:00:00.000Z) is outside the accepted range 2000-01-01T00:00:00Z..2100-01-01T00:00:00Z',
  },
  {
    name: 'negative price (JSON)',
    input: json({ ...good, price: -5 }),
    reason: 'invalid_field',
    field: 'price',
    message: 'price must be a non-negative finite number or null, got -5',
  },
  {
    name: 'negative price (avro)',
    input: encodeEvent({ ...base, price: -5 }),
    reason: 'invalid_field',
    field: 'price',
    message: 'price must be a non-negative finite number or null, got -5',
  },
  {
    name: 'NaN price (avro)',
    input: encodeEvent({ ...base, price: Number.NaN }),
    reason: 'invalid_field',
    field: 'price',
    message: 'price must be a non-negative finite number or null, got NaN',
  },
  {
    name: 'price as a string',
    input: json({ ...good, price: '19.99' }),
    reason: 'invalid_field',
    field: 'price',
    message: 'price must be a non-negative finite number or null, got "19.99"',
  },
  {
    name: 'cookie_id of the wrong type',
    input: json({ ...good, cookie_id: 42 }),
    reason: 'invalid_field',
    field: 'cookie_id',
    message: 'cookie_id must be a non-empty string, got 42',
  },
  {
    name: 'empty cookie_id (JSON)',
    input: json({ ...good, cookie_id: '' }),
    reason: 'invalid_field',
    field: 'cookie_id',
    message: 'cookie_id must be a non-empty string, got ""',
  },
  {
    name: 'empty cookie_id (avro)',
    input: encodeEvent({ ...base, cookie_id: '' }),
    reason: 'invalid_field',
    field: 'cookie_id',
    message: 'cookie_id must be a non-empty string, got ""',
  },
  {
    name: 'empty event_type (avro)',
    input: encodeEvent({ ...base, event_type: '' }),
    reason: 'invalid_field',
    field: 'event_type',
    message: 'event_type must be a non-empty string, got ""',
  },
  {
    name: 'cookie_id longer than its limit (avro)',
    input: encodeEvent({ ...base, cookie_id: 'c'.repeat(257) }),
    reason: 'invalid_field',
    field: 'cookie_id',
    message: 'cookie_id is 257 characters long, more than the limit of 256',
  },
  {
    name: 'referrer longer than its limit (JSON)',
    input: json({ ...good, referrer: `https://x/${'r'.repeat(2040)}` }),
    reason: 'invalid_field',
    field: 'referrer',
    message: 'referrer is 2050 characters long, more than the limit of 2048',
  },
  {
    name: 'too many extras keys',
    input: json({
      ...good,
      extras: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])),
    }),
    reason: 'invalid_field',
    field: 'extras',
    message: 'extras has 33 keys, more than the limit of 32',
  },
  {
    name: 'an extras key longer than its limit (avro)',
    input: encodeEvent({ ...base, extras: { ['k'.repeat(65)]: 'v' } }),
    reason: 'invalid_field',
    field: 'extras',
    message: `extras key "${'k'.repeat(64)}…" is 65 characters long, more than the limit of 64`,
  },
  {
    name: 'an extras value longer than its limit',
    input: json({ ...good, extras: { utm: 'u'.repeat(1025) } }),
    reason: 'invalid_field',
    field: 'extras.utm',
    message: 'extras.utm is 1025 characters long, more than the limit of 1024',
  },
  {
    name: 'fractional quantity',
    input: json({ ...good, quantity: 1.5 }),
    reason: 'invalid_field',
    field: 'quantity',
    message: 'quantity must be a non-negative integer (at most 2147483647) or null, got 1.5',
  },
  {
    name: 'negative quantity (avro)',
    input: encodeEvent({ ...base, quantity: -1 }),
    reason: 'invalid_field',
    field: 'quantity',
    message: 'quantity must be a non-negative integer (at most 2147483647) or null, got -1',
  },
  {
    name: 'page_type of the wrong type',
    input: json({ ...good, page_type: 5 }),
    reason: 'invalid_field',
    field: 'page_type',
    message: 'page_type must be a string or null, got 5',
  },
  {
    name: 'item_id as an object',
    input: json({ ...good, item_id: { id: 1 } }),
    reason: 'invalid_field',
    field: 'item_id',
    message: 'item_id must be a string (or a number, converted to a string) or null, got an object',
  },
  {
    name: 'extras as an array',
    input: json({ ...good, extras: ['a'] }),
    reason: 'invalid_field',
    field: 'extras',
    message: 'extras must be an object with string values, got an array',
  },
  {
    name: 'nested extras value',
    input: json({ ...good, extras: { utm: { source: 'x' } } }),
    reason: 'invalid_field',
    field: 'extras.utm',
    message:
      'extras values must be strings (numbers and booleans are converted), got an object for key "utm"',
  },
];

describe('rejections', () => {
  const decoder = createEventDecoder();
  const limited = new Map<number, EventDecoder>();
  const decoderFor = (c: RejectCase): EventDecoder => {
    if (c.maxMessageBytes === undefined) return decoder;
    let d = limited.get(c.maxMessageBytes);
    if (!d) {
      d = createEventDecoder({ maxMessageBytes: c.maxMessageBytes });
      limited.set(c.maxMessageBytes, d);
    }
    return d;
  };
  const goodBuffers = [encodeEvent(full), encodeEventJson(full)];

  for (const c of REJECT_CASES) {
    it(`${c.name} → ${c.reason}${c.field ? ` (${c.field})` : ''}`, () => {
      const d = decoderFor(c);
      const started = performance.now();
      const rejection = expectRejected(d.decode(c.input));
      assert.ok(performance.now() - started < 250, 'decode must not spin');
      assert.equal(rejection.reason, c.reason);
      assert.equal(rejection.field, c.field);
      if (typeof c.message === 'string') assert.equal(rejection.message, c.message);
      else assert.match(rejection.message, c.message);
    });
  }

  it('covers every reason in REJECT_REASONS', () => {
    const seen = new Set(REJECT_CASES.map((c) => c.reason));
    assert.deepStrictEqual(
      [...REJECT_REASONS].filter((r) => !seen.has(r)),
      [],
    );
    assert.equal(new Set(REJECT_REASONS).size, REJECT_REASONS.length);
  });

  it('avro and JSON reject the same defect identically', () => {
    const defects: Partial<ShopEvent>[] = [
      { cookie_id: '' },
      { event_id: '' },
      { event_time: 1 },
      { price: -0.01 },
      { quantity: -3 },
    ];
    for (const defect of defects) {
      const event = { ...full, ...defect };
      const fromAvro = expectRejected(decoder.decode(encodeEvent(event)));
      const fromJson = expectRejected(decoder.decode(encodeEventJson(event)));
      assert.deepStrictEqual(fromAvro, fromJson, JSON.stringify(defect));
      assert.equal(fromAvro.reason, 'invalid_field');
      assert.equal(fromAvro.field, Object.keys(defect)[0]);
    }
  });

  it('accepts a message of exactly maxMessageBytes', () => {
    const buf = encodeEvent(full);
    const d = createEventDecoder({ maxMessageBytes: buf.length });
    assertSameEvent(expectOk(d.decode(buf)).event, full);
    assert.equal(
      expectRejected(createEventDecoder({ maxMessageBytes: buf.length - 1 }).decode(buf)).reason,
      'oversize_message',
    );
  });

  it('decodes good messages after every kind of bad one (no state kept)', () => {
    // small enough for every decoder in the table, including the 128-byte one
    const small: [Buffer, ShopEvent][] = [
      [encodeEvent(base), base],
      [json(good), { ...base, ...good }],
    ];
    assert.ok(small.every(([b]) => b.length <= 128));
    for (const c of REJECT_CASES) {
      const d = decoderFor(c);
      assert.equal(expectRejected(d.decode(c.input)).reason, c.reason, c.name);
      for (const [buf, expected] of small) assertSameEvent(expectOk(d.decode(buf)).event, expected);
      if (d === decoder) {
        for (const buf of goodBuffers) assertSameEvent(expectOk(d.decode(buf)).event, full);
      }
    }
  });
});

// --- predictions and timelines --------------------------------------------------------------------------

describe('prediction and timeline codecs', () => {
  const prediction: SessionPrediction = {
    cookie_id: 'ck-1',
    session_id: 'ck-1:1709805600000',
    model_version: 'lstm-2024-03-07',
    event_id: 'ev-7',
    event_time: T0,
    scored_at: T0 + 17,
    events_in_session: 7,
    probabilities: { purchase: 0.8125, browse: 0.1875 },
  };

  it('round-trips a prediction (schema id 10)', () => {
    const buf = encodePrediction(prediction);
    assert.equal(buf.readUInt32BE(1), 10);
    const back = decodePrediction(buf);
    assert.deepStrictEqual(back, prediction);
    assert.equal(typeof back.scored_at, 'number');
  });

  it('decodePrediction names the problem', () => {
    assert.throws(
      () => decodePrediction(encodeEvent(full)),
      /cannot decode SessionPrediction: expected schema id 10, got 2/,
    );
    assert.throws(
      () => decodePrediction(encodePrediction(prediction).subarray(0, 20)),
      /SessionPrediction: Avro body \(15 bytes\) is truncated/,
    );
    assert.throws(
      () => decodePrediction(Buffer.concat([encodePrediction(prediction), Buffer.from([0])])),
      /SessionPrediction: 1 trailing byte\(s\)/,
    );
    assert.throws(() => decodePrediction(Buffer.from('{}')), /SessionPrediction: expected magic byte 0x00/);
    assert.throws(() => decodePrediction(Buffer.alloc(0)), /SessionPrediction: value is empty/);
  });

  it('encodePrediction names the invalid field', () => {
    const bad = { ...prediction, probabilities: { purchase: 'high' } } as unknown as SessionPrediction;
    assert.throws(
      () => encodePrediction(bad),
      /cannot encode SessionPrediction: probabilities\.purchase must be "double", got "high"/,
    );
  });

  const timeline: SessionTimeline = {
    session_id: 'ck-42:1709805600000',
    cookie_id: 'ck-42',
    start_time: T0,
    end_time: T0 + 60_000,
    close_reason: 'gap',
    event_count: 2,
    events: [base, { ...full, event_time: T0 + 60_000 }],
  };

  it('round-trips a timeline (schema id 20)', () => {
    const buf = encodeTimeline(timeline);
    assert.equal(buf.readUInt32BE(1), 20);
    const back = decodeTimeline(buf);
    assert.deepStrictEqual(back, timeline);
    assert.equal(back.events[1]?.extras['utm_source'], 'newsletter');
  });

  it('round-trips a timeline larger than the encoder scratch buffer', () => {
    const events = Array.from({ length: 2000 }, (_, i) => ({
      ...full,
      event_id: `ev-${i}`,
      event_time: T0 + i,
    }));
    const big: SessionTimeline = {
      ...timeline,
      close_reason: 'max_events',
      event_count: events.length,
      events,
    };
    const buf = encodeTimeline(big);
    assert.ok(buf.length > 64 * 1024, `size ${buf.length}`);
    assert.deepStrictEqual(decodeTimeline(buf), big);
    // the scratch buffer is reused: a small value afterwards is still exact
    assert.deepStrictEqual(decodePrediction(encodePrediction(prediction)), prediction);
  });

  it('decodeTimeline rejects an unknown close_reason and a corrupt events count', () => {
    const odd = encodeTimeline({ ...timeline, close_reason: 'crash' as SessionTimeline['close_reason'] });
    assert.throws(
      () => decodeTimeline(odd),
      /close_reason must be one of gap, max_duration, max_events, end_of_input, evicted, got "crash"/,
    );
    // session_id, cookie_id, 2 longs, close_reason, event_count, then a block count of 2^40 events (unguarded
    // avsc would fail differently: `new Array(2^40)` throws "Invalid array length")
    const head = encodeTimeline({ ...timeline, events: [] });
    const corrupt = Buffer.concat([head.subarray(0, head.length - 1), avroLong(2 ** 40)]);
    const started = performance.now();
    assert.throws(() => decodeTimeline(corrupt), /SessionTimeline: Avro body \(\d+ bytes\) is truncated/);
    assert.ok(performance.now() - started < 250);
    assert.throws(() => decodeTimeline(encodePrediction(prediction)), /expected schema id 20, got 10/);
  });
});

// --- schema registry ------------------------------------------------------------------------------------

describe('schema registry', () => {
  let server: Server;
  let url: string;
  const requests: { path: string; auth: IncomingHttpHeaders['authorization'] }[] = [];
  const served = new Map<string, { status: number; body: unknown }>([
    ['/schemas/ids/99', { status: 200, body: { schema: JSON.stringify(shopEventV1Type.schema()) } }],
    ['/schemas/ids/97', { status: 200, body: { schema: JSON.stringify(sessionPredictionType.schema()) } }],
    ['/schemas/ids/96', { status: 200, body: { schemaType: 'PROTOBUF', schema: 'syntax = "proto3";' } }],
    ['/schemas/ids/95', { status: 200, body: { schema: '{"type": "record"}' } }],
  ]);
  const v1Event = (({ referrer: _r, extras: _e, ...rest }) => rest)(full);
  const id99 = frame(99, shopEventV1Type.toBuffer(v1Event));

  before(async () => {
    server = createServer((req, res) => {
      requests.push({ path: req.url ?? '', auth: req.headers.authorization });
      const hit = served.get(req.url ?? '');
      const status = hit?.status ?? 404;
      const body = hit?.body ?? {
        error_code: 40403,
        message: `Schema ${req.url?.split('/').pop()} not found`,
      };
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  it('fetches an unknown id in prepare(), then decodes it', async () => {
    requests.length = 0;
    const decoder = createEventDecoder({ registryUrl: `${url}/` });
    const before = expectRejected(decoder.decode(id99));
    assert.equal(before.reason, 'unknown_schema_id');
    assert.match(
      before.message,
      /schema id 99 .* has not been fetched from the schema registry \(call prepare\(\)/,
    );
    assert.equal(requests.length, 0, 'decode() itself never fetches');

    await decoder.prepare([id99, null, id99, encodeEvent(full), Buffer.from('{}')]);
    assert.deepStrictEqual(
      requests.map((r) => r.path),
      ['/schemas/ids/99'],
    );
    const r = expectOk(decoder.decode(id99));
    assert.equal(r.schemaId, 99);
    assert.equal(r.encoding, 'avro');
    assertSameEvent(r.event, { ...full, referrer: null, extras: {} });

    await decoder.prepare([id99]);
    assert.equal(requests.length, 1, 'a fetched schema is cached');
  });

  it('fetches concurrently requested ids once', async () => {
    requests.length = 0;
    const decoder = createEventDecoder({ registryUrl: url });
    await Promise.all([decoder.prepare([id99]), decoder.prepare([id99])]);
    assert.equal(requests.length, 1);
    assert.ok(decoder.decode(id99).ok);
  });

  it('a 404 leaves the id unknown with the registry error in the message', async () => {
    requests.length = 0;
    const id98 = frame(98, shopEventV1Type.toBuffer(v1Event));
    const decoder = createEventDecoder({ registryUrl: url });
    await decoder.prepare([id98]);
    const rejection = expectRejected(decoder.decode(id98));
    assert.equal(rejection.reason, 'unknown_schema_id');
    assert.equal(
      rejection.message,
      `schema id 98 is not one of the locally known ids (1, 2, 10, 20) and fetching it from the schema registry failed: GET ${url}/schemas/ids/98 answered HTTP 404: Schema 98 not found`,
    );
    await decoder.prepare([id98]);
    assert.equal(requests.length, 1, 'not retried before registryRetryMs');
    const eager = createEventDecoder({ registryUrl: url, registryRetryMs: 0 });
    await eager.prepare([id98]);
    await eager.prepare([id98]);
    assert.equal(requests.length, 3, 'retried once registryRetryMs has passed');
  });

  const registryRejections: { id: number; reason: RejectReason; message: RegExp }[] = [
    {
      id: 97,
      reason: 'schema_not_an_event',
      message: /^schema id 97 is the record io\.intentstream\.SessionPrediction/,
    },
    {
      id: 96,
      reason: 'unknown_schema_id',
      message: /registry failed: schema id 96 in the registry is a PROTOBUF schema, not Avro$/,
    },
    {
      id: 95,
      reason: 'unknown_schema_id',
      message: /registry failed: schema id 95 from the registry is not a valid Avro schema/,
    },
  ];
  for (const c of registryRejections) {
    it(`registry schema id ${c.id} → ${c.reason}`, async () => {
      const decoder = createEventDecoder({ registryUrl: url });
      const value = frame(c.id, Buffer.from([2, 0x61]));
      await decoder.prepare([value]);
      const rejection = expectRejected(decoder.decode(value));
      assert.equal(rejection.reason, c.reason);
      assert.match(rejection.message, c.message);
    });
  }

  it('an unreachable registry leaves the id unknown and says why', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const decoder = createEventDecoder({ registryUrl: `http://127.0.0.1:${port}` });
    await decoder.prepare([id99]);
    const rejection = expectRejected(decoder.decode(id99));
    assert.equal(rejection.reason, 'unknown_schema_id');
    assert.match(
      rejection.message,
      new RegExp(`GET http://127\\.0\\.0\\.1:${port}/schemas/ids/99 failed: .*ECONNREFUSED`),
    );
  });

  it('sends credentials from the URL as Basic auth, not in the URL', async () => {
    requests.length = 0;
    const withAuth = url.replace('http://', 'http://reader:s%3Acret@');
    const decoder = createEventDecoder({ registryUrl: withAuth });
    await decoder.prepare([id99]);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]?.auth, `Basic ${Buffer.from('reader:s:cret').toString('base64')}`);
    assert.ok(decoder.decode(id99).ok);
  });

  it('uses an injected fetch', async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ schema: JSON.stringify(shopEventV1Type.schema()) }), {
        status: 200,
      });
    };
    const decoder = createEventDecoder({ registryUrl: 'http://registry.invalid:8081', fetch: fakeFetch });
    await decoder.prepare([id99]);
    assert.deepStrictEqual(seen, ['http://registry.invalid:8081/schemas/ids/99']);
    assert.ok(decoder.decode(id99).ok);
  });

  it('prepare() is a no-op without registryUrl', async () => {
    const decoder = createEventDecoder();
    await decoder.prepare([id99]);
    const rejection = expectRejected(decoder.decode(id99));
    assert.equal(rejection.reason, 'unknown_schema_id');
    assert.match(rejection.message, /no schema registry is configured$/);
  });
});

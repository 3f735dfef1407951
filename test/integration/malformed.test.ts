import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IHeaders } from 'kafkajs';
import { readDeadLetterHeaders } from '../../src/kafka/dead-letter.js';
import { SCHEMA_IDS, encodeEvent, encodeEventJson, frame, shopEventV1Type } from '../../src/schemas/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { logLines, runCli } from '../helpers/cli.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

const event = (i: number): ShopEvent => ({
  cookie_id: 'ck_bad',
  event_id: `good-${i}`,
  event_type: 'page_view',
  event_time: Date.UTC(2026, 10, 1, 12, i),
  item_id: null,
  category_id: null,
  price: null,
  quantity: null,
  page_type: 'home',
  device: 'mobile',
  referrer: null,
  extras: {},
});
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

/** Each malformed class, with the reason and field the decoder must name. */
const MALFORMED: { name: string; value: Buffer; reason: string; field?: string }[] = [
  { name: 'truncated payload', value: encodeEvent(event(0)).subarray(0, 12), reason: 'truncated_payload' },
  {
    name: 'wrong magic byte',
    value: Buffer.concat([Buffer.from([7]), encodeEvent(event(0)).subarray(1)]),
    reason: 'wrong_magic_byte',
  },
  { name: 'unknown schema id', value: frame(4242, Buffer.from([0x02])), reason: 'unknown_schema_id' },
  { name: 'invalid JSON', value: Buffer.from('{"cookie_id": "x",'), reason: 'invalid_json' },
  {
    name: 'missing cookie_id',
    value: json({ event_id: 'e', event_type: 'search', event_time: 1793491200000 }),
    reason: 'missing_field',
    field: 'cookie_id',
  },
  {
    name: 'non-numeric event_time',
    value: json({ cookie_id: 'c', event_id: 'e', event_type: 'search', event_time: 'noon' }),
    reason: 'invalid_field',
    field: 'event_time',
  },
  { name: 'oversize message', value: Buffer.alloc(1_100_000, 0x20), reason: 'oversize_message' },
  { name: 'empty message', value: Buffer.alloc(0), reason: 'empty_message' },
  {
    name: 'negative price',
    value: json({ ...event(0), price: -1 }),
    reason: 'invalid_field',
    field: 'price',
  },
];

describe('malformed input through the real broker and the real consume process', () => {
  it('names each rejection precisely, dead-letters the original bytes, and keeps going', async () => {
    const kafka = testKafka();
    const topic = uniqueName('malformed');
    const dlq = uniqueName('malformed-dlq');
    await createTopic(kafka, topic, 1);
    await createTopic(kafka, dlq, 1);
    // good, bad, good, bad, ... so every bad message is followed by a good one; plus a v1 writer.
    const messages = MALFORMED.flatMap((m, i) => [
      { key: 'ck_bad', value: encodeEventJson(event(i)) },
      { key: 'ck_bad', value: m.value },
    ]);
    const { referrer: _r, extras: _e, ...v1 } = event(99);
    messages.push({ key: 'ck_bad', value: frame(SCHEMA_IDS.shopEventV1, shopEventV1Type.toBuffer(v1)) });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages });
    await producer.disconnect();

    const result = await runCli(
      [
        'consume',
        '--topic',
        topic,
        '--from-beginning',
        '--max-messages',
        String(messages.length),
        '--dead-letter',
      ],
      { INTENTSTREAM_TOPICS__DEAD_LETTER: dlq, INTENTSTREAM_KAFKA__MAX_MESSAGE_BYTES: '1048576' },
    );
    assert.equal(result.code, 0, result.stderr);
    const printed = result.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ShopEvent);
    assert.deepEqual(
      printed.map((e) => e.event_id),
      [...MALFORMED.map((_, i) => `good-${i}`), 'good-99'],
    );
    assert.equal(printed.at(-1)!.referrer, null);
    assert.deepEqual(printed.at(-1)!.extras, {});

    const warnings = logLines(result.stderr).filter((l) => l.msg === 'rejected message');
    assert.equal(warnings.length, MALFORMED.length);
    MALFORMED.forEach((m, i) => {
      const w = warnings[i]!;
      assert.equal(w.reason, m.reason, `${m.name}: ${JSON.stringify(w)}`);
      if (m.field) assert.equal(w.field, m.field, m.name);
      assert.equal(typeof w.detail, 'string');
      assert.equal(w.offset, String(i * 2 + 1));
    });

    const dead: { value: Buffer | null; headers?: IHeaders }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void dead.push(message) });
    await waitFor(() => dead.length === MALFORMED.length, { what: 'dead letters' });
    await consumer.disconnect();
    MALFORMED.forEach((m, i) => {
      const d = dead[i]!;
      assert.ok(d.value?.equals(m.value) ?? m.value.length === 0, `${m.name}: original bytes kept`);
      const h = readDeadLetterHeaders(d.headers);
      assert.equal(h.reason, m.reason);
      assert.equal(h.sourceTopic, topic);
      assert.equal(h.sourcePartition, '0');
      assert.equal(h.sourceOffset, String(i * 2 + 1));
      if (m.field) assert.equal(h.field, m.field);
    });
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka, Message } from 'kafkajs';
import { canonicalEvent, createGenerator } from '../../src/generator/index.js';
import { createEventDecoder, encodeEvent, encodeEventJson } from '../../src/schemas/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

function generatedEvents(n: number, seed: number): ShopEvent[] {
  const events: ShopEvent[] = [];
  for (const item of createGenerator({ seed, maxEvents: n }))
    if (item.kind === 'event') events.push(item.event);
  return events;
}

/** Produces through kafkajs, consumes back with a fresh group, decodes. */
async function roundTrip(kafka: Kafka, events: ShopEvent[], encode: (e: ShopEvent) => Buffer) {
  const topic = uniqueName('roundtrip');
  await createTopic(kafka, topic, 4);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  for (let i = 0; i < events.length; i += 1_000) {
    const messages: Message[] = events
      .slice(i, i + 1_000)
      .map((e) => ({ key: e.cookie_id, value: encode(e) }));
    await producer.send({ topic, messages });
  }
  await producer.disconnect();

  const decoder = createEventDecoder();
  const received: { event: ShopEvent; key: string; partition: number }[] = [];
  const rejected: string[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('roundtrip-group') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const r = decoder.decode(message.value);
      if (r.ok) received.push({ event: r.event, key: message.key!.toString(), partition });
      else rejected.push(r.rejection.reason);
    },
  });
  try {
    await waitFor(() => received.length + rejected.length >= events.length, {
      what: `${events.length} messages`,
    });
  } finally {
    await consumer.disconnect();
  }
  return { received, rejected };
}

describe('events through the real broker', () => {
  let kafka: Kafka;
  before(() => {
    kafka = testKafka();
  });
  after(() => undefined);

  for (const [name, encode] of [
    ['Confluent-framed Avro', encodeEvent],
    ['JSON', encodeEventJson],
  ] as const) {
    it(`10,000 generated events round-trip as ${name}, decoded equal field by field`, async () => {
      const events = generatedEvents(10_000, 11);
      assert.equal(events.length, 10_000);
      const { received, rejected } = await roundTrip(kafka, events, encode);
      assert.deepEqual(rejected, []);
      assert.equal(received.length, events.length);
      // Kafka orders per partition only: compare as multisets of canonical JSON, and per-cookie order.
      const sortKey = (e: ShopEvent) => JSON.stringify(canonicalEvent(e));
      const sent = events.map(sortKey).sort();
      const got = received.map((r) => sortKey(r.event)).sort();
      assert.deepEqual(got, sent);
      for (const r of received) assert.equal(r.key, r.event.cookie_id);
      // One cookie lives in one partition, and its events keep their production order there.
      const partitionOf = new Map<string, number>();
      for (const r of received) {
        const p = partitionOf.get(r.key);
        if (p !== undefined) assert.equal(p, r.partition, `cookie ${r.key} seen in two partitions`);
        partitionOf.set(r.key, r.partition);
      }
      const byCookieSent = new Map<string, string[]>();
      for (const e of events)
        byCookieSent.set(e.cookie_id, [...(byCookieSent.get(e.cookie_id) ?? []), e.event_id]);
      const byCookieGot = new Map<string, string[]>();
      for (const { event: e } of received)
        byCookieGot.set(e.cookie_id, [...(byCookieGot.get(e.cookie_id) ?? []), e.event_id]);
      assert.deepEqual(byCookieGot, byCookieSent);
    });
  }
});

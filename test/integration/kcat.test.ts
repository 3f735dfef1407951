import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createGenerator } from '../../src/generator/index.js';
import { createEventDecoder, encodeEventJson } from '../../src/schemas/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { createTopic, testConfig, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

const run = promisify(execFile);
const brokers = testConfig.kafka.brokers.join(',');

/** A non-JavaScript client (kcat, librdkafka) against the same broker. */
describe('kcat interoperates with the broker and our encoding', () => {
  it('lists our topic and reads the events we produced with kafkajs', async () => {
    const kafka = testKafka();
    const topic = uniqueName('kcat');
    await createTopic(kafka, topic, 2);
    const events: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 5, maxEvents: 500 }))
      if (item.kind === 'event') events.push(item.event);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: events.map((e) => ({ key: e.cookie_id, value: encodeEventJson(e) })),
    });
    await producer.disconnect();

    const listing = await run('kcat', ['-b', brokers, '-L', '-t', topic, '-J']);
    const meta = JSON.parse(listing.stdout) as { topics: { topic: string; partitions: unknown[] }[] };
    const described = meta.topics.find((t) => t.topic === topic);
    assert.ok(described, `kcat -L did not list ${topic}`);
    assert.equal(described.partitions.length, 2);

    const read = await run(
      'kcat',
      ['-b', brokers, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n'],
      {
        maxBuffer: 64 << 20,
      },
    );
    const lines = read.stdout.trim().split('\n');
    assert.equal(lines.length, events.length);
    const decoder = createEventDecoder();
    const got = lines.map((line) => {
      const [key, value] = [line.slice(0, line.indexOf('\t')), line.slice(line.indexOf('\t') + 1)];
      const r = decoder.decode(Buffer.from(value));
      assert.ok(r.ok, `kcat read a value our decoder rejects: ${value}`);
      assert.equal(key, r.event.cookie_id);
      return r.event.event_id;
    });
    assert.deepEqual(got.sort(), events.map((e) => e.event_id).sort());
  });

  it('events produced by kcat are consumed and decoded by kafkajs', async () => {
    const kafka = testKafka();
    const topic = uniqueName('kcat-produce');
    await createTopic(kafka, topic, 1);
    const lines = [
      '{"cookie_id":"ck_1","event_id":"e1","event_type":"page_view","event_time":1793491200000}',
      '{"cookie_id":"ck_1","event_id":"e2","event_type":"add_to_cart","event_time":"2026-11-01T00:01:00Z","price":9.5,"item_id":42}',
    ];
    await new Promise<void>((resolve, reject) => {
      const child = spawn('kcat', ['-b', brokers, '-P', '-t', topic, '-K', '|']);
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))));
      child.stdin.end(lines.map((l) => `ck_1|${l}`).join('\n') + '\n');
    });
    const decoder = createEventDecoder();
    const events: ShopEvent[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('kcat-group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const r = decoder.decode(message.value);
        if (r.ok) events.push(r.event);
      },
    });
    await waitFor(() => events.length === 2, { what: 'two kcat events' });
    await consumer.disconnect();
    assert.equal(events[1]!.event_time, Date.UTC(2026, 10, 1, 0, 1));
    assert.equal(events[1]!.item_id, '42');
    assert.equal(events[1]!.price, 9.5);
  });
});

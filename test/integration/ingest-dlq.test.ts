import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { IHeaders } from 'kafkajs';
import { readDeadLetterHeaders } from '../../src/kafka/dead-letter.js';
import { INGEST_METRICS } from '../../src/metrics/ingest-metrics.js';
import { encodeEvent, encodeEventJson } from '../../src/schemas/index.js';
import type { SessionTimeline, ShopEvent } from '../../src/schemas/types.js';
import { createTimelineStore } from '../../src/store/index.js';
import { spawnCli } from '../helpers/cli.js';
import { shopEvent } from '../helpers/events.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

const T0 = Date.UTC(2026, 10, 2, 10, 0);
const MIN = 60_000;
const ev = (cookie: string, id: string, minutes: number, type = 'page_view'): ShopEvent =>
  shopEvent({
    cookie_id: cookie,
    event_id: id,
    event_type: type,
    event_time: T0 + minutes * MIN,
    device: 'desktop',
  });

/** Reads one sample value from Prometheus text format. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels ? `{${labels}` : ''}`) && !l.startsWith('#'));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('ingest routes bad and late input to the dead-letter topic and reports it on /metrics', () => {
  it('dead-letters malformed and late events with reasons, counts duplicates, stores sessions, keeps going', async () => {
    const kafka = testKafka();
    const topic = uniqueName('ingest-dlq');
    const dlq = uniqueName('ingest-dlq-dead');
    await createTopic(kafka, topic, 1);
    await createTopic(kafka, dlq, 1);
    const dir = mkdtempSync(join(tmpdir(), 'ingest-dlq-'));
    const messages = [
      { key: 'a', value: encodeEvent(ev('a', 'a1', 0)) },
      { key: 'a', value: encodeEvent(ev('a', 'a2', 5, 'product_view')) },
      { key: 'a', value: Buffer.from('{"cookie_id":"a",') }, // invalid JSON
      { key: 'a', value: encodeEvent(ev('a', 'a2', 5, 'product_view')) }, // duplicate
      { key: 'b', value: encodeEventJson(ev('b', 'b1', 200)) }, // watermark -> 198 min
      { key: 'a', value: encodeEvent(ev('a', 'a3', 10)) }, // 188 min behind the watermark: late
      {
        key: 'b',
        value: Buffer.from(JSON.stringify({ cookie_id: 'b', event_id: 'x', event_type: 'search' })),
      }, // missing event_time
      // 70 years ahead of its Kafka timestamp: refused, so the watermark does not jump and b2, c1 stay on time.
      { key: 'f', value: encodeEvent(ev('f', 'f1', 70 * 365 * 24 * 60)) },
      { key: 'b', value: encodeEventJson(ev('b', 'b2', 201, 'search')) },
      { key: 'c', value: encodeEventJson(ev('c', 'c1', 300)) }, // closes b (gap) and a
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages });
    await producer.disconnect();

    const child = spawnCli(['ingest', '--port', '0'], {
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__DEAD_LETTER: dlq,
      INTENTSTREAM_INGEST__GROUP_ID: uniqueName('ingest-dlq-group'),
      INTENTSTREAM_STORE__DIR: join(dir, 'store'),
      INTENTSTREAM_INGEST__CHECKPOINT_DIR: join(dir, 'checkpoints'),
      INTENTSTREAM_INGEST__FLUSH_INTERVAL: '200ms',
    });
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    try {
      const url = await waitFor(
        () => /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1],
        {
          what: 'metrics server url',
        },
      );
      const metrics = await waitFor(
        async () => {
          const text = await (await fetch(`${url}/metrics`)).text();
          return sample(text, INGEST_METRICS.sessionsClosed, 'reason="gap"') === 2 ? text : undefined;
        },
        { what: 'two sessions closed on /metrics' },
      );
      assert.equal(sample(metrics, INGEST_METRICS.events, 'outcome="accepted"'), 5);
      assert.equal(sample(metrics, INGEST_METRICS.events, 'outcome="duplicate"'), 1);
      assert.equal(sample(metrics, INGEST_METRICS.events, 'outcome="late"'), 1);
      assert.equal(sample(metrics, INGEST_METRICS.events, 'outcome="rejected"'), 3);
      assert.equal(sample(metrics, INGEST_METRICS.deadLetters, 'reason="invalid_field"'), 1);
      assert.equal(sample(metrics, INGEST_METRICS.deadLetters, 'reason="late_event"'), 1);
      assert.equal(sample(metrics, INGEST_METRICS.deadLetters, 'reason="invalid_json"'), 1);
      assert.equal(sample(metrics, INGEST_METRICS.deadLetters, 'reason="missing_field"'), 1);
      assert.equal(sample(metrics, INGEST_METRICS.openSessions), 1);
      assert.equal(sample(metrics, INGEST_METRICS.consumerLag, 'partition="0"'), 0);
      assert.ok(
        sample(metrics, 'intentstream_process_cpu_seconds_total') !== undefined,
        'default process metrics',
      );
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr.slice(-2000));

    const dead: { headers?: IHeaders; value: Buffer | null }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void dead.push(message) });
    await waitFor(() => dead.length === 4, { what: 'four dead letters' });
    await consumer.disconnect();
    const reasons = dead.map((d) => readDeadLetterHeaders(d.headers));
    assert.deepEqual(
      reasons.map((r) => [r.reason, r.field, r.sourceOffset]),
      [
        ['invalid_json', undefined, '2'],
        ['late_event', 'event_time', '5'],
        ['missing_field', 'event_time', '6'],
        ['invalid_field', 'event_time', '7'],
      ],
    );
    assert.match(
      readDeadLetterHeaders(dead[3]!.headers).message ?? '',
      /ahead of the message's Kafka timestamp .*sessions\.maxFutureSkew 1d/,
    );
    assert.ok(dead[1]!.value!.equals(messages[5]!.value), 'late event keeps its original bytes');

    const stored: SessionTimeline[] = [];
    for await (const s of createTimelineStore(join(dir, 'store')).read()) stored.push(s);
    stored.sort((x, y) => x.start_time - y.start_time);
    assert.deepEqual(
      stored.map((s) => [s.cookie_id, s.events.map((e) => e.event_id), s.close_reason]),
      [
        ['a', ['a1', 'a2'], 'gap'],
        ['b', ['b1', 'b2'], 'gap'],
      ],
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INGEST_METRICS } from '../../src/metrics/ingest-metrics.js';
import { contentEventId } from '../../src/schemas/event-id.js';
import { normalizeEvent } from '../../src/schemas/index.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { createTimelineStore } from '../../src/store/index.js';
import { ingestEnv, startService } from '../helpers/cli.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { sample } from '../helpers/metrics.js';

const T0 = Date.UTC(2026, 10, 2, 10, 0);
const MIN = 60_000;

describe('tracker events without event_id', () => {
  it('are accepted with a content-derived id, and a re-sent copy is dropped as a duplicate', async () => {
    const kafka = testKafka();
    const topic = uniqueName('tracker-ids');
    await createTopic(kafka, topic, 1);
    await createTopic(kafka, `${topic}-dlq`, 1);
    // What a tracker without ids sends: JSON, no event_id; the second view is re-sent (a retry).
    const view = { cookie_id: 'k', event_type: 'page_view', event_time: T0, device: 'mobile' };
    const cart = { cookie_id: 'k', event_type: 'add_to_cart', event_time: T0 + MIN, item_id: 'sku-1' };
    const later = { cookie_id: 'z', event_type: 'page_view', event_time: T0 + 120 * MIN }; // closes k's session
    const bodies = [view, cart, cart, later];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: bodies.map((b) => ({ key: b.cookie_id, value: Buffer.from(JSON.stringify(b)) })),
    });
    await producer.disconnect();

    const dir = mkdtempSync(join(tmpdir(), 'tracker-ids-'));
    const ingest = await startService(
      ['ingest', '--port', '0'],
      ingestEnv({ topic, group: uniqueName('g'), dir }),
    );
    try {
      await waitFor(
        async () => {
          const text = await (await fetch(`${ingest.url}/metrics`)).text();
          return sample(text, INGEST_METRICS.sessionsClosed, 'reason="gap"') === 1 ? text : undefined;
        },
        { what: "k's session closed" },
      ).then((text) => {
        assert.equal(sample(text, INGEST_METRICS.events, 'outcome="accepted"'), 3);
        assert.equal(sample(text, INGEST_METRICS.events, 'outcome="duplicate"'), 1);
        assert.equal(sample(text, INGEST_METRICS.events, 'outcome="rejected"'), 0);
      });
    } finally {
      assert.equal(await ingest.stop(), 0, ingest.stderr().slice(-2000));
    }
    const stored: SessionTimeline[] = [];
    for await (const s of createTimelineStore(join(dir, 'store')).read()) stored.push(s);
    const expectedIds = [view, cart].map((b) => {
      const r = normalizeEvent(b);
      assert.ok(r.ok);
      return contentEventId(r.event);
    });
    assert.deepEqual(
      stored.map((s) => [s.cookie_id, s.events.map((e) => e.event_id)]),
      [['k', expectedIds]],
    );
  });
});

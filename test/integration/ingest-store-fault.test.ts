/**
 * Store writes that fail (disk full, I/O error): the first two segment writes throw, from the
 * periodic flush or inside a batch (where kafkajs retries the batch). Nothing may be committed before
 * it is durable, and once writes work again the stored sessions must equal those of an undisturbed
 * run: none lost, none doubled. Real broker, real file system; only the store's write is made to fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createGenerator } from '../../src/generator/index.js';
import { createCheckpointStore } from '../../src/ingest/checkpoint.js';
import { createIngest } from '../../src/ingest/ingest.js';
import { createIngestMetrics } from '../../src/metrics/ingest-metrics.js';
import { createMetricsRegistry } from '../../src/metrics/prometheus-registry.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { type TimelineStore, createTimelineStore } from '../../src/store/index.js';
import {
  committedTotal,
  createTopic,
  produceEvents,
  testKafka,
  testLogger,
  uniqueName,
  waitFor,
} from '../helpers/kafka.js';
import { referenceSessions, sessionKey, storedSessions } from '../helpers/reference.js';

describe('ingest store fault', () => {
  it('rides out failed store writes and stores exactly the undisturbed sessions', async () => {
    const kafka = testKafka();
    const events: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 31, cookies: 300, maxEvents: 12_000 }))
      if (item.kind === 'event') events.push(item.event);
    const topic = uniqueName('store-fault');
    await createTopic(kafka, topic, 2);
    await createTopic(kafka, `${topic}-dlq`, 1);
    const dir = mkdtempSync(join(tmpdir(), 'store-fault-'));
    const config = loadConfig({
      env: {},
      overrides: {
        topics: { events: topic, deadLetter: `${topic}-dlq` },
        ingest: {
          groupId: uniqueName('store-fault-ingest'),
          checkpointDir: join(dir, 'checkpoints'),
          flushInterval: 200,
        },
      },
    });
    const real = createTimelineStore(join(dir, 'store'));
    let writes = 0;
    let failed = 0;
    const store: TimelineStore = {
      ...real,
      dir: real.dir,
      async writeSegment(name, sessions) {
        writes++;
        if (writes <= 2) {
          failed++;
          throw Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC' });
        }
        return real.writeSegment(name, sessions);
      },
    };
    const metrics = createIngestMetrics(createMetricsRegistry('ingest'));
    const ingest = createIngest({
      kafka,
      config,
      logger: testLogger,
      metrics,
      store,
      checkpoints: createCheckpointStore(config.ingest.checkpointDir),
    });
    await ingest.start();
    try {
      // In slices, so flushes (and the injected failures) happen while events keep arriving.
      for (let i = 0; i < events.length; i += 2_000)
        await produceEvents(kafka, topic, events.slice(i, i + 2_000));
      await waitFor(
        async () =>
          (await committedTotal(kafka, config.ingest.groupId, topic)) === events.length || undefined,
        { what: 'every event committed after the failed writes', timeoutMs: 120_000 },
      );
    } finally {
      await ingest.stop();
    }
    assert.equal(failed, 2, 'both injected write failures happened');
    const expected = await referenceSessions(kafka, topic, events.length);
    const stored = await storedSessions(real.dir);
    assert.ok(expected.length > 100, `only ${expected.length} sessions closed`);
    assert.deepEqual(
      stored.map(sessionKey).sort(),
      expected.map(sessionKey).sort(),
      'stored = undisturbed sessions',
    );
  });
});

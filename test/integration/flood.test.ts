/**
 * Floods through the real ingest process: 1,000,000 distinct cookies within one hour of event time
 * and one bot cookie with 1,000,000 events, interleaved on a 4-partition topic. Memory stays bounded
 * by sessions.maxOpenPerPartition (sampled from /metrics while it runs), the process stays up, and
 * every accepted event is stored exactly once: the flood cookies as one-event sessions (closed by
 * gap or evicted under the bound), the bot in sessions of sessions.maxEvents.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Message } from 'kafkajs';
import { INGEST_METRICS } from '../../src/metrics/ingest-metrics.js';
import { SCORER_METRICS } from '../../src/metrics/scorer-metrics.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { encodeEvent } from '../../src/schemas/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { ingestEnv, spawnCli, startService } from '../helpers/cli.js';
import { shopEvent } from '../helpers/events.js';
import { committedTotal, createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { sample as sampleOf } from '../helpers/metrics.js';
import { writeModelVersion } from '../helpers/models.js';

const COOKIES = 1_000_000;
const BOT_EVENTS = 1_000_000;
const PARTITIONS = 4;
const MAX_OPEN = 50_000;
const SCORER_MAX_OPEN = 100_000;
const HOUR = 3_600_000;

const metric = (text: string, name: string, labels = '') => sampleOf(text, name, labels) ?? Number.NaN;

describe('floods through the real ingest process', () => {
  it('1,000,000 new cookies in an hour plus a 1,000,000-event bot: bounded memory, everything stored once', async () => {
    const kafka = testKafka();
    const topic = uniqueName('flood');
    await createTopic(kafka, topic, PARTITIONS);
    await createTopic(kafka, `${topic}-dlq`, 1);
    // Event time ends an hour before now, so nothing is ahead of its Kafka timestamp.
    const t0 = Date.now() - 3 * HOUR;
    const step = HOUR / COOKIES;
    const producer = kafka.producer();
    await producer.connect();
    let batch: Message[] = [];
    const send = async () => {
      await producer.send({ topic, messages: batch });
      batch = [];
    };
    for (let i = 0; i < COOKIES; i++) {
      const t = Math.floor(t0 + i * step);
      batch.push({
        key: `f${i}`,
        value: encodeEvent(
          shopEvent({ cookie_id: `f${i}`, event_id: `f${i}`, event_type: 'page_view', event_time: t }),
        ),
      });
      batch.push({
        key: 'bot',
        value: encodeEvent(
          shopEvent({ cookie_id: 'bot', event_id: `b${i}`, event_type: 'search', event_time: t }),
        ),
      });
      if (batch.length >= 20_000) await send();
    }
    // One far-later event per partition moves every watermark past the flood, so all of it closes.
    for (let p = 0; p < PARTITIONS; p++) {
      batch.push({
        partition: p,
        key: `closer-${p}`,
        value: encodeEvent(
          shopEvent({
            cookie_id: `closer-${p}`,
            event_id: `closer-${p}`,
            event_type: 'page_view',
            event_time: t0 + 2 * HOUR,
          }),
        ),
      });
    }
    await send();
    await producer.disconnect();
    const total = COOKIES + BOT_EVENTS + PARTITIONS;

    const dir = mkdtempSync(join(tmpdir(), 'flood-'));
    const group = uniqueName('flood-ingest');
    const child = spawnCli(['ingest', '--port', '0'], {
      ...ingestEnv({ topic, group, dir, flushInterval: '5s' }),
      INTENTSTREAM_SESSIONS__MAX_OPEN_PER_PARTITION: String(MAX_OPEN),
    });
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let maxRss = 0;
    let maxOpen = 0;
    let text = '';
    try {
      const url = await waitFor(
        () => /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1],
        {
          what: 'metrics url',
        },
      );
      await waitFor(
        async () => {
          text = await (await fetch(`${url}/metrics`)).text();
          maxRss = Math.max(maxRss, metric(text, 'intentstream_process_resident_memory_bytes'));
          maxOpen = Math.max(maxOpen, metric(text, INGEST_METRICS.openSessions));
          return (await committedTotal(kafka, group, topic)) === total || undefined;
        },
        { what: `ingest to commit all ${total} events`, timeoutMs: 600_000, intervalMs: 500 },
      );
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr.slice(-3000));
    assert.equal(metric(text, INGEST_METRICS.events, 'outcome="accepted"'), total, 'every event accepted');
    assert.ok(
      maxOpen <= PARTITIONS * MAX_OPEN,
      `${maxOpen} open sessions with a bound of ${PARTITIONS * MAX_OPEN}`,
    );
    assert.ok(maxRss < 1.5 * 1024 ** 3, `ingest RSS reached ${(maxRss / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(
      metric(text, INGEST_METRICS.sessionsClosed, 'reason="evicted"') > 0,
      'the bound was exercised (some sessions evicted)',
    );

    let floodSessions = 0;
    let botEvents = 0;
    let botSessions = 0;
    const seen = new Set<string>();
    for await (const s of createTimelineStore(join(dir, 'store')).read()) {
      for (const e of s.events) {
        assert.ok(!seen.has(e.event_id), `${e.event_id} stored twice`);
        seen.add(e.event_id);
      }
      if (s.cookie_id === 'bot') {
        botSessions++;
        botEvents += s.event_count;
        assert.ok(s.event_count <= 2_000, `a bot session of ${s.event_count} events`);
      } else {
        floodSessions++;
        assert.equal(s.event_count, 1);
      }
    }
    assert.equal(floodSessions, COOKIES, 'every flood cookie stored once');
    assert.equal(botEvents, BOT_EVENTS, 'every bot event stored once');
    assert.equal(botSessions, BOT_EVENTS / 2_000);

    // The scorer over the same floods: its live sessions stay within scorer.maxOpenSessions (least
    // recently active evicted), RSS stays bounded, every event gets an outcome, it stays up.
    const models = mkdtempSync(join(tmpdir(), 'flood-models-'));
    await writeModelVersion(models, 'v1', { seed: 2, scale: 3 });
    await createModelRegistry(models).promote('v1', 'test');
    const scorerGroup = uniqueName('flood-scorer');
    const scorer = await startService(['score', '--port', '0'], {
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__PREDICTIONS: `${topic}-predictions`,
      INTENTSTREAM_TOPICS__DEAD_LETTER: `${topic}-scorer-dlq`,
      INTENTSTREAM_SCORER__GROUP_ID: scorerGroup,
      INTENTSTREAM_SCORER__MODEL_DIR: models,
      INTENTSTREAM_SCORER__EMIT: 'threshold',
      INTENTSTREAM_SCORER__MAX_OPEN_SESSIONS: String(SCORER_MAX_OPEN),
    });
    let scorerRss = 0;
    let scorerOpen = 0;
    let scorerText = '';
    try {
      await waitFor(
        async () => {
          scorerText = await (await fetch(`${scorer.url}/metrics`)).text();
          scorerRss = Math.max(scorerRss, metric(scorerText, 'intentstream_process_resident_memory_bytes'));
          scorerOpen = Math.max(scorerOpen, metric(scorerText, SCORER_METRICS.openSessions));
          return (await committedTotal(kafka, scorerGroup, topic)) === total || undefined;
        },
        { what: `the scorer to commit all ${total} events`, timeoutMs: 600_000, intervalMs: 500 },
      );
      scorerText = await (await fetch(`${scorer.url}/metrics`)).text();
    } finally {
      assert.equal(await scorer.stop(), 0, scorer.stderr().slice(-3000));
    }
    const scorerOutcomes = ['scored', 'duplicate', 'late', 'rejected'].map((o) =>
      metric(scorerText, SCORER_METRICS.events, `outcome="${o}"`),
    );
    assert.equal(scorerOutcomes[0], total, `every event scored: ${scorerOutcomes}`);
    assert.ok(
      scorerOpen <= SCORER_MAX_OPEN,
      `${scorerOpen} live sessions with a bound of ${SCORER_MAX_OPEN}`,
    );
    assert.ok(
      metric(scorerText, SCORER_METRICS.evictions, 'reason="capacity"') > 0,
      'the scorer bound was exercised',
    );
    assert.ok(scorerRss < 1.5 * 1024 ** 3, `scorer RSS reached ${(scorerRss / 2 ** 20).toFixed(0)} MiB`);
  });
});

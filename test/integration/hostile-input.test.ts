/**
 * Hostile and broken input through the real ingest and scorer processes on the real broker: random bytes,
 * truncated frames, giant messages, deeply nested and huge JSON, unknown and incompatible schema
 * ids, timestamps far in the future and the past, oversized fields, interleaved with valid traffic.
 * Every message ends either processed or in the dead-letter topic with its reason, the process
 * stays up, and the stored sessions are exactly those of the valid traffic alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { IHeaders, Message } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { createGenerator, createRng } from '../../src/generator/index.js';
import { readDeadLetterHeaders } from '../../src/kafka/dead-letter.js';
import { INGEST_METRICS } from '../../src/metrics/ingest-metrics.js';
import { SCORER_METRICS } from '../../src/metrics/scorer-metrics.js';
import { createModelRegistry } from '../../src/registry/index.js';
import {
  REJECT_REASONS,
  SCHEMA_IDS,
  encodeEvent,
  encodeEventJson,
  encodePrediction,
  frame,
} from '../../src/schemas/index.js';
import type { SessionTimeline, ShopEvent } from '../../src/schemas/types.js';
import { Sessionizer, sessionRulesFromConfig } from '../../src/sessionizer/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { ingestEnv, spawnCli, startService } from '../helpers/cli.js';
import { committedTotal, createTopic, endOffsets, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { sample as sampleOf } from '../helpers/metrics.js';
import { writeModelVersion } from '../helpers/models.js';

const sample = (text: string, name: string, labels = '') => sampleOf(text, name, labels) ?? Number.NaN;

type Expect = string | 'any';

describe('hostile input through the real ingest and scorer processes', () => {
  it('routes every hostile message to the dead-letter topic with its reason and stores exactly the valid traffic', async () => {
    const rng = createRng(99);
    const valid: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 17, cookies: 150, maxEvents: 3_000, duplicateRate: 0 })) {
      if (item.kind === 'event') valid.push(item.event);
    }
    const template = valid[0]!;
    const T = template.event_time;
    const hostile: { value: Buffer; expect: Expect; what: string }[] = [];
    const add = (n: number, what: string, expect: Expect, make: (i: number) => Buffer) => {
      for (let i = 0; i < n; i++) hostile.push({ value: make(i), expect, what });
    };
    add(300, 'random bytes', 'any', () => {
      const b = Buffer.alloc(rng.int(0, 2_000));
      for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255);
      return b;
    });
    add(100, 'truncated Avro frame', 'any', (i) => {
      const full = encodeEvent({ ...template, event_id: `trunc-${i}` });
      return full.subarray(0, rng.int(1, full.length - 1));
    });
    add(5, 'giant message', 'oversize_message', () => Buffer.alloc(1_200_000, 0x7b));
    add(3, 'deeply nested JSON', 'any', () =>
      Buffer.from(
        `{"cookie_id":"n","event_id":"n","event_type":"page_view","event_time":${T},"extras":${'{"a":'.repeat(150_000)}1${'}'.repeat(150_001)}`,
      ),
    );
    add(3, 'huge JSON (50,000 extras keys)', 'invalid_field', (i) =>
      Buffer.from(
        JSON.stringify({
          ...template,
          event_id: `huge-${i}`,
          extras: Object.fromEntries(Array.from({ length: 50_000 }, (_, k) => [`k${k}`, 'v'])),
        }),
      ),
    );
    add(20, 'unknown schema id', 'unknown_schema_id', (i) => frame(90_000 + i, Buffer.from([2, 4, 6])));
    add(5, 'schema id of an incompatible schema', 'schema_not_an_event', (i) =>
      encodePrediction({
        cookie_id: 'p',
        session_id: 's',
        model_version: 'v',
        event_id: `p${i}`,
        event_time: T,
        scored_at: T,
        events_in_session: 1,
        probabilities: { purchase: 0.5 },
      }),
    );
    add(5, 'event_time far in the future', 'invalid_field', (i) =>
      encodeEvent({
        ...template,
        cookie_id: `future-${i}`,
        event_id: `future-${i}`,
        event_time: Date.UTC(2099, 0, 1),
      }),
    );
    add(5, 'event_time far in the past', 'invalid_field', (i) =>
      encodeEventJson({
        ...template,
        cookie_id: `past-${i}`,
        event_id: `past-${i}`,
        event_time: Date.UTC(1990, 0, 1),
      }),
    );
    add(5, 'oversized cookie id', 'invalid_field', (i) =>
      encodeEvent({ ...template, cookie_id: `${'x'.repeat(5_000)}${i}`, event_id: `big-${i}` }),
    );
    assert.equal(SCHEMA_IDS.sessionPrediction, 10);

    // Interleave: hostile messages at seeded positions between the valid events (valid order kept).
    const messages: (Message & { expect?: Expect; what?: string })[] = valid.map((e) => ({
      key: e.cookie_id,
      value: encodeEvent(e),
    }));
    for (const h of hostile) {
      messages.splice(rng.int(0, messages.length), 0, {
        key: 'hostile',
        value: h.value,
        expect: h.expect,
        what: h.what,
      });
    }

    const kafka = testKafka();
    const topic = uniqueName('hostile');
    const dlq = uniqueName('hostile-dlq');
    await createTopic(kafka, topic, 1);
    await createTopic(kafka, dlq, 1);
    const producer = kafka.producer();
    await producer.connect();
    // Batches under the broker's 2 MiB message.max.bytes (a giant message goes alone).
    let batch: Message[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length > 0) await producer.send({ topic, messages: batch });
      batch = [];
      bytes = 0;
    };
    for (const { key, value } of messages) {
      const size = (value as Buffer).length;
      if (bytes + size > 900_000) await flush();
      batch.push({ key, value });
      bytes += size;
    }
    await flush();
    await producer.disconnect();
    const total = await endOffsets(kafka, topic);
    assert.equal(total, messages.length);

    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    const group = uniqueName('hostile-ingest');
    const env = {
      ...ingestEnv({ topic, group, dir, deadLetter: dlq, flushInterval: '200ms' }),
    };
    const child = spawnCli(['ingest', '--port', '0'], env);
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let metrics = '';
    try {
      const url = await waitFor(
        () => /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1],
        {
          what: 'metrics url',
        },
      );
      await waitFor(async () => (await committedTotal(kafka, group, topic)) === total || undefined, {
        what: `ingest to commit all ${total} messages`,
        timeoutMs: 120_000,
      });
      metrics = await (await fetch(`${url}/metrics`)).text();
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `ingest did not exit cleanly: ${stderr.slice(-3000)}`);

    const outcomes = ['accepted', 'duplicate', 'late', 'rejected'].map((o) =>
      sample(metrics, INGEST_METRICS.events, `outcome="${o}"`),
    );
    const [accepted, duplicates, late, rejected] = outcomes as [number, number, number, number];
    assert.equal(accepted + duplicates + late + rejected, total, `every message has an outcome: ${outcomes}`);
    assert.equal(rejected, hostile.length, 'every hostile message, and only those, is rejected');
    const rss = sample(metrics, 'intentstream_process_resident_memory_bytes');
    assert.ok(rss < 1024 ** 3, `ingest RSS ${rss} bytes`);

    const dead: { headers?: IHeaders }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('hostile-dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void dead.push(message) });
    await waitFor(() => dead.length === rejected + late || undefined, { what: 'all dead letters' });
    await consumer.disconnect();
    const known = new Set<string>([...REJECT_REASONS, 'late_event']);
    const byOffset = new Map(dead.map((d) => [Number(readDeadLetterHeaders(d.headers).sourceOffset), d]));
    for (const [offset, m] of messages.entries()) {
      if (m.expect === undefined) continue;
      const d = byOffset.get(offset);
      assert.ok(d, `${m.what} at offset ${offset} is not in the dead-letter topic`);
      const h = readDeadLetterHeaders(d.headers);
      assert.ok(h.reason && known.has(h.reason), `${m.what}: unknown reason ${h.reason}`);
      assert.ok(h.message && h.message.length > 0, `${m.what}: no message`);
      if (m.expect !== 'any') assert.equal(h.reason, m.expect, `${m.what} at ${offset}: ${h.message}`);
    }

    // The stored sessions are those the sessionizer closes over the valid events alone.
    const config = loadConfig({ env: {} });
    const z = new Sessionizer(sessionRulesFromConfig(config.sessions));
    for (const e of valid) z.push(e);
    const expected = z.drainClosed();
    const stored: SessionTimeline[] = [];
    for await (const s of createTimelineStore(join(dir, 'store')).read()) stored.push(s);
    const key = (s: SessionTimeline) => `${s.session_id}:${s.events.map((e) => e.event_id).join(',')}`;
    assert.deepEqual(stored.map(key).sort(), expected.map(key).sort());
    assert.ok(expected.length > 50, `only ${expected.length} sessions closed: the check would be weak`);

    // The scorer reads the same topic through the same decoder: every hostile message is rejected
    // (dead-lettered), every other one scored or counted, and it stays up.
    const models = mkdtempSync(join(tmpdir(), 'hostile-models-'));
    await writeModelVersion(models, 'v1', { seed: 1, scale: 3 });
    await createModelRegistry(models).promote('v1', 'test');
    const scorerGroup = uniqueName('hostile-scorer');
    const scorer = await startService(['score', '--port', '0'], {
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__PREDICTIONS: `${topic}-predictions`,
      INTENTSTREAM_TOPICS__DEAD_LETTER: `${dlq}-scorer`,
      INTENTSTREAM_SCORER__GROUP_ID: scorerGroup,
      INTENTSTREAM_SCORER__MODEL_DIR: models,
    });
    let scorerMetrics = '';
    try {
      await waitFor(async () => (await committedTotal(kafka, scorerGroup, topic)) === total || undefined, {
        what: `the scorer to commit all ${total} messages`,
        timeoutMs: 120_000,
      });
      scorerMetrics = await (await fetch(`${scorer.url}/metrics`)).text();
    } finally {
      assert.equal(await scorer.stop(), 0, scorer.stderr().slice(-3000));
    }
    const scorerOutcomes = ['scored', 'duplicate', 'late', 'rejected'].map((o) =>
      sample(scorerMetrics, SCORER_METRICS.events, `outcome="${o}"`),
    );
    assert.equal(
      scorerOutcomes.reduce((a, b) => a + b, 0),
      total,
      `every message has a scorer outcome: ${scorerOutcomes}`,
    );
    assert.equal(scorerOutcomes[3], hostile.length, 'the scorer rejects exactly the hostile messages');
  });
});

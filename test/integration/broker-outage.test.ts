/**
 * Broker faults: the broker is stopped for 30 s in the middle of a stream and started again (same
 * data). The ingest process reconnects on its own — no restart — and the stored sessions equal
 * those of an undisturbed run. Uses a private broker so the shared one keeps serving other tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { createGenerator } from '../../src/generator/index.js';
import { createKafka } from '../../src/kafka/client.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { type PrivateBroker, privateBroker } from '../helpers/broker.js';
import { ingestEnv, spawnCli, startService } from '../helpers/cli.js';
import {
  committedTotal,
  createTopic,
  produceEvents,
  testLogger,
  uniqueName,
  waitFor,
} from '../helpers/kafka.js';
import { referenceSessions, sessionKey, storedSessions } from '../helpers/reference.js';

const OUTAGE_MS = 30_000;

describe('broker outage', () => {
  let broker: PrivateBroker;
  let kafka: Kafka;
  before(async () => {
    broker = await privateBroker();
    kafka = createKafka({
      config: loadConfig({ env: { KAFKA_BROKERS: broker.bootstrap } }),
      logger: testLogger,
    });
  });
  after(async () => {
    await broker.destroy();
  });

  it('ingest rides out a 30 s broker stop mid-stream and stores exactly the undisturbed sessions', async () => {
    const events: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 23, cookies: 400, maxEvents: 20_000 })) {
      if (item.kind === 'event') events.push(item.event);
    }
    const half = events.length >> 1;
    const topic = uniqueName('outage');
    await createTopic(kafka, topic, 4);
    await createTopic(kafka, `${topic}-dlq`, 1);
    await produceEvents(kafka, topic, events.slice(0, half));

    const dir = mkdtempSync(join(tmpdir(), 'outage-'));
    const group = uniqueName('outage-ingest');
    const child = spawnCli(['ingest', '--port', '0'], {
      KAFKA_BROKERS: broker.bootstrap,
      ...ingestEnv({ topic, group, dir }),
      INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '6s',
    });
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code;
    });
    try {
      await waitFor(async () => (await committedTotal(kafka, group, topic)) === half || undefined, {
        what: 'the first half committed',
        timeoutMs: 60_000,
      });
      await broker.stop();
      await delay(OUTAGE_MS); // the fault itself: the broker stays down this long
      assert.equal(exited, undefined, `ingest exited during the outage: ${stderr.slice(-3000)}`);
      await broker.start();
      await produceEvents(kafka, topic, events.slice(half));
      await waitFor(async () => (await committedTotal(kafka, group, topic)) === events.length || undefined, {
        what: 'everything committed after the broker came back',
        // Recovery is kafkajs's: a consumer restart may be waiting out its back-off (up to ~25 s with
        // our retry policy) when the broker returns, then the restarted coordinator reloads the group
        // and a rejoin can wait for the rebalance timeout (60 s). 120 s timed out once in CI.
        timeoutMs: 240_000,
      }).catch(async (error: unknown) => {
        const committed = await committedTotal(kafka, group, topic).catch(String);
        throw new Error(
          `${String(error)} (committed ${committed} of ${events.length}); ingest stderr:\n${stderr.slice(-6000)}`,
        );
      });
      assert.equal(exited, undefined, 'ingest exited');
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) =>
      exited !== undefined ? resolve(exited) : child.once('exit', resolve),
    );
    assert.equal(code, 0, stderr.slice(-3000));

    const expected = await referenceSessions(kafka, topic, events.length);
    const stored = await storedSessions(join(dir, 'store'));
    assert.ok(expected.length > 100, `only ${expected.length} sessions closed`);
    assert.deepEqual(stored.map(sessionKey).sort(), expected.map(sessionKey).sort());
  });

  it('ingest started while the broker is down waits for it (readyz 503), then works; SIGTERM while waiting exits 0', async () => {
    await broker.stop();
    const dir = mkdtempSync(join(tmpdir(), 'outage-start-'));
    const topic = uniqueName('late-broker');
    const group = uniqueName('late-broker-ingest');
    const env = { KAFKA_BROKERS: broker.bootstrap, ...ingestEnv({ topic, group, dir }) };

    const aborted = await startService(['ingest', '--port', '0'], env);
    await waitFor(() => /create the topics failed; retrying/.test(aborted.stderr()) || undefined, {
      what: 'a retry while the broker is down',
      timeoutMs: 120_000,
    });
    assert.equal((await fetch(`${aborted.url}/readyz`)).status, 503);
    assert.equal(
      await aborted.stop(),
      0,
      `SIGTERM while waiting for the broker: ${aborted.stderr().slice(-2000)}`,
    );

    const waiting = await startService(['ingest', '--port', '0'], env);
    try {
      await waitFor(() => /create the topics failed; retrying/.test(waiting.stderr()) || undefined, {
        what: 'a retry while the broker is down',
        timeoutMs: 120_000,
      });
      await broker.start();
      const events: ShopEvent[] = [];
      for (const item of createGenerator({ seed: 29, cookies: 200, maxEvents: 5_000 })) {
        if (item.kind === 'event') events.push(item.event);
      }
      await waitFor(
        async () => {
          const admin = kafka.admin();
          await admin.connect();
          try {
            return (await admin.listTopics()).includes(topic) || undefined;
          } finally {
            await admin.disconnect();
          }
        },
        {
          what: 'ingest to create its topic once the broker is up',
          timeoutMs: 120_000,
        },
      );
      await produceEvents(kafka, topic, events);
      await waitFor(async () => (await committedTotal(kafka, group, topic)) === events.length || undefined, {
        what: 'everything committed',
        timeoutMs: 120_000,
      });
      assert.equal((await fetch(`${waiting.url}/readyz`)).status, 200);
      assert.equal(await waiting.stop(), 0, waiting.stderr().slice(-2000));
      const expected = await referenceSessions(kafka, topic, events.length);
      assert.ok(expected.length > 20, `only ${expected.length} sessions closed`);
      assert.deepEqual(
        (await storedSessions(join(dir, 'store'))).map(sessionKey).sort(),
        expected.map(sessionKey).sort(),
      );
    } finally {
      await waiting.stop();
    }
  });
});

/**
 * Broker faults for the scorer (private broker): started while the broker is down it waits (readyz
 * 503) and a SIGTERM then exits 0; running, it rides out a 30 s broker stop mid-stream without a
 * restart, and a read_committed reader then sees exactly the predictions of an undisturbed run.
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
import { createModelRegistry } from '../../src/registry/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { type PrivateBroker, privateBroker } from '../helpers/broker.js';
import { startService } from '../helpers/cli.js';
import {
  committedTotal,
  createTopic,
  produceEvents,
  testLogger,
  uniqueName,
  waitFor,
} from '../helpers/kafka.js';
import { writeModelVersion } from '../helpers/models.js';
import { byEvent, readCommittedPredictions } from '../helpers/predictions.js';

describe('scorer and broker outages', () => {
  let broker: PrivateBroker;
  let kafka: Kafka;
  let models: string;
  before(async () => {
    broker = await privateBroker();
    kafka = createKafka({
      config: loadConfig({ env: { KAFKA_BROKERS: broker.bootstrap } }),
      logger: testLogger,
    });
    models = mkdtempSync(join(tmpdir(), 'scorer-outage-models-'));
    await writeModelVersion(models, 'v1', { seed: 3, scale: 3 });
    await createModelRegistry(models).promote('v1', 'test');
  });
  after(async () => {
    await broker.destroy();
  });

  const scorerEnv = (topic: string, predictions: string, group: string) => ({
    KAFKA_BROKERS: broker.bootstrap,
    INTENTSTREAM_TOPICS__EVENTS: topic,
    INTENTSTREAM_TOPICS__PREDICTIONS: predictions,
    INTENTSTREAM_TOPICS__DEAD_LETTER: `${topic}-dlq`,
    INTENTSTREAM_SCORER__GROUP_ID: group,
    INTENTSTREAM_SCORER__MODEL_DIR: models,
    INTENTSTREAM_SCORER__EMIT: 'every',
    INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '6s',
  });
  it('waits for a broker that is down at start-up; SIGTERM while waiting exits 0', async () => {
    await broker.stop();
    try {
      const topic = uniqueName('scorer-nobroker');
      const scorer = await startService(
        ['score', '--port', '0'],
        scorerEnv(topic, `${topic}-p`, uniqueName('g')),
      );
      await waitFor(() => /create the topics failed; retrying/.test(scorer.stderr()) || undefined, {
        what: 'a retry while the broker is down',
        timeoutMs: 120_000,
      });
      assert.equal((await fetch(`${scorer.url}/readyz`)).status, 503);
      assert.equal(await scorer.stop(), 0, scorer.stderr().slice(-2000));
    } finally {
      await broker.start();
    }
  });

  it('rides out a 30 s broker stop mid-stream: predictions equal an undisturbed run, none lost or doubled', async () => {
    const events: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 41, cookies: 300, maxEvents: 8_000 })) {
      if (item.kind === 'event') events.push(item.event);
    }
    const half = events.length >> 1;
    const topic = uniqueName('scorer-outage');
    await createTopic(kafka, topic, 4);
    await produceEvents(kafka, topic, events.slice(0, half));

    const disturbed = { predictions: `${topic}-pred-a`, group: uniqueName('scorer-a') };
    const scorer = await startService(
      ['score', '--port', '0'],
      scorerEnv(topic, disturbed.predictions, disturbed.group),
    );
    try {
      await waitFor(async () => (await committedTotal(kafka, disturbed.group, topic)) === half || undefined, {
        what: 'the first half scored',
        timeoutMs: 120_000,
      });
      await broker.stop();
      await delay(30_000); // the fault itself
      assert.equal(
        scorer.child.exitCode,
        null,
        `the scorer exited during the outage: ${scorer.stderr().slice(-3000)}`,
      );
      await broker.start();
      await produceEvents(kafka, topic, events.slice(half));
      await waitFor(
        async () => (await committedTotal(kafka, disturbed.group, topic)) === events.length || undefined,
        {
          what: 'everything scored after the broker came back',
          timeoutMs: 180_000,
        },
      );
    } finally {
      assert.equal(await scorer.stop(), 0, scorer.stderr().slice(-3000));
    }

    const undisturbed = { predictions: `${topic}-pred-b`, group: uniqueName('scorer-b') };
    const reference = await startService(
      ['score', '--port', '0'],
      scorerEnv(topic, undisturbed.predictions, undisturbed.group),
    );
    try {
      await waitFor(
        async () => (await committedTotal(kafka, undisturbed.group, topic)) === events.length || undefined,
        {
          what: 'the undisturbed run',
          timeoutMs: 180_000,
        },
      );
    } finally {
      await reference.stop();
    }
    const got = byEvent(await readCommittedPredictions(kafka, disturbed.predictions));
    const want = byEvent(await readCommittedPredictions(kafka, undisturbed.predictions));
    assert.deepEqual(got.doubled, [], 'predictions doubled');
    const [a, b] = [got.map, want.map];
    assert.ok(b.size > events.length * 0.9, `only ${b.size} predictions for ${events.length} events`);
    assert.deepEqual([...a].sort(), [...b].sort());
  });
});

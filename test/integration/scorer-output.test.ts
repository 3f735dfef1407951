import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { IHeaders, Kafka } from 'kafkajs';
import { createGenerator } from '../../src/generator/index.js';
import { malformedBytes } from '../../src/generator/wire.js';
import { readDeadLetterHeaders } from '../../src/kafka/dead-letter.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { createEventDecoder } from '../../src/schemas/index.js';
import { decodeCommitMetadata } from '../../src/scoring/commit-metadata.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { writeModelVersion } from '../helpers/models.js';
import { readCommittedPredictions } from '../helpers/predictions.js';

const EVENTS = 2_000;

async function committed(kafka: Kafka, groupId: string, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return entry?.partitions ?? [];
  } finally {
    await admin.disconnect();
  }
}

describe('scorer outputs', () => {
  for (const exactlyOnce of [true, false]) {
    it(`exactlyOnce=${exactlyOnce}: a prediction per event, dead letters with reasons, rebuild points in the committed offsets`, async () => {
      const kafka = testKafka();
      const topic = uniqueName('scorer-out');
      const predictions = uniqueName('scorer-out-predictions');
      const dlq = uniqueName('scorer-out-dlq');
      const groupId = uniqueName('scorer-out');
      await createTopic(kafka, topic, 2);
      await createTopic(kafka, predictions, 2);
      await createTopic(kafka, dlq, 1);
      const models = mkdtempSync(join(tmpdir(), 'scorer-out-models-'));
      await writeModelVersion(models, 'v1', { seed: 1, scale: 3 });
      await createModelRegistry(models).promote('v1', 'test');
      const gen = await runCli([
        'generate',
        '--seed',
        '8',
        '--events',
        String(EVENTS),
        '--cookies',
        '200',
        '--malformed-rate',
        '0.01',
        '--topic',
        topic,
        '--log-level',
        'warn',
      ]);
      assert.equal(gen.code, 0, gen.stderr);
      const child = spawnCli(['score', '--port', '0'], {
        INTENTSTREAM_TOPICS__EVENTS: topic,
        INTENTSTREAM_TOPICS__PREDICTIONS: predictions,
        INTENTSTREAM_TOPICS__DEAD_LETTER: dlq,
        INTENTSTREAM_SCORER__GROUP_ID: groupId,
        INTENTSTREAM_SCORER__MODEL_DIR: models,
        INTENTSTREAM_SCORER__EXACTLY_ONCE: String(exactlyOnce),
      });
      child.stdout!.resume();
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const admin = kafka.admin();
      await admin.connect();
      const end = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
      await admin.disconnect();
      await waitFor(
        async () =>
          (await committed(kafka, groupId, topic)).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0) >=
          end,
        { timeoutMs: 60_000, what: 'the scorer to commit every offset' },
      );
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, stderr.slice(-2000));

      const offsets = await committed(kafka, groupId, topic);
      for (const p of offsets) {
        const point = decodeCommitMetadata(p.metadata as string | null);
        assert.ok(point, `partition ${p.partition} commit carries a rebuild point: ${String(p.metadata)}`);
        assert.ok(point.offset <= Number(p.offset), 'the rebuild point is not after the committed offset');
        assert.equal(point.model, 'v1');
      }
      const read = await readCommittedPredictions(kafka, predictions);
      const ids = read.map((r) => r.prediction.event_id);
      assert.equal(new Set(ids).size, ids.length, 'one prediction per event');
      assert.ok(
        ids.length > EVENTS * 0.95,
        `${ids.length} predictions (duplicates in the input are skipped)`,
      );

      const dead: { headers?: IHeaders }[] = [];
      // The malformed messages the generator mixed in that the decoder rejects (some classes still decode).
      const decoder = createEventDecoder();
      let malformed = 0;
      for (const item of createGenerator({ seed: 8, maxEvents: EVENTS, cookies: 200, malformedRate: 0.01 })) {
        if (item.kind === 'malformed' && !decoder.decode(malformedBytes(item)).ok) malformed++;
      }
      assert.ok(malformed > 5, `${malformed} malformed messages generated`);
      const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: dlq, fromBeginning: true });
        await consumer.run({ eachMessage: async ({ message }) => void dead.push(message) });
        await waitFor(() => dead.length >= malformed, { what: `${malformed} dead letters` });
      } finally {
        await consumer.disconnect();
      }
      assert.equal(dead.length, malformed, 'one dead letter per malformed message');
      for (const d of dead) {
        const h = readDeadLetterHeaders(d.headers);
        assert.ok(
          h.reason && h.sourceOffset && h.sourceTopic === topic,
          `dead letter headers ${JSON.stringify(h)}`,
        );
        assert.equal(h.consumerGroup, groupId, 'the scorer names itself as the rejecting group');
      }
    });
  }
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { logLines, spawnCli } from '../helpers/cli.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

/**
 * kafkajs stops a consumer for good after a non-retriable error (CRASH with restart: false). A process
 * that kept running then would consume nothing while looking alive; it must exit non-zero instead, so
 * a supervisor restarts it. Provoked for real: a rejected message whose dead letter is larger than the
 * dead-letter topic accepts (MESSAGE_TOO_LARGE is not retriable).
 */
describe('a consumer crash kafkajs does not restart from ends the process non-zero', () => {
  it('ingest exits with code 1 after its consumer crashed for good', async () => {
    const kafka = testKafka();
    const topic = uniqueName('consumer-crash');
    const dlq = uniqueName('consumer-crash-dlq');
    await createTopic(kafka, topic, 1);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [
          {
            topic: dlq,
            numPartitions: 1,
            replicationFactor: 1,
            configEntries: [{ name: 'max.message.bytes', value: '1024' }],
          },
        ],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    // Invalid JSON, so it is dead-lettered with its original bytes: too large for the dead-letter topic.
    await producer.send({
      topic,
      messages: [{ key: 'a', value: Buffer.from(`{"cookie_id":"${'x'.repeat(8_000)}`) }],
    });
    await producer.disconnect();

    const dir = mkdtempSync(join(tmpdir(), 'consumer-crash-'));
    const child = spawnCli(['ingest', '--port', '0'], {
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__DEAD_LETTER: dlq,
      INTENTSTREAM_INGEST__GROUP_ID: uniqueName('consumer-crash-group'),
      INTENTSTREAM_STORE__DIR: join(dir, 'store'),
      INTENTSTREAM_INGEST__CHECKPOINT_DIR: join(dir, 'checkpoints'),
    });
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let code: number | null | undefined;
    child.once('exit', (c) => {
      code = c;
    });
    try {
      await waitFor(() => code !== undefined, {
        timeoutMs: 90_000,
        what: 'ingest to exit after its consumer crashed',
      });
    } finally {
      if (code === undefined) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    assert.equal(code, 1, stderr.slice(-3000));
    const lines = logLines(stderr);
    const crash = lines.find((l) => l['msg'] === 'consumer crashed');
    assert.equal(crash?.['restart'], false, 'kafkajs gave up on the consumer');
    assert.ok(
      lines.some(
        (l) =>
          l['msg'] === 'consumer stopped for good: exiting non-zero so a supervisor restarts the process',
      ),
      stderr.slice(-3000),
    );
  });
});

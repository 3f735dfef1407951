import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPartitionedConsumer } from '../../src/kafka/partitioned-consumer.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { logLines, spawnCli } from '../helpers/cli.js';
import { createTopic, testConfig, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';

/**
 * kafkajs stops a consumer for good after a non-retriable error (CRASH with restart: false). A process
 * that kept running then would consume nothing while looking alive: the shared runtime restarts the
 * consumer, and when that keeps failing the process exits non-zero so a supervisor restarts it.
 */
describe('a consumer crash kafkajs does not restart from', () => {
  it('is restarted: consuming resumes, every partition state dropped first', async () => {
    const kafka = testKafka();
    const topic = uniqueName('consumer-restart');
    await createTopic(kafka, topic, 1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: ['a', 'b', 'c'].map((value) => ({ value })) });
    await producer.disconnect();
    const logger = createMemoryLogger('info');
    const assignments: number[][] = [];
    const fatal: unknown[] = [];
    const input = createPartitionedConsumer({
      kafka,
      config: testConfig,
      logger,
      groupId: uniqueName('consumer-restart-group'),
      topic,
      maxWaitTimeInMs: 100,
      onAssigned: (partitions) => assignments.push(partitions),
      onFatal: (error) => fatal.push(error),
    });
    const consumed: string[] = [];
    let calls = 0;
    try {
      await input.run(
        async ({ batch, resolveOffset }) => {
          // A programmer error: kafkajs does not retry it, so its consumer stops for good.
          if (calls++ === 0) throw new TypeError('a bug in the first batch');
          for (const m of batch.messages) {
            consumed.push(String(m.value));
            resolveOffset(m.offset);
          }
          await input.commit(batch.partition, Number(batch.messages.at(-1)!.offset) + 1);
        },
        () => false,
      );
      await waitFor(() => consumed.length === 3, {
        timeoutMs: 60_000,
        what: 'the messages after the restart',
      });
    } finally {
      await input.stop();
    }
    assert.deepEqual(consumed, ['a', 'b', 'c']);
    assert.deepEqual(fatal, []);
    // On a broker that just started, a retriable crash (the coordinator still loading) may come first;
    // kafkajs restarts from that one itself. The crash under test is the bug's.
    const crash = logger.lines.find(
      (l) =>
        l['msg'] === 'consumer crashed' && JSON.stringify(l['error']).includes('a bug in the first batch'),
    );
    assert.equal(crash?.['restart'], false, 'kafkajs gave up on the consumer');
    assert.deepEqual(assignments[0], [0]);
    assert.deepEqual(assignments.slice(-2), [[], [0]], 'state dropped before the restart, then reassigned');
  });

  it('that keeps failing ends the process with code 1 so a supervisor restarts it', async () => {
    // Provoked for real: a rejected message whose dead letter is larger than the dead-letter topic
    // accepts (MESSAGE_TOO_LARGE is not retriable), so every restart crashes again.
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
    assert.equal(
      lines.filter((l) => String(l['msg']).startsWith('restarting the consumer kafkajs stopped')).length,
      3,
      'restarted before giving up',
    );
    assert.ok(
      lines.some(
        (l) =>
          l['msg'] === 'consumer stopped for good: exiting non-zero so a supervisor restarts the process',
      ),
      stderr.slice(-3000),
    );
  });
});

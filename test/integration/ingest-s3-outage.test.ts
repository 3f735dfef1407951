/**
 * The object store down for 30 s under ingest (a private SeaweedFS this test starts and stops, so
 * the shared test server stays up): ingest commits nothing while segments and checkpoints cannot be
 * written, recovers by itself when the store is back, and ends with exactly the sessions and open
 * state of an undisturbed run on the local directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCheckpointStore } from '../../src/ingest/checkpoint.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { type ObjectStorage, createS3Client, createS3Storage } from '../../src/storage/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { REPO_ROOT, ingestRun, runCli, startIngest } from '../helpers/cli.js';
import { committedTotal, createTopic, endOffsets, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { s3StorageEnv, testS3Prefix } from '../helpers/storage.js';

const PARTITIONS = 4;
const OUTAGE_MS = 30_000;
const PORT = 18_533;
const ENDPOINT = `http://127.0.0.1:${PORT}`;
const serverEnv = {
  ...process.env,
  S3_ENDPOINT: '',
  S3_PORT: String(PORT),
  S3_DATA_DIR: mkdtempSync(join(tmpdir(), 'seaweed-outage-')),
};
const s3 = (command: 'start' | 'stop') => {
  const r = spawnSync(join(REPO_ROOT, 'scripts/s3'), [command], { env: serverEnv, encoding: 'utf8' });
  assert.equal(r.status, 0, `scripts/s3 ${command}: ${r.stderr}`);
};

async function storedSessions(where: string | ObjectStorage): Promise<SessionTimeline[]> {
  const sessions: SessionTimeline[] = [];
  for await (const s of createTimelineStore(where).read()) sessions.push(s);
  return sessions.sort((a, b) => a.session_id.localeCompare(b.session_id));
}

const generate = (topic: string, seed: number, events: number) =>
  runCli([
    'generate',
    '--seed',
    String(seed),
    '--events',
    String(events),
    '--cookies',
    '800',
    '--topic',
    topic,
    '--log-level',
    'warn',
  ]);

describe('ingest while the object store is down', () => {
  after(() => s3('stop'));

  it(`commits nothing during a ${OUTAGE_MS / 1000} s outage, recovers, and loses or doubles nothing`, async () => {
    s3('start');
    const kafka = testKafka();
    const topic = uniqueName('ingest-s3-outage');
    const dlq = uniqueName('ingest-s3-outage-dlq');
    await createTopic(kafka, topic, PARTITIONS);
    await createTopic(kafka, dlq, 1);
    const prefix = testS3Prefix();
    const run = ingestRun(topic, dlq, 's3-outage', {
      INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '30s',
      ...s3StorageEnv(prefix),
      INTENTSTREAM_STORAGE__S3__ENDPOINT: ENDPOINT,
    });
    const { child, started, log } = startIngest(run.env(run.groupId));
    await started;
    assert.equal((await generate(topic, 31, 4_000)).code, 0);
    const firstEnd = await endOffsets(kafka, topic);
    await waitFor(async () => (await committedTotal(kafka, run.groupId, topic)) >= firstEnd, {
      timeoutMs: 120_000,
      what: 'ingest to commit the first half',
    });

    s3('stop');
    const down = Date.now();
    assert.equal((await generate(topic, 32, 4_000)).code, 0);
    const end = await endOffsets(kafka, topic);
    // Every poll during the outage: not one offset past what was stored before it.
    while (Date.now() - down < OUTAGE_MS) {
      assert.equal(
        await committedTotal(kafka, run.groupId, topic),
        firstEnd,
        'committed while the store was down',
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(child.exitCode, null, `ingest kept running through the outage: ${log().slice(-2000)}`);
    s3('start');
    await waitFor(async () => (await committedTotal(kafka, run.groupId, topic)) >= end, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'ingest to catch up once the store is back',
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}; ingest log: ${log().slice(-6000)}`);
    });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, 'ingest exits cleanly on SIGTERM after the outage');

    const reference = ingestRun(topic, dlq, 's3-outage-reference');
    const ref = startIngest(reference.env(reference.groupId));
    await ref.started;
    await waitFor(async () => (await committedTotal(kafka, reference.groupId, topic)) >= end, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'reference run to commit every offset',
    });
    ref.child.kill('SIGTERM');
    assert.equal((await once(ref.child, 'exit'))[0], 0);

    const client = createS3Client({ endpoint: ENDPOINT, region: 'us-east-1', forcePathStyle: true });
    const bucket = (area: string) =>
      createS3Storage({ client, bucket: process.env.S3_BUCKET!, prefix: `${prefix}${area}/` });
    const expected = await storedSessions(join(reference.dir, 'store'));
    const actual = await storedSessions(bucket('timelines'));
    assert.ok(expected.length > 300, `reference stored ${expected.length} sessions`);
    assert.equal(new Set(actual.map((s) => s.session_id)).size, actual.length, 'no session stored twice');
    assert.deepEqual(actual, expected, 'same sessions, same events');
    for (let p = 0; p < PARTITIONS; p++) {
      const a = await createCheckpointStore(join(reference.dir, 'checkpoints')).load(topic, p);
      const b = await createCheckpointStore(bucket('checkpoints')).load(topic, p);
      assert.ok(a && b, `checkpoints for partition ${p}`);
      assert.equal(b.nextOffset, a.nextOffset);
      assert.deepEqual(b.snapshot, a.snapshot, `open state of partition ${p}`);
    }
  });
});

/**
 * Ingest with its timeline store and checkpoints on S3 (the real server scripts/s3 starts): the
 * sessions it stores are readable straight from the bucket by an independent reader (Python boto3 +
 * fastavro), and SIGKILLs during live traffic lose and double nothing — the result equals an
 * uninterrupted run on the local directory, session for session and open state for open state.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createCheckpointStore } from '../../src/ingest/checkpoint.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import type { ObjectStorage } from '../../src/storage/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { ingestRun, runCli, startIngest } from '../helpers/cli.js';
import { committedTotal, createTopic, endOffsets, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { seededRandom } from '../helpers/seeded.js';
import { s3StorageEnv, testS3Env, testS3Prefix, testS3Storage } from '../helpers/storage.js';

const PARTITIONS = 4;

async function storedSessions(where: string | ObjectStorage): Promise<SessionTimeline[]> {
  const sessions: SessionTimeline[] = [];
  for await (const s of createTimelineStore(where).read()) sessions.push(s);
  return sessions.sort((a, b) => a.session_id.localeCompare(b.session_id));
}

/** Lists `<prefix>timelines/dt=*` in the bucket with boto3 and decodes every object with fastavro. */
const READ_BUCKET = `
import io, json, os, sys
import boto3, fastavro

bucket, prefix = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
ids, files = [], 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "timelines/dt="):
    for obj in page.get("Contents", []):
        if not obj["Key"].endswith(".avro"):
            continue
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        files += 1
        for record in fastavro.reader(io.BytesIO(body)):
            ids.append([record["session_id"], record["event_count"]])
json.dump({"files": files, "sessions": ids}, sys.stdout)
`;

async function generate(topic: string, events: number, rate?: number) {
  return runCli([
    'generate',
    '--seed',
    '23',
    '--events',
    String(events),
    '--cookies',
    '1500',
    ...(rate ? ['--rate', String(rate)] : []),
    '--topic',
    topic,
    '--log-level',
    'warn',
  ]);
}

describe('ingest on S3', () => {
  const kafka = testKafka();
  const runEnv = (topic: string, dlq: string, name: string, storage: 'local' | 's3') => {
    const prefix = testS3Prefix();
    return { prefix, ...ingestRun(topic, dlq, `s3-${name}`, storage === 's3' ? s3StorageEnv(prefix) : {}) };
  };
  const runToEnd = async (run: ReturnType<typeof runEnv>, topic: string, what: string) => {
    const end = await endOffsets(kafka, topic);
    const { child, started } = startIngest(run.env(run.groupId));
    await started;
    await waitFor(async () => (await committedTotal(kafka, run.groupId, topic)) >= end, {
      timeoutMs: 240_000,
      intervalMs: 250,
      what,
    });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, `${what}: ingest exits cleanly on SIGTERM`);
  };

  it('stores sessions in the bucket that Python boto3 + fastavro read back, the same as the store reads', async () => {
    const topic = uniqueName('ingest-s3');
    const dlq = uniqueName('ingest-s3-dlq');
    await createTopic(kafka, topic, PARTITIONS);
    await createTopic(kafka, dlq, 1);
    const gen = await generate(topic, 5_000);
    assert.equal(gen.code, 0, gen.stderr);
    const run = runEnv(topic, dlq, 'reader', 's3');
    await runToEnd(run, topic, 'ingest on S3 to commit every offset');

    const stored = await storedSessions(testS3Storage(`${run.prefix}timelines/`));
    assert.ok(stored.length > 100, `ingest stored ${stored.length} sessions on S3`);
    const { bucket } = testS3Env();
    const r = spawnSync('python3', ['-c', READ_BUCKET, bucket, run.prefix], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(
      r.status,
      0,
      `python3 boto3 + fastavro reader failed (pip install boto3 fastavro):\n${r.stderr}`,
    );
    const dump = JSON.parse(r.stdout) as { files: number; sessions: [string, number][] };
    assert.ok(dump.files > 0);
    assert.deepEqual(
      dump.sessions.sort(([a], [b]) => a.localeCompare(b)),
      stored.map((s) => [s.session_id, s.event_count]),
      'the independent reader sees exactly the stored sessions',
    );
  });

  it('survives SIGKILLs during live traffic on S3: the same sessions and open state as an uninterrupted local run', async (t) => {
    const rand = seededRandom(t);
    const EVENTS = 30_000;
    const topic = uniqueName('ingest-s3-crash');
    const dlq = uniqueName('ingest-s3-crash-dlq');
    await createTopic(kafka, topic, PARTITIONS);
    await createTopic(kafka, dlq, 1);
    const generator = generate(topic, EVENTS, 3_000);
    let generating = true;
    void generator.finally(() => {
      generating = false;
    });
    const crash = runEnv(topic, dlq, 'crash', 's3');
    let kills = 0;
    while (generating || kills < 3) {
      const { child, started } = startIngest(crash.env(crash.groupId));
      const exited = once(child, 'exit');
      await started;
      const before = await committedTotal(kafka, crash.groupId, topic);
      await waitFor(async () => (await committedTotal(kafka, crash.groupId, topic)) > before, {
        timeoutMs: 60_000,
        what: `progress after restart ${kills}`,
      });
      await new Promise((r) => setTimeout(r, rand(0, 400)));
      child.kill('SIGKILL');
      const [, signal] = await exited;
      assert.equal(signal, 'SIGKILL');
      kills++;
    }
    t.diagnostic(`${kills} SIGKILLs during the run`);
    const gen = await generator;
    assert.equal(gen.code, 0, gen.stderr);
    await runToEnd(crash, topic, 'crash run on S3 to catch up');
    const reference = runEnv(topic, dlq, 'reference', 'local');
    await runToEnd(reference, topic, 'uninterrupted local run to commit every offset');

    const expected = await storedSessions(join(reference.dir, 'store'));
    const actual = await storedSessions(testS3Storage(`${crash.prefix}timelines/`));
    assert.ok(expected.length > 1_000, `reference stored ${expected.length} sessions`);
    const ids = actual.map((s) => s.session_id);
    assert.equal(new Set(ids).size, ids.length, 'no session stored twice');
    assert.equal(actual.length, expected.length, 'same number of sessions');
    assert.deepEqual(actual, expected, 'same sessions, same events');
    for (let p = 0; p < PARTITIONS; p++) {
      const a = await createCheckpointStore(join(reference.dir, 'checkpoints')).load(topic, p);
      const b = await createCheckpointStore(testS3Storage(`${crash.prefix}checkpoints/`)).load(topic, p);
      assert.ok(a && b, `checkpoints for partition ${p}`);
      assert.equal(b.nextOffset, a.nextOffset);
      assert.deepEqual(b.snapshot, a.snapshot, `open state of partition ${p}`);
    }
  });
});

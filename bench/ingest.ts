/**
 * bench/ingest: events per second through the real broker, end to end, for
 * the real ingest pipeline (decode → sessionize → store → checkpoint →
 * commit) and, in the same run on the same topic, a passthrough consumer
 * that only decodes. ratio = ingest ÷ passthrough. With S3_ENDPOINT and S3_BUCKET set (`eval
 * "$(scripts/s3 env)"`) it also runs ingest with the store and checkpoints on that bucket, over the
 * same topic, and reports it beside the local directory (s3_ratio = S3 ÷ local).
 *
 *   npx tsx bench/ingest.ts [events=1000000]
 * Needs a broker (scripts/kafka start, or KAFKA_BROKERS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { createCheckpointStore } from '../src/ingest/checkpoint.js';
import { createIngest } from '../src/ingest/ingest.js';
import { createKafka } from '../src/kafka/client.js';
import { createLogger } from '../src/log/logger.js';
import { createIngestMetrics } from '../src/metrics/ingest-metrics.js';
import { createMetricsRegistry } from '../src/metrics/prometheus-registry.js';
import { createEventDecoder } from '../src/schemas/index.js';
import {
  type ObjectStorage,
  createLocalStorage,
  createS3Client,
  createS3Storage,
} from '../src/storage/index.js';
import { createTimelineStore } from '../src/store/index.js';
import { fillTopic, machine, waitUntil, writeResult } from './common.js';

const N = Number(process.argv[2] ?? 1_000_000);
const PARTITIONS = 4;
const logger = createLogger({ level: 'warn', bindings: { component: 'bench' } });
const run = `${Date.now().toString(36)}`;
const topic = `bench-ingest-${run}`;
const base = loadConfig();
const config = loadConfig({
  overrides: {
    topics: { events: topic, deadLetter: `${topic}-dlq` },
    ingest: { groupId: `bench-ingest-${run}` },
  },
});
const kafka = createKafka({ config: base, logger });

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [
    { topic, numPartitions: PARTITIONS },
    { topic: `${topic}-dlq`, numPartitions: 1 },
  ],
  waitForLeaders: true,
});
await admin.disconnect();
const produced = await fillTopic(kafka, topic, N);
logger.warn('topic filled', { topic, produced });

async function passthrough(): Promise<number> {
  const decoder = createEventDecoder();
  const consumer = kafka.consumer({ groupId: `bench-pass-${run}`, maxWaitTimeInMs: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let ok = 0;
  let t0 = 0;
  await consumer.run({
    autoCommit: false, // like ingest, which commits only after a flush
    eachBatch: async ({ batch }) => {
      if (t0 === 0) t0 = performance.now();
      for (const m of batch.messages) if (decoder.decode(m.value).ok) ok++;
      seen += batch.messages.length;
    },
  });
  await waitUntil(() => seen >= produced, 600_000, 'passthrough to consume everything');
  const seconds = (performance.now() - t0) / 1000;
  await consumer.disconnect();
  if (ok !== produced) throw new Error(`passthrough decoded ${ok}/${produced}`);
  return produced / seconds;
}

/** Where one ingest run keeps its store and checkpoints: fresh local folders, or a fresh prefix of the bucket. */
function storageFor(kind: 'local' | 's3', area: string): ObjectStorage {
  if (kind === 'local') return createLocalStorage(join(dir, area));
  const client = createS3Client({
    endpoint: process.env.S3_ENDPOINT!,
    region: 'us-east-1',
    forcePathStyle: true,
  });
  return createS3Storage({ client, bucket: process.env.S3_BUCKET!, prefix: `bench-${run}/${area}/` });
}
const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));

async function ingest(kind: 'local' | 's3') {
  const registry = createMetricsRegistry('ingest');
  const metrics = createIngestMetrics(registry);
  const proc = createIngest({
    kafka,
    config: { ...config, ingest: { ...config.ingest, groupId: `bench-ingest-${kind}-${run}` } },
    logger,
    metrics,
    store: createTimelineStore(storageFor(kind, 'store')),
    checkpoints: createCheckpointStore(storageFor(kind, 'checkpoints')),
  });
  const processed = async () => (await metrics.events.get()).values.reduce((s, v) => s + v.value, 0);
  await proc.start();
  await waitUntil(async () => (await processed()) > 0, 120_000, 'ingest to start');
  const t0 = performance.now();
  const first = await processed();
  await waitUntil(async () => (await processed()) >= produced, 600_000, 'ingest to process everything');
  const seconds = (performance.now() - t0) / 1000;
  const s0 = performance.now();
  await proc.stop();
  const stopSeconds = (performance.now() - s0) / 1000;
  const sessions = (await metrics.sessionsClosed.get()).values.reduce((s, v) => s + v.value, 0);
  const sum = async (h: typeof metrics.storeWrite) =>
    (await h.get()).values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'))?.value ??
    0;
  const storeSeconds = await sum(metrics.storeWrite);
  const checkpointSeconds = await sum(metrics.checkpointWrite);
  return {
    rate: (produced - first) / seconds,
    sessions,
    stopSeconds,
    seconds,
    storeSeconds,
    checkpointSeconds,
  };
}

const pass = await passthrough();
const ing = await ingest('local');
const s3 = process.env.S3_ENDPOINT && process.env.S3_BUCKET ? await ingest('s3') : undefined;
rmSync(dir, { recursive: true, force: true });
writeResult('ingest', {
  value: Math.round(ing.rate),
  unit: 'events/s',
  reference: Math.round(pass),
  ratio: Math.round((ing.rate / pass) * 1000) / 1000,
  config: {
    events: produced,
    partitions: PARTITIONS,
    encoding: 'avro',
    flushInterval: config.ingest.flushInterval,
  },
  machine: machine(),
  reference_name:
    'kafkajs passthrough consumer that only decodes (autoCommit off and maxWaitTimeInMs 1000, like ingest)',
  sessions_closed: ing.sessions,
  passthrough_seconds: Math.round((produced / pass) * 100) / 100,
  ingest_seconds: Math.round(ing.seconds * 100) / 100,
  store_write_seconds: Math.round(ing.storeSeconds * 100) / 100,
  checkpoint_write_seconds: Math.round(ing.checkpointSeconds * 100) / 100,
  drain_seconds: Math.round(ing.stopSeconds * 100) / 100,
  ...(s3
    ? {
        s3_value: Math.round(s3.rate),
        s3_ratio: Math.round((s3.rate / ing.rate) * 1000) / 1000,
        s3_server: `SeaweedFS at ${process.env.S3_ENDPOINT}`,
        s3_store_write_seconds: Math.round(s3.storeSeconds * 100) / 100,
        s3_checkpoint_write_seconds: Math.round(s3.checkpointSeconds * 100) / 100,
      }
    : {}),
});
process.exit(0);

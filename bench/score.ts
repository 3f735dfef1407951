/**
 * bench/score: the live scorer through the real broker.
 *
 *   1. throughput: a 4-partition topic filled with N generated events; the real scorer (createScorer,
 *      what `intentstream score` runs; exactly-once transactions; LSTM step model) vs, on the same
 *      topic in the same run, a passthrough consume → decode → encode a trivial prediction → produce →
 *      commit pipeline with the same transactional setting. The two alternate REPEATS times (one pass
 *      alone varies by ±10% here); ratio = median scorer ÷ median passthrough.
 *   2. latency: the generator CLI (another process) paces 10,000 events/s into a fresh topic while the
 *      scorer scores live; p50/p95/p99 of the processing latency (batch fetched → transaction
 *      committed, per event) and of the end-to-end latency (record timestamp → committed).
 *   3. memory: a child process holds 500,000 open sessions in the scorer core; RSS after GC.
 *
 *   npx tsx bench/score.ts [events=1000000] [latencySeconds=20] [repeats=3]
 * The process re-runs itself with the V8 flags bin/intentstream.js gives the services (node-flags.ts),
 * so the scorer runs as `intentstream score` does; the passthrough runs in the same process.
 * Needs a broker (scripts/kafka start, or KAFKA_BROKERS). The model: the trainer's LSTM at the default
 * config's size (trainer.features, trainer.model), initialized weights saved as a registry version and
 * loaded by lstmModelFactory like any trained one (the step cost does not depend on the weight values).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { Kafka, Producer } from 'kafkajs';
import { SERVICE_NODE_FLAGS, missingNodeFlags } from '../src/cli/node-flags.js';
import { loadConfig } from '../src/config/index.js';
import { createKafka } from '../src/kafka/client.js';
import { createLogger } from '../src/log/logger.js';
import { createMetricsRegistry } from '../src/metrics/prometheus-registry.js';
import { createScorerMetrics } from '../src/metrics/scorer-metrics.js';
import { selectBackend } from '../src/model/backend.js';
import { createModelRegistry } from '../src/registry/index.js';
import { createEventDecoder, encodePrediction } from '../src/schemas/index.js';
import {
  type BatchInfo,
  createRegistryModelSource,
  createScorer,
  lstmModelFactory,
} from '../src/scoring/index.js';
import { PARTITIONS_IN_FLIGHT } from '../src/scoring/service/scorer.js';
import { writeModelVersion } from '../test/helpers/models.js';
import { fillTopic, machine, percentile, waitUntil, writeResult } from './common.js';

if (missingNodeFlags().length > 0) {
  const child = spawnSync(
    process.execPath,
    [...SERVICE_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

const N = Number(process.argv[2] ?? 1_000_000);
const LATENCY_SECONDS = Number(process.argv[3] ?? 20);
const REPEATS = Number(process.argv[4] ?? 3);
const LATENCY_RATE = 10_000;
const OPEN_SESSIONS = 500_000;
const PARTITIONS = 4;
const logger = createLogger({ level: 'warn', bindings: { component: 'bench' } });
const run = Date.now().toString(36);
const base = loadConfig();
const kafka = createKafka({ config: base, logger });
tf.env().set('PROD', true);
await selectBackend({ requested: 'wasm' }); // as `intentstream score`

async function createTopics(topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  await admin.disconnect();
}

/** A registry whose CURRENT is an LSTM of the default trainer config's size. */
async function modelRegistry(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-score-models-'));
  await writeModelVersion(dir, 'v1', { seed: 1, features: base.trainer.features, model: base.trainer.model });
  await createModelRegistry(dir).promote('v1', 'bench');
  return dir;
}

/** The reference: consume → decode → encode a trivial prediction → produce → commit, in per-partition transactions. */
async function passthrough(topic: string, expected: number, inFlight: number, pass = 0): Promise<number> {
  const groupId = `bench-pass-${inFlight}-${pass}-${run}`;
  const predictions = `${topic}-pass-predictions`;
  const decoder = createEventDecoder();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  const producers = new Map<number, Producer>();
  let done = 0;
  let t0 = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: inFlight,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (t0 === 0) t0 = performance.now();
      let producer = producers.get(batch.partition);
      if (!producer) {
        producer = kafka.producer({
          transactionalId: `${groupId}.${topic}.${batch.partition}`,
          idempotent: true,
          maxInFlightRequests: 1,
        });
        await producer.connect();
        producers.set(batch.partition, producer);
      }
      const scoredAt = Date.now();
      const messages = [];
      for (const m of batch.messages) {
        const d = decoder.decode(m.value);
        if (!d.ok) continue;
        const e = d.event;
        messages.push({
          key: e.cookie_id,
          value: encodePrediction({
            cookie_id: e.cookie_id,
            session_id: '',
            model_version: 'passthrough',
            event_id: e.event_id,
            event_time: e.event_time,
            scored_at: scoredAt,
            events_in_session: 0,
            probabilities: { purchase: 0 },
          }),
        });
      }
      const last = batch.messages.at(-1)!;
      const txn = await producer.transaction();
      try {
        if (messages.length > 0) await txn.send({ topic: predictions, messages, acks: -1 });
        await txn.sendOffsets({
          consumerGroupId: groupId,
          topics: [
            { topic, partitions: [{ partition: batch.partition, offset: String(Number(last.offset) + 1) }] },
          ],
        });
        await txn.commit();
      } catch (error) {
        await txn.abort();
        throw error;
      }
      resolveOffset(last.offset);
      done += batch.messages.length;
      await heartbeat();
    },
  });
  await waitUntil(() => done >= expected, 600_000, 'passthrough to process everything');
  const seconds = (performance.now() - t0) / 1000;
  await consumer.disconnect();
  for (const p of producers.values()) await p.disconnect();
  return expected / seconds;
}

/** Runs the real scorer on `topic` until `until()` says stop; returns its per-batch records. */
async function scorer(
  topic: string,
  until: (batches: BatchInfo[]) => boolean | Promise<boolean>,
  onReady?: () => void,
  pass = 0,
) {
  const models = await modelRegistry();
  const config = loadConfig({
    overrides: {
      topics: { events: topic, predictions: `${topic}-predictions`, deadLetter: `${topic}-dlq` },
      scorer: { groupId: `bench-score-${topic}-${pass}`, modelDir: models, emit: 'every' },
    },
  });
  const registry = createMetricsRegistry('scorer');
  const batches: BatchInfo[] = [];
  const proc = createScorer({
    kafka,
    config,
    logger,
    metrics: createScorerMetrics(registry),
    source: createRegistryModelSource(models, lstmModelFactory),
    onBatch: (b) => batches.push(b),
  });
  await proc.start();
  await waitUntil(() => proc.ready, 60_000, 'scorer ready');
  onReady?.();
  await waitUntil(() => until(batches), 900_000, 'scorer to finish');
  await proc.stop();
  rmSync(models, { recursive: true, force: true });
  return batches;
}

const live = (batches: BatchInfo[]) => batches.reduce((s, b) => s + b.live, 0);

// --- 1. throughput ---------------------------------------------------------------------------------
const topic = `bench-score-${run}`;
await createTopics([topic, `${topic}-predictions`, `${topic}-pass-predictions`, `${topic}-dlq`]);
const produced = await fillTopic(kafka, topic, N);
logger.warn('topic filled', { topic, produced });
// The reference consumes exactly like the scorer (PARTITIONS_IN_FLIGHT); with 8 partitions in flight
// the passthrough's transactions overlap, reported beside it. Passthrough and scorer alternate, so a
// slow spell of the machine (or the broker) hits both; each reports its median.
const passRates: number[] = [];
const scoreRates: number[] = [];
let throughputBatches: BatchInfo[] = [];
for (let pass = 0; pass < REPEATS; pass++) {
  passRates.push(await passthrough(topic, produced, PARTITIONS_IN_FLIGHT, pass));
  logger.warn('passthrough done', { pass, eventsPerSecond: Math.round(passRates.at(-1)!) });
  throughputBatches = await scorer(topic, (b) => live(b) >= produced, undefined, pass);
  const first = Math.min(...throughputBatches.map((b) => b.ackedAt - b.latencyMs));
  const lastAck = Math.max(...throughputBatches.map((b) => b.ackedAt));
  scoreRates.push(produced / ((lastAck - first) / 1000));
  logger.warn('scorer done', { pass, eventsPerSecond: Math.round(scoreRates.at(-1)!) });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const passRate = median(passRates);
const scoreRate = median(scoreRates);
const pass8Rate = await passthrough(topic, produced, 8);
logger.warn('passthrough (8 partitions in flight) done', { eventsPerSecond: Math.round(pass8Rate) });
const predictionsEmitted = throughputBatches.reduce((s, b) => s + b.predictions, 0);

// --- 2. latency at a paced 10,000 events/s ---------------------------------------------------------
const paced = `bench-score-paced-${run}`;
await createTopics([paced, `${paced}-predictions`, `${paced}-dlq`]);
const pacedEvents = LATENCY_RATE * LATENCY_SECONDS;
let generator: Promise<number> | undefined;
let generatorChild: ReturnType<typeof spawn> | undefined;
const latencyBatches = await scorer(
  paced,
  async (b) => generator !== undefined && live(b) >= pacedEvents - 50 && (await generator) === 0,
  () => {
    // The generator runs in its own process (the other core), started once the scorer is ready.
    generatorChild = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)),
        'generate',
        '--seed',
        '9',
        '--events',
        String(pacedEvents),
        '--cookies',
        '20000',
        '--rate',
        String(LATENCY_RATE),
        '--topic',
        paced,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    generator = new Promise((resolve) => generatorChild!.once('exit', (code) => resolve(code ?? 1)));
  },
);
// Per-event distributions: a batch's latency counts once per event in it; skip the first 2 s (warm-up).
const warm = Math.min(...latencyBatches.map((b) => b.ackedAt)) + 2_000;
const processing: number[] = [];
const endToEnd: number[] = [];
for (const b of latencyBatches) {
  if (b.ackedAt < warm) continue;
  for (let i = 0; i < b.live; i++) processing.push(b.latencyMs);
  for (const ts of b.timestamps) endToEnd.push(b.ackedAt - ts);
}
processing.sort((a, b) => a - b);
endToEnd.sort((a, b) => a - b);
const pacedSpan =
  (Math.max(...latencyBatches.map((b) => b.ackedAt)) - Math.min(...latencyBatches.map((b) => b.ackedAt))) /
  1000;
const round1 = (x: number) => Math.round(x * 10) / 10;

// --- 3. RSS with 500,000 open sessions (a child process, so the figure is the scorer's alone) -------
const memory = await new Promise<Record<string, number>>((resolve, reject) => {
  const child = spawn(
    process.execPath,
    [
      ...SERVICE_NODE_FLAGS, // as bin/intentstream.js starts the scorer
      '--expose-gc',
      '--import',
      'tsx',
      fileURLToPath(new URL('./score-memory.ts', import.meta.url)),
      String(OPEN_SESSIONS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.once('exit', (code) =>
    code === 0
      ? resolve(JSON.parse(out.trim().split('\n').at(-1)!))
      : reject(new Error(`memory child exited ${code}`)),
  );
});

writeResult('score', {
  value: Math.round(scoreRate),
  unit: 'events/s',
  reference: Math.round(passRate),
  ratio: Math.round((scoreRate / passRate) * 1000) / 1000,
  config: {
    events: produced,
    partitions: PARTITIONS,
    encoding: 'avro',
    exactlyOnce: true,
    emit: 'every',
    model: `LSTM step model, trainer default size (lstmUnits ${JSON.stringify(base.trainer.model.lstmUnits)}, ${base.trainer.features.itemBuckets} item buckets, sessionState ${base.trainer.features.sessionState}), initialized weights`,
    pacedRate: LATENCY_RATE,
    nodeFlags: SERVICE_NODE_FLAGS,
    pacedSeconds: LATENCY_SECONDS,
  },
  machine: machine(),
  reference_name: `passthrough: kafkajs consume → decode → encode a trivial prediction → produce → commit, per-partition Kafka transactions, ${PARTITIONS_IN_FLIGHT} partition(s) in flight, like the scorer`,
  repeats: REPEATS,
  scorer_runs: scoreRates.map(Math.round),
  passthrough_runs: passRates.map(Math.round),
  ratio_per_pair: scoreRates.map((s, i) => Math.round((s / passRates[i]!) * 1000) / 1000),
  passthrough_8_in_flight: Math.round(pass8Rate),
  ratio_to_passthrough_8_in_flight: Math.round((scoreRate / pass8Rate) * 1000) / 1000,
  predictions_emitted: predictionsEmitted,
  batches: throughputBatches.length,
  mean_batch_events: Math.round(produced / throughputBatches.length),
  latency_paced_events_per_s: Math.round(live(latencyBatches) / pacedSpan),
  latency_processing_ms: {
    p50: round1(percentile(processing, 50)),
    p95: round1(percentile(processing, 95)),
    p99: round1(percentile(processing, 99)),
  },
  latency_end_to_end_ms: {
    p50: round1(percentile(endToEnd, 50)),
    p95: round1(percentile(endToEnd, 95)),
    p99: round1(percentile(endToEnd, 99)),
  },
  open_sessions: memory['sessions'],
  open_session_events: memory['events'],
  rss_bytes: memory['rss'],
  rss_gib: Math.round((memory['rss']! / 2 ** 30) * 1000) / 1000,
  heap_used_bytes: memory['heapUsed'],
  heap_total_bytes: memory['heapTotal'],
  external_bytes: memory['external'],
  memory_node_flags: memory['execArgv'],
  bytes_per_session: Math.round(memory['rss']! / memory['sessions']!),
});
process.exit(0);

/**
 * bench/ingest-bound: how fast could ingest be on this machine if it used worker threads? An upper
 * bound, not a product: the same 1,000,000-event topic read by
 *   fetch     kafkajs fetch only (each batch's values copied into one buffer, as a hand-off needs);
 *   decode    the passthrough of bench/ingest (fetch + decode);
 *   inline    fetch + decode + sessionize + Avro-encode closed sessions, all on the main thread;
 *   workersN  fetch on the main thread, decode + sessionize + encode in N worker threads
 *             (partition p in worker p mod N), batches handed over as transferred buffers.
 * None of them stores, checkpoints or commits, so real ingest is slower than each.
 * ratio = best of inline/workers ÷ decode: what bench/ingest's ratio could reach at most.
 *
 *   npx tsx bench/ingest-bound.ts [events=1000000]
 */
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../src/config/index.js';
import { createKafka } from '../src/kafka/client.js';
import { createLogger } from '../src/log/logger.js';
import { createEventDecoder } from '../src/schemas/index.js';
import { fillTopic, machine, waitUntil, writeResult } from './common.js';
import { type PackedBatch, sessionizeBatch } from './ingest-bound-worker.js';

const N = Number(process.argv[2] ?? 1_000_000);
const PARTITIONS = 4;
const logger = createLogger({ level: 'warn', bindings: { component: 'bench' } });
const run = Date.now().toString(36);
const topic = `bench-ingest-bound-${run}`;
const kafka = createKafka({ config: loadConfig(), logger });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
await admin.disconnect();
const produced = await fillTopic(kafka, topic, N);
logger.warn('topic filled', { topic, produced });

/** Runs tsx's loader in the worker, then the worker module (the bench runs from source). */
function startWorker(): Worker {
  const url = new URL('./ingest-bound-worker.ts', import.meta.url).href;
  return new Worker(
    `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`,
    { eval: true },
  );
}

function pack(partition: number, values: Buffer[]): PackedBatch {
  let total = 0;
  for (const v of values) total += v.length;
  const all = Buffer.allocUnsafeSlow(total);
  const ends = new Int32Array(values.length);
  let o = 0;
  for (let i = 0; i < values.length; i++) {
    o += values[i]!.copy(all, o);
    ends[i] = o;
  }
  return { partition, buf: all.buffer as ArrayBuffer, ends };
}

type Mode = 'fetch' | 'decode' | 'inline' | number;

async function measure(mode: Mode): Promise<number> {
  const workers = typeof mode === 'number' ? Array.from({ length: mode }, startWorker) : [];
  let done = 0;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  for (const w of workers)
    w.on('message', (n: number) => {
      done += n;
      inFlight--;
      waiting.shift()?.();
    });
  const decoder = createEventDecoder();
  const consumer = kafka.consumer({ groupId: `bench-ingest-bound-${mode}-${run}`, maxWaitTimeInMs: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let t0 = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (t0 === 0) t0 = performance.now();
      const values = batch.messages.map((m) => m.value!);
      if (mode === 'fetch') pack(batch.partition, values);
      else if (mode === 'decode') for (const v of values) decoder.decode(v);
      else if (mode === 'inline') sessionizeBatch(batch.partition, values);
      if (typeof mode !== 'number') {
        done += values.length;
        return;
      }
      while (inFlight >= 2 * workers.length) await new Promise<void>((r) => waiting.push(r));
      inFlight++;
      const packed = pack(batch.partition, values);
      workers[batch.partition % workers.length]!.postMessage(packed, [
        packed.buf,
        packed.ends.buffer as ArrayBuffer,
      ]);
    },
  });
  await waitUntil(() => done >= produced, 600_000, `${mode} to process everything`);
  const rate = produced / ((performance.now() - t0) / 1000);
  await consumer.disconnect();
  await Promise.all(workers.map((w) => w.terminate()));
  logger.warn('measured', { mode, eventsPerSecond: Math.round(rate) });
  return rate;
}

const rates: Record<string, number> = {};
for (const mode of ['fetch', 'decode', 'inline', 1, 2] as Mode[])
  rates[typeof mode === 'number' ? `workers${mode}` : mode] = Math.round(await measure(mode));
const best = Math.max(rates['inline']!, rates['workers1']!, rates['workers2']!);
writeResult('ingest-bound', {
  value: best,
  unit: 'events/s',
  reference: rates['decode']!,
  ratio: Math.round((best / rates['decode']!) * 1000) / 1000,
  config: { events: produced, partitions: PARTITIONS, encoding: 'avro' },
  machine: machine(),
  reference_name: 'kafkajs passthrough consumer that only decodes (as bench/ingest)',
  events_per_second: rates,
  note: 'upper bound: decode + sessionize + encode without store, checkpoint or commit',
});
process.exit(0);

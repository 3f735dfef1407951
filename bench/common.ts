import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Kafka, Message } from 'kafkajs';
import { createGenerator } from '../src/generator/index.js';
import { encodeEvent } from '../src/schemas/index.js';

/** One line describing the machine a figure was measured on. */
export function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown cpu'} x${cpu.length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

export interface BenchResult {
  value: number;
  unit: string;
  reference: number;
  ratio: number;
  config: Record<string, unknown>;
  machine: string;
  [extra: string]: unknown;
}

/** Writes bench/results/<name>.json (or $BENCH_RESULTS_DIR/<name>.json) and prints it. */
export function writeResult(name: string, result: BenchResult): void {
  // BENCH_RESULTS_DIR: somewhere else than the committed bench/results/ (checks, device runs).
  const override = process.env['BENCH_RESULTS_DIR'];
  const dir = override
    ? pathToFileURL(`${override.replace(/\/$/, '')}/`)
    : new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.json`, dir), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ bench: name, ...result })}\n`);
}

/** Fills a topic with `n` generated events (Confluent Avro), as fast as the producer goes. */
export async function fillTopic(kafka: Kafka, topic: string, n: number, seed = 1): Promise<number> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  let batch: Message[] = [];
  let sent = 0;
  for (const item of createGenerator({ seed, maxEvents: n, cookies: Math.max(1_000, Math.floor(n / 30)) })) {
    if (item.kind !== 'event') continue;
    batch.push({ key: item.event.cookie_id, value: encodeEvent(item.event) });
    if (batch.length === 5_000) {
      // Sequential sends: concurrent ones may reorder a partition's messages, which ingest would see as late.
      await producer.send({ topic, messages: batch });
      sent += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await producer.send({ topic, messages: batch });
  sent += batch.length;
  await producer.disconnect();
  return sent;
}

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Worker of bench/ingest-bound.ts: decodes a packed batch, sessionizes it (the real Sessionizer, one
 * per partition) and Avro-encodes the closed sessions; no store, no checkpoint. Replies with the
 * number of events decoded.
 */
import { parentPort } from 'node:worker_threads';
import { createEventDecoder, encodeTimeline } from '../src/schemas/index.js';
import { Sessionizer } from '../src/sessionizer/index.js';

export interface PackedBatch {
  partition: number;
  /** The messages' values back to back; ends[i] is where message i ends. */
  buf: ArrayBuffer;
  ends: Int32Array;
}

const decoder = createEventDecoder();
const sessionizers = new Map<number, Sessionizer>();

/** Decode → sessionize → encode closed sessions; returns the events decoded. */
export function sessionizeBatch(partition: number, values: Iterable<Buffer | null>): number {
  let s = sessionizers.get(partition);
  if (!s) {
    s = new Sessionizer();
    sessionizers.set(partition, s);
  }
  let n = 0;
  for (const value of values) {
    const d = decoder.decode(value);
    if (!d.ok) continue;
    s.push(d.event);
    n++;
  }
  for (const t of s.drainClosed()) encodeTimeline(t);
  return n;
}

function* unpack({ buf, ends }: PackedBatch): Generator<Buffer> {
  const all = Buffer.from(buf);
  let start = 0;
  for (const end of ends) {
    yield all.subarray(start, end);
    start = end;
  }
}

parentPort?.on('message', (batch: PackedBatch) => {
  parentPort!.postMessage(sessionizeBatch(batch.partition, unpack(batch)));
});

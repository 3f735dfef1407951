import type { Kafka } from 'kafkajs';
import { decodePrediction } from '../../src/schemas/index.js';
import type { SessionPrediction } from '../../src/schemas/types.js';
import { uniqueName, waitFor } from './kafka.js';

/**
 * Reads a predictions topic to its end as a read_committed consumer (aborted transactions are
 * filtered out): done once every partition's consumed position (control records included) reaches
 * the high watermark. Call it after the producers have stopped.
 */
export async function readCommittedPredictions(
  kafka: Kafka,
  topic: string,
  timeoutMs = 120_000,
): Promise<{ prediction: SessionPrediction; partition: number; offset: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const reached = new Map<number, number>();
  const out: { prediction: SessionPrediction; partition: number; offset: string }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('predictions-reader'), readUncommitted: false });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    reached.set(
      payload.partition,
      Math.max(reached.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1),
    );
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push({ prediction: decodePrediction(message.value!), partition, offset: message.offset });
      },
    });
    await waitFor(() => [...high].every(([p, h]) => h === 0 || (reached.get(p) ?? 0) >= h), {
      timeoutMs,
      intervalMs: 100,
      what: `reading ${topic} to its end`,
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** event_id → what a consumer sees (scored_at excluded), and the event ids that got more than one prediction. */
export function byEvent(predictions: Awaited<ReturnType<typeof readCommittedPredictions>>): {
  map: Map<string, string>;
  doubled: string[];
} {
  const map = new Map<string, string>();
  const doubled: string[] = [];
  for (const { prediction: p } of predictions) {
    if (map.has(p.event_id)) doubled.push(p.event_id);
    map.set(
      p.event_id,
      JSON.stringify([
        p.cookie_id,
        p.session_id,
        p.model_version,
        p.event_time,
        p.events_in_session,
        p.probabilities,
      ]),
    );
  }
  return { map, doubled };
}

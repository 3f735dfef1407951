import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { createEventDecoder } from '../../src/schemas/index.js';
import type { SessionTimeline, ShopEvent } from '../../src/schemas/types.js';
import { Sessionizer, sessionRulesFromConfig } from '../../src/sessionizer/index.js';
import type { ObjectStorage } from '../../src/storage/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { uniqueName, waitFor } from './kafka.js';

/** Where an event was read: its partition and offset. */
export interface EventPosition {
  partition: number;
  offset: number;
}

/**
 * What an undisturbed ingest stores for `topic`: one sessionizer per partition over its messages in
 * offset order (default session rules), closed sessions only. Reads `total` messages; where `positions`
 * is given, records there where each event id was first read.
 */
export async function referenceSessions(
  kafka: Kafka,
  topic: string,
  total: number,
  positions?: Map<string, EventPosition>,
): Promise<SessionTimeline[]> {
  const decoder = createEventDecoder();
  const byPartition = new Map<number, ShopEvent[]>();
  const consumer = kafka.consumer({ groupId: uniqueName('reference-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const decoded = decoder.decode(message.value);
      assert.ok(decoded.ok, 'the reference reader decodes every message');
      const list = byPartition.get(partition) ?? [];
      list.push(decoded.event);
      if (positions && !positions.has(decoded.event.event_id))
        positions.set(decoded.event.event_id, { partition, offset: Number(message.offset) });
      byPartition.set(partition, list);
      seen++;
    },
  });
  await waitFor(() => seen === total || undefined, {
    what: `the reference read of ${total} messages`,
    timeoutMs: 60_000,
  });
  await consumer.disconnect();
  const rules = sessionRulesFromConfig(loadConfig({ env: {} }).sessions);
  const expected: SessionTimeline[] = [];
  for (const list of byPartition.values()) {
    const z = new Sessionizer(rules);
    for (const e of list) z.push(e);
    expected.push(...z.drainClosed());
  }
  return expected;
}

/** Every stored session, read back from the timeline store in `where` (a directory or a bucket prefix). */
export async function storedSessions(where: string | ObjectStorage): Promise<SessionTimeline[]> {
  const out: SessionTimeline[] = [];
  for await (const s of createTimelineStore(where).read()) out.push(s);
  return out;
}

/** A comparable identity of a session: id and its events' ids in order. */
export const sessionKey = (s: SessionTimeline) =>
  `${s.session_id}:${s.events.map((e) => e.event_id).join(',')}`;

import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import type { ShopEvent } from '../../src/schemas/types.js';
import type { RunningService } from './cli.js';
import { committedTotal, produceEvents } from './kafka.js';
import { waitFor } from './wait.js';

/**
 * The scale-out run both consumer services are tested under, on `topic` in `group`: two instances from
 * the start, a third joining once the first third of `events` is committed, the oldest leaving (SIGTERM,
 * drained: exit 0) halfway through the second third, the last third produced after it left. Returns once
 * everything is committed and every instance has exited 0, with the leaving instance's log.
 */
export async function scaleOutRun(options: {
  kafka: Kafka;
  topic: string;
  group: string;
  events: readonly ShopEvent[];
  start: () => Promise<RunningService>;
  /** What the instances are, for messages ("ingest instances", "scorers"). */
  noun: string;
  timeoutMs: number;
}): Promise<{ leaverLog: string }> {
  const { kafka, topic, group, events, start, noun, timeoutMs } = options;
  const third = Math.floor(events.length / 3);
  const committed = async (atLeast: number, what: string) =>
    waitFor(async () => (await committedTotal(kafka, group, topic)) >= atLeast || undefined, {
      what: `${what} (${noun})`,
      timeoutMs,
    });
  const running: RunningService[] = [];
  let leaverLog = '';
  try {
    running.push(await start(), await start());
    await produceEvents(kafka, topic, events.slice(0, third));
    await committed(third, 'two instances to commit the first third');
    running.push(await start());
    await produceEvents(kafka, topic, events.slice(third, 2 * third));
    await committed(third + (third >> 1), 'three instances to make progress on the second third');
    const leaving = running.shift()!;
    assert.equal(
      await leaving.stop(),
      0,
      `the leaving instance did not drain cleanly: ${leaving.stderr().slice(-2000)}`,
    );
    leaverLog = leaving.stderr();
    await produceEvents(kafka, topic, events.slice(2 * third));
    await committed(events.length, 'the remaining two instances to commit everything');
  } finally {
    const codes = await Promise.all(running.map((r) => r.stop()));
    assert.deepEqual(
      codes,
      codes.map(() => 0),
      `every one of the ${noun} exits 0 on SIGTERM`,
    );
  }
  return { leaverLog };
}

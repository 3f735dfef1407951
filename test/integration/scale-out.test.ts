/**
 * Scale-out: ingest instances in one consumer group on a 6-partition topic — two from the start, a
 * third joining mid-stream, one leaving (SIGTERM) — sharing the store and checkpoint directories.
 * The partitions' open-session state moves with them through the checkpoints, and the stored
 * sessions equal a single undisturbed sessionizer per partition.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGenerator } from '../../src/generator/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { type RunningService, ingestEnv, startService } from '../helpers/cli.js';
import {
  committedTotal,
  createTopic,
  produceEvents,
  testKafka,
  uniqueName,
  waitFor,
} from '../helpers/kafka.js';
import { referenceSessions, sessionKey, storedSessions } from '../helpers/reference.js';

describe('ingest scale-out', () => {
  it('two instances, a third joining, one leaving: stored sessions equal a single-instance run', async () => {
    const kafka = testKafka();
    const topic = uniqueName('scale');
    await createTopic(kafka, topic, 6);
    await createTopic(kafka, `${topic}-dlq`, 1);
    const events: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 31, cookies: 1_500, maxEvents: 45_000 })) {
      if (item.kind === 'event') events.push(item.event);
    }
    const third = Math.floor(events.length / 3);

    const dir = mkdtempSync(join(tmpdir(), 'scale-'));
    const group = uniqueName('scale-ingest');
    const env = {
      ...ingestEnv({ topic, group, dir }),
      INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '6s',
    };
    const start = () => startService(['ingest', '--port', '0'], env);
    const committed = () => committedTotal(kafka, group, topic);
    const running: RunningService[] = [];
    try {
      running.push(await start(), await start());
      await produceEvents(kafka, topic, events.slice(0, third));
      await waitFor(async () => (await committed()) >= third || undefined, {
        what: 'two instances to ingest the first third',
        timeoutMs: 90_000,
      });
      running.push(await start());
      await produceEvents(kafka, topic, events.slice(third, 2 * third));
      await waitFor(async () => (await committed()) >= third + (third >> 1) || undefined, {
        what: 'three instances to make progress on the second third',
        timeoutMs: 90_000,
      });
      const leaving = running.shift()!;
      assert.equal(
        await leaving.stop(),
        0,
        `the leaving instance did not drain cleanly: ${leaving.stderr().slice(-2000)}`,
      );
      await produceEvents(kafka, topic, events.slice(2 * third));
      await waitFor(async () => (await committed()) === events.length || undefined, {
        what: 'the remaining two instances to commit everything',
        timeoutMs: 120_000,
      });
    } finally {
      const codes = await Promise.all(running.map((r) => r.stop()));
      assert.deepEqual(
        codes,
        codes.map(() => 0),
        'every instance exits 0 on SIGTERM',
      );
    }
    const expected = await referenceSessions(kafka, topic, events.length);
    const stored = await storedSessions(join(dir, 'store'));
    assert.ok(expected.length > 500, `only ${expected.length} sessions closed`);
    assert.deepEqual(stored.map(sessionKey).sort(), expected.map(sessionKey).sort());
  });
});

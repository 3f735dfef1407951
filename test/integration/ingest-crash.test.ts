import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createCheckpointStore } from '../../src/ingest/checkpoint.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import { createTimelineStore } from '../../src/store/index.js';
import { ingestRun, runCli, startIngest } from '../helpers/cli.js';
import { committedTotal, createTopic, endOffsets, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { seededRandom } from '../helpers/seeded.js';

const EVENTS = 100_000;
const PARTITIONS = 4;

async function storedSessions(dir: string): Promise<SessionTimeline[]> {
  const sessions: SessionTimeline[] = [];
  for await (const s of createTimelineStore(dir).read()) sessions.push(s);
  return sessions.sort((a, b) => a.session_id.localeCompare(b.session_id));
}

describe('ingest survives SIGKILL with nothing lost and nothing doubled', () => {
  it(`stores exactly the sessions of an uninterrupted run over ${EVENTS} events while it is SIGKILLed at least 5 times during live traffic`, async (t) => {
    const rand = seededRandom(t);
    const kafka = testKafka();
    const topic = uniqueName('ingest-crash');
    const dlq = uniqueName('ingest-crash-dlq');
    await createTopic(kafka, topic, PARTITIONS);
    await createTopic(kafka, dlq, 1);
    const runEnv = (name: string) => ingestRun(topic, dlq, name);

    // Live traffic: the generator produces 100,000 events at a bounded rate while ingest is killed.
    const generator = runCli([
      'generate',
      '--seed',
      '21',
      '--events',
      String(EVENTS),
      '--cookies',
      '3000',
      '--malformed-rate',
      '0.001',
      '--rate',
      '4000',
      '--topic',
      topic,
      '--log-level',
      'warn',
    ]);
    let generating = true;
    void generator.finally(() => {
      generating = false;
    });

    // Crash run: SIGKILL at random moments while traffic flows (each time after the run made some
    // progress, so every kill interrupts real work), restart each time, at least 5 times.
    const crash = runEnv('crash');
    let kills = 0;
    let terms = 0;
    let committed = 0;
    while (generating || kills < 5) {
      const { child, log, started } = startIngest(crash.env(crash.groupId));
      const exited = once(child, 'exit');
      // Progress must come from this process: the last one may have committed more after the last poll.
      await started;
      const before = await committedTotal(kafka, crash.groupId, topic);
      await waitFor(
        async () => {
          committed = await committedTotal(kafka, crash.groupId, topic);
          return committed > before;
        },
        { timeoutMs: 60_000, intervalMs: 50, what: `progress after restart ${kills}` },
      );
      await new Promise((r) => setTimeout(r, rand(0, 400)));
      // Every third stop is a SIGTERM under load: it must drain and exit 0 (and lose nothing either).
      if ((kills + terms) % 3 === 2) {
        child.kill('SIGTERM');
        const [code, signal] = await exited;
        assert.equal(
          code,
          0,
          `ingest did not drain cleanly on SIGTERM under load (${signal}): ${log().slice(-3000)}`,
        );
        terms++;
        continue;
      }
      child.kill('SIGKILL');
      const [, signal] = await exited;
      assert.equal(signal, 'SIGKILL');
      kills++;
    }
    t.diagnostic(`${kills} SIGKILLs and ${terms} SIGTERMs during the run`);
    const gen = await generator;
    assert.equal(gen.code, 0, gen.stderr);
    const end = await endOffsets(kafka, topic);
    assert.ok(end >= EVENTS, `topic holds ${end} messages`);
    const caughtUp = (groupId: string) => async () => (await committedTotal(kafka, groupId, topic)) >= end;
    const beforeFinal = await committedTotal(kafka, crash.groupId, topic);
    // (The last killed run may already have caught up: kills continue until at least 5 happened.)
    assert.ok(beforeFinal > 0, `the killed runs made progress (${beforeFinal}/${end})`);
    const { child: finalChild, started: finalStarted } = startIngest(crash.env(crash.groupId));
    await finalStarted;
    await waitFor(caughtUp(crash.groupId), {
      timeoutMs: 240_000,
      intervalMs: 250,
      what: 'crash run to catch up',
    });
    finalChild.kill('SIGTERM');
    const [finalCode] = await once(finalChild, 'exit');
    assert.equal(finalCode, 0, 'final ingest exits cleanly on SIGTERM');

    // Reference: one uninterrupted run over the same topic, stopped with SIGTERM once everything is committed.
    const ref = runEnv('reference');
    const { child: refChild, started: refStarted } = startIngest(ref.env(ref.groupId));
    await refStarted;
    await waitFor(caughtUp(ref.groupId), {
      timeoutMs: 240_000,
      intervalMs: 250,
      what: 'reference run to commit every offset',
    });
    refChild.kill('SIGTERM');
    const [refCode] = await once(refChild, 'exit');
    assert.equal(refCode, 0, 'reference ingest exits cleanly on SIGTERM');

    const expected = await storedSessions(join(ref.dir, 'store'));
    const actual = await storedSessions(join(crash.dir, 'store'));
    assert.ok(expected.length > 3_000, `reference stored ${expected.length} sessions`);
    const ids = actual.map((s) => s.session_id);
    assert.equal(new Set(ids).size, ids.length, 'no session stored twice');
    assert.equal(actual.length, expected.length, 'same number of sessions');
    assert.deepEqual(actual, expected, 'same sessions, same events');

    // Open-session state at the end is identical too.
    for (let p = 0; p < PARTITIONS; p++) {
      const a = await createCheckpointStore(join(ref.dir, 'checkpoints')).load(topic, p);
      const b = await createCheckpointStore(join(crash.dir, 'checkpoints')).load(topic, p);
      assert.ok(a && b, `checkpoints for partition ${p}`);
      assert.equal(b.nextOffset, a.nextOffset);
      assert.deepEqual(b.snapshot, a.snapshot, `open state of partition ${p}`);
    }
  });
});

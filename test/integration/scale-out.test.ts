/**
 * Scale-out: ingest instances in one consumer group on a 6-partition topic — two from the start, a
 * third joining mid-stream, one leaving (SIGTERM) — with the partitions' open-session state moving
 * with them through the checkpoints. Run twice: all instances sharing one local store and checkpoint
 * directory, and as on different machines: each instance in its own working directory with its own
 * local folders, the timelines and checkpoints on one S3 bucket prefix (the real server scripts/s3
 * starts). Either way the stored sessions equal a single undisturbed sessionizer per partition, each
 * stored exactly once, the sessions open when the leaving instance handed its partitions over included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGenerator } from '../../src/generator/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import type { ObjectStorage } from '../../src/storage/index.js';
import { ingestEnv, logLines, startService } from '../helpers/cli.js';
import { createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { type EventPosition, referenceSessions, sessionKey, storedSessions } from '../helpers/reference.js';
import { scaleOutRun } from '../helpers/scale-out.js';
import { s3StorageEnv, testS3Prefix, testS3Storage } from '../helpers/storage.js';

/** One more instance: its environment and working directory. */
interface Instance {
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Where the instances keep their timelines and checkpoints. */
interface Layout {
  name: string;
  /** `instance()` is where one more instance runs; `timelines` is where they all store. */
  open(options: { topic: string; group: string }): {
    instance: () => Instance;
    timelines: string | ObjectStorage;
  };
}

const layouts: Layout[] = [
  {
    name: 'one local directory shared by every instance',
    open(options) {
      const dir = mkdtempSync(join(tmpdir(), 'scale-'));
      return { instance: () => ({ env: ingestEnv({ ...options, dir }) }), timelines: join(dir, 'store') };
    },
  },
  {
    name: 'S3, each instance in its own working directory and local folders (different machines)',
    open(options) {
      const prefix = testS3Prefix();
      return {
        instance: () => {
          const machine = mkdtempSync(join(tmpdir(), 'scale-machine-'));
          return {
            env: { ...ingestEnv({ ...options, dir: machine }), ...s3StorageEnv(prefix) },
            cwd: machine,
          };
        },
        timelines: testS3Storage(`${prefix}timelines/`),
      };
    },
  },
];

/** The partitions a stopped instance handed over, from its "ingest stopped" log line. */
function handedOver(stderr: string): { partition: number; nextOffset: number; openSessions: number }[] {
  const stopped = logLines(stderr).findLast((l) => String(l.msg).startsWith('ingest stopped'));
  assert.ok(stopped, `the leaving instance logged its stop: ${stderr.slice(-2000)}`);
  return stopped.handedOver as ReturnType<typeof handedOver>;
}

for (const layout of layouts) {
  describe(`ingest scale-out, ${layout.name}`, () => {
    it('two instances, a third joining, one leaving: stored sessions equal a single-instance run', async (t) => {
      const kafka = testKafka();
      const topic = uniqueName('scale');
      await createTopic(kafka, topic, 6);
      await createTopic(kafka, `${topic}-dlq`, 1);
      const events: ShopEvent[] = [];
      for (const item of createGenerator({ seed: 31, cookies: 1_500, maxEvents: 45_000 })) {
        if (item.kind === 'event') events.push(item.event);
      }
      const group = uniqueName('scale-ingest');
      const { instance, timelines } = layout.open({ topic, group });
      const { leaverLog } = await scaleOutRun({
        kafka,
        topic,
        group,
        events,
        start: () => {
          const { env, cwd } = instance();
          return startService(
            ['ingest', '--port', '0'],
            { ...env, INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '6s' },
            cwd === undefined ? {} : { cwd },
          );
        },
        noun: 'ingest instances',
        timeoutMs: 120_000,
      });
      const positions = new Map<string, EventPosition>();
      const expected = await referenceSessions(kafka, topic, events.length, positions);
      const stored = await storedSessions(timelines);
      assert.ok(expected.length > 500, `only ${expected.length} sessions closed`);
      const ids = stored.map((s) => s.session_id);
      assert.equal(new Set(ids).size, ids.length, 'no session stored twice');
      assert.deepEqual(stored.map(sessionKey).sort(), expected.map(sessionKey).sort());

      // The sessions open across the handover: events on both sides of where the leaving instance stopped.
      const handover = new Map(handedOver(leaverLog).map((h) => [h.partition, h.nextOffset]));
      const straddling = expected.filter((s) => {
        const at = s.events.map((e) => positions.get(e.event_id)!);
        const stop = handover.get(at[0]!.partition);
        return stop !== undefined && at.some((p) => p.offset < stop) && at.some((p) => p.offset >= stop);
      });
      assert.ok(
        straddling.length > 0,
        `the leaving instance handed over open sessions (${JSON.stringify(handedOver(leaverLog))})`,
      );
      t.diagnostic(
        `${straddling.length} sessions open across the handover of partitions ${[...handover.keys()]}`,
      );
      const storedKeys = new Set(stored.map(sessionKey));
      for (const s of straddling)
        assert.ok(
          storedKeys.has(sessionKey(s)),
          `session ${s.session_id}, open at the handover, stored whole`,
        );
    });
  });
}

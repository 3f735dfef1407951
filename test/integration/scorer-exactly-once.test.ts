import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createModelRegistry } from '../../src/registry/index.js';
import { logLines, runCli, spawnCli } from '../helpers/cli.js';
import { committedTotal, createTopic, endOffsets, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { writeModelVersion } from '../helpers/models.js';
import { byEvent, readCommittedPredictions } from '../helpers/predictions.js';
import { seededRandom } from '../helpers/seeded.js';

const EVENTS = 50_000;
const PARTITIONS = 4;

/** Starts the real scorer; `started` resolves once it has loaded a model and joined the group. */
function startScorer(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  started: Promise<void>;
  log: () => string;
} {
  const child = spawnCli(['score', '--port', '0'], env);
  child.stdout!.resume();
  let buffered = '';
  let all = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered = (buffered + chunk).slice(-100_000);
      all += chunk;
      if (buffered.includes('"msg":"scorer started"')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`scorer exited (${code ?? signal}) before starting: ${buffered.slice(-2000)}`)),
    );
  });
  started.catch(() => undefined);
  return { child, started, log: () => all };
}

describe('scorer exactly once across SIGKILLs', () => {
  it(`read_committed consumers see exactly the predictions of an uninterrupted run over ${EVENTS} events while the scorer is SIGKILLed at least 5 times`, async (t) => {
    const rand = seededRandom(t);
    const kafka = testKafka();
    const topic = uniqueName('scorer-eos');
    await createTopic(kafka, topic, PARTITIONS);
    const models = mkdtempSync(join(tmpdir(), 'scorer-eos-models-'));
    await writeModelVersion(models, 'v1', { seed: 1, scale: 3 });
    await createModelRegistry(models).promote('v1', 'test');
    const runEnv = (name: string) => {
      const groupId = uniqueName(`scorer-${name}`);
      const predictions = uniqueName(`scorer-${name}-predictions`);
      return {
        groupId,
        predictions,
        env: {
          INTENTSTREAM_TOPICS__EVENTS: topic,
          INTENTSTREAM_TOPICS__PREDICTIONS: predictions,
          INTENTSTREAM_TOPICS__DEAD_LETTER: `${predictions}-dlq`,
          INTENTSTREAM_SCORER__GROUP_ID: groupId,
          INTENTSTREAM_SCORER__MODEL_DIR: models,
          // delta: which events emit depends on the session state, so a wrong rebuild changes the set.
          INTENTSTREAM_SCORER__EMIT: 'delta',
          INTENTSTREAM_SCORER__EMIT_DELTA: '0.02',
          // Longer than any run of activity of the generated (bot-free) traffic: every rebuild is exact.
          INTENTSTREAM_SCORER__REBUILD_WINDOW: '3h',
          INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '2s',
        },
      };
    };

    // Live traffic (bots off: their hours-long runs of activity would outlast the rebuild window).
    const generator = runCli([
      'generate',
      '--seed',
      '21',
      '--events',
      String(EVENTS),
      '--cookies',
      '3000',
      '--bots',
      '0',
      '--malformed-rate',
      '0.001',
      '--rate',
      '2000',
      '--topic',
      topic,
      '--log-level',
      'warn',
    ]);
    let generating = true;
    void generator.finally(() => {
      generating = false;
    });

    const crash = runEnv('crash');
    await createTopic(kafka, crash.predictions, PARTITIONS);
    let kills = 0;
    let committed = 0;
    const logs: string[] = [];
    while (generating || kills < 5) {
      const { child, log } = startScorer(crash.env);
      const exited = once(child, 'exit');
      const before = committed;
      await waitFor(
        async () => {
          committed = await committedTotal(kafka, crash.groupId, topic);
          return committed > before;
        },
        { timeoutMs: 60_000, intervalMs: 50, what: `progress after restart ${kills}` },
      );
      await new Promise((r) => setTimeout(r, rand(0, 400)));
      child.kill('SIGKILL');
      const [, signal] = await exited;
      assert.equal(signal, 'SIGKILL');
      logs.push(log());
      kills++;
    }
    t.diagnostic(`${kills} SIGKILLs during the run`);
    const gen = await generator;
    assert.equal(gen.code, 0, gen.stderr);
    const end = await endOffsets(kafka, topic);
    assert.ok(end >= EVENTS, `topic holds ${end} messages`);
    const caughtUp = (groupId: string) => async () => (await committedTotal(kafka, groupId, topic)) >= end;

    const final = startScorer(crash.env);
    await final.started;
    await waitFor(caughtUp(crash.groupId), {
      timeoutMs: 240_000,
      intervalMs: 250,
      what: 'crash run to catch up',
    });
    final.child.kill('SIGTERM');
    const [finalCode] = await once(final.child, 'exit');
    assert.equal(finalCode, 0, 'final scorer exits cleanly on SIGTERM');
    logs.push(final.log());

    const ref = runEnv('reference');
    await createTopic(kafka, ref.predictions, PARTITIONS);
    const reference = startScorer(ref.env);
    await reference.started;
    await waitFor(caughtUp(ref.groupId), {
      timeoutMs: 240_000,
      intervalMs: 250,
      what: 'reference run to catch up',
    });
    reference.child.kill('SIGTERM');
    const [refCode] = await once(reference.child, 'exit');
    assert.equal(refCode, 0, 'reference scorer exits cleanly on SIGTERM');

    const expected = byEvent(await readCommittedPredictions(kafka, ref.predictions));
    const actual = byEvent(await readCommittedPredictions(kafka, crash.predictions));
    assert.deepEqual(expected.doubled, [], 'reference: one prediction per event');
    assert.deepEqual(actual.doubled, [], 'crash run: no event predicted twice');
    assert.ok(expected.map.size > 10_000, `reference emitted ${expected.map.size} predictions`);
    assert.ok(expected.map.size < EVENTS * 0.95, 'the delta policy selected a subset of the events');
    assert.equal(actual.map.size, expected.map.size, 'same number of predictions');
    assert.deepEqual(
      actual.map,
      expected.map,
      'same events selected, same sessions, counts and probabilities',
    );

    // The crash run rebuilt state (replaying without emitting) and every rebuild was complete.
    const rebuilds = logs
      .flatMap(logLines)
      .filter((l) => l['msg'] === 'partition state rebuilt: scoring live');
    t.diagnostic(
      `${rebuilds.length} partition rebuilds, ${rebuilds.reduce((s, l) => s + Number(l['replayed']), 0)} messages replayed`,
    );
    assert.ok(rebuilds.length > 0, 'the restarts rebuilt partition state');
    assert.deepEqual(
      rebuilds.filter((l) => Number(l['truncatedAtCommit']) > 0),
      [],
      'no live run of activity was older than the rebuild window',
    );
  });
});

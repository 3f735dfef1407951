import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGenerator } from '../../src/generator/index.js';
import { SCORER_METRICS } from '../../src/metrics/scorer-metrics.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { committedTotal, createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { sample } from '../helpers/metrics.js';
import { writeModelVersion } from '../helpers/models.js';
import { readCommittedPredictions } from '../helpers/predictions.js';

const EVENTS = 8_000;
const PARTITIONS = 2;
const SEED = 5;

describe('scorer hot reload', () => {
  it('switches model versions mid-stream without losing or doubling a prediction, and refuses a corrupt model', async (t) => {
    const kafka = testKafka();
    const topic = uniqueName('scorer-reload');
    const predictions = uniqueName('scorer-reload-predictions');
    const groupId = uniqueName('scorer-reload');
    await createTopic(kafka, topic, PARTITIONS);
    await createTopic(kafka, predictions, PARTITIONS);
    const models = mkdtempSync(join(tmpdir(), 'scorer-reload-models-'));
    await writeModelVersion(models, 'v1', { seed: 1, scale: 3 });
    await writeModelVersion(models, 'v2', { seed: 2, scale: 3 });
    const v3 = await writeModelVersion(models, 'v3', { seed: 3, scale: 3 });
    truncateSync(join(v3, 'weights.bin'), 64); // corrupt: the registry accepts it, the scorer must not
    const registry = createModelRegistry(models);
    const setCurrent = (version: string) => registry.promote(version, 'test'); // atomic CURRENT, as in production
    await setCurrent('v1');

    const child = spawnCli(['score', '--port', '0'], {
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__PREDICTIONS: predictions,
      INTENTSTREAM_TOPICS__DEAD_LETTER: `${predictions}-dlq`,
      INTENTSTREAM_SCORER__GROUP_ID: groupId,
      INTENTSTREAM_SCORER__MODEL_DIR: models,
      INTENTSTREAM_SCORER__RELOAD_INTERVAL: '200ms',
      INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '2s',
    });
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = once(child, 'exit');
    const url = await waitFor(() => /"msg":"http server listening".*?"url":"([^"]+)"/.exec(stderr)?.[1], {
      timeoutMs: 30_000,
      what: 'the scorer HTTP server',
    });
    const metrics = async () => (await fetch(`${url}/metrics`)).text();
    try {
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, {
        timeoutMs: 30_000,
        what: 'ready',
      });
      const generator = runCli([
        'generate',
        '--seed',
        String(SEED),
        '--events',
        String(EVENTS),
        '--cookies',
        '400',
        '--rate',
        '1500',
        '--topic',
        topic,
        '--log-level',
        'warn',
      ]);
      await waitFor(async () => (await committedTotal(kafka, groupId, topic)) >= EVENTS / 4, {
        timeoutMs: 60_000,
        what: 'v1 to score a quarter of the stream',
      });
      await setCurrent('v2');
      await waitFor(async () => sample(await metrics(), SCORER_METRICS.modelInfo, 'version="v2"') === 1, {
        timeoutMs: 30_000,
        what: 'v2 to serve',
      });
      const afterV2 = await committedTotal(kafka, groupId, topic);
      assert.ok(afterV2 < EVENTS, `the swap happened mid-stream (${afterV2} of ${EVENTS} committed)`);
      await setCurrent('v3');
      await waitFor(async () => sample(await metrics(), SCORER_METRICS.reloadsRefused) === 1, {
        timeoutMs: 30_000,
        what: 'the corrupt v3 to be refused',
      });
      const gen = await generator;
      assert.equal(gen.code, 0, gen.stderr);
      await waitFor(async () => (await committedTotal(kafka, groupId, topic)) >= EVENTS, {
        timeoutMs: 60_000,
        what: 'the scorer to catch up',
      });
      const text = await metrics();
      assert.equal(sample(text, SCORER_METRICS.modelInfo, 'version="v2"'), 1, 'v2 keeps serving');
      assert.equal(
        sample(text, SCORER_METRICS.modelInfo, 'version="v1"'),
        undefined,
        'one version label at a time',
      );
      assert.equal(sample(text, SCORER_METRICS.reloads), 1);
      assert.equal(sample(text, SCORER_METRICS.reloadsRefused), 1, 'refused once, not retried every poll');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await exited;
    assert.equal(code, 0, stderr.slice(-3000));

    // Every distinct generated event has exactly one prediction; per partition (offset order) the
    // version goes from v1 to v2 once and never back; v3 never serves.
    const expectedIds = new Set<string>();
    for (const item of createGenerator({ seed: SEED, maxEvents: EVENTS, cookies: 400 })) {
      if (item.kind === 'event') expectedIds.add(item.event.event_id);
    }
    const read = await readCommittedPredictions(kafka, predictions);
    const ids = read.map((r) => r.prediction.event_id);
    assert.equal(new Set(ids).size, ids.length, 'no event predicted twice');
    assert.deepEqual(new Set(ids), expectedIds, 'every event predicted');
    const versions = new Map<number, string[]>();
    for (const r of [...read].sort((a, b) => Number(a.offset) - Number(b.offset))) {
      const seq = versions.get(r.partition) ?? [];
      if (seq.at(-1) !== r.prediction.model_version) seq.push(r.prediction.model_version);
      versions.set(r.partition, seq);
    }
    for (const [partition, seq] of versions)
      assert.deepEqual(seq, ['v1', 'v2'], `partition ${partition} switched once`);
    const counts = { v1: 0, v2: 0 };
    for (const r of read) counts[r.prediction.model_version as 'v1' | 'v2']++;
    t.diagnostic(`predictions by version: ${JSON.stringify(counts)}`);
    assert.ok(
      stderr.includes('"msg":"model refused: the previous model keeps serving"') &&
        stderr.includes('"version":"v3"'),
      'the refusal is logged',
    );
  });
});

/**
 * Scorer scale-out: two scorers in one group on a 6-partition topic, a third joining mid-stream,
 * one leaving (SIGTERM). Each partition's live sessions are rebuilt by their new owner from the
 * offset-commit metadata, so a read_committed reader sees exactly the predictions of a single
 * undisturbed scorer (emit policy 'delta': which events emit depends on the session state).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGenerator } from '../../src/generator/index.js';
import { createModelRegistry } from '../../src/registry/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { startService } from '../helpers/cli.js';
import { committedTotal, createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { writeModelVersion } from '../helpers/models.js';
import { byEvent, readCommittedPredictions } from '../helpers/predictions.js';
import { scaleOutRun } from '../helpers/scale-out.js';

describe('scorer scale-out', () => {
  it('two scorers, a third joining, one leaving: predictions equal a single undisturbed scorer', async () => {
    const kafka = testKafka();
    const topic = uniqueName('scorer-scale');
    await createTopic(kafka, topic, 6);
    const models = mkdtempSync(join(tmpdir(), 'scorer-scale-models-'));
    await writeModelVersion(models, 'v1', { seed: 5, scale: 3 });
    await createModelRegistry(models).promote('v1', 'test');
    const events: ShopEvent[] = [];
    for (const item of createGenerator({ seed: 43, cookies: 800, maxEvents: 24_000, botCookies: 0 })) {
      if (item.kind === 'event') events.push(item.event);
    }
    const env = (name: string) => {
      const group = uniqueName(`scorer-scale-${name}`);
      const predictions = `${group}-predictions`;
      return {
        group,
        predictions,
        env: {
          INTENTSTREAM_TOPICS__EVENTS: topic,
          INTENTSTREAM_TOPICS__PREDICTIONS: predictions,
          INTENTSTREAM_TOPICS__DEAD_LETTER: `${predictions}-dlq`,
          INTENTSTREAM_SCORER__GROUP_ID: group,
          INTENTSTREAM_SCORER__MODEL_DIR: models,
          INTENTSTREAM_SCORER__EMIT: 'delta',
          INTENTSTREAM_SCORER__EMIT_DELTA: '0.02',
          INTENTSTREAM_SCORER__REBUILD_WINDOW: '3h',
          INTENTSTREAM_KAFKA__SESSION_TIMEOUT: '6s',
        },
      };
    };
    const scaled = env('scaled');
    await createTopic(kafka, scaled.predictions, 6);
    await scaleOutRun({
      kafka,
      topic,
      group: scaled.group,
      events,
      start: () => startService(['score', '--port', '0'], scaled.env),
      noun: 'scorers',
      timeoutMs: 180_000,
    });

    const single = env('single');
    await createTopic(kafka, single.predictions, 6);
    const reference = await startService(['score', '--port', '0'], single.env);
    try {
      await waitFor(
        async () => (await committedTotal(kafka, single.group, topic)) === events.length || undefined,
        {
          what: 'the single undisturbed scorer',
          timeoutMs: 180_000,
        },
      );
    } finally {
      await reference.stop();
    }
    const got = byEvent(await readCommittedPredictions(kafka, scaled.predictions));
    const want = byEvent(await readCommittedPredictions(kafka, single.predictions));
    assert.deepEqual(got.doubled, [], 'predictions doubled');
    assert.ok(want.map.size > 1_000, `only ${want.map.size} predictions: the check would be weak`);
    assert.deepEqual([...got.map].sort(), [...want.map].sort());
  });
});

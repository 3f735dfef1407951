/**
 * A model saved before the event-type vocabulary was learned (encoder.json v1, committed under
 * test/fixtures/encoder-v1-model) still loads and scores exactly as it did, in the trainer's
 * full-sequence prediction and in the scorer's step model.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_ROLES, ENCODER_VERSION } from '../../src/features/index.js';
import { predictSessions } from '../../src/model/batches.js';
import { loadModel } from '../../src/model/io.js';
import { KNOWN_EVENT_TYPES, type ShopEvent } from '../../src/schemas/types.js';
import { lstmModelFactory } from '../../src/scoring/lstm-model.js';
import { stepSessions } from '../helpers/models.js';

const dir = new URL('../fixtures/encoder-v1-model', import.meta.url).pathname;

interface Recorded {
  sessions: ShopEvent[][];
  fullSequence: number[];
  afterEachEvent: number[][];
}

describe('encoder v1 model fixture', () => {
  let recorded: Recorded;
  before(async () => {
    await tf.setBackend('cpu');
    recorded = JSON.parse(await readFile(`${dir}/sessions.json`, 'utf8')) as Recorded;
  });

  it('loads and predicts full sequences exactly as before', async () => {
    const { model, encoder } = await loadModel(dir);
    try {
      const p = await predictSessions(
        model,
        encoder,
        recorded.sessions.map((events) => ({ events })),
      );
      assert.deepEqual([...p], recorded.fullSequence);
      const spec = encoder.toJSON();
      assert.equal(spec.version, ENCODER_VERSION, 'upgraded on load');
      assert.deepEqual(spec.roles, DEFAULT_ROLES, 'with the roles v1 read: the generator names');
      assert.deepEqual(spec.eventTypes, KNOWN_EVENT_TYPES, 'v1 event types kept in their order');
    } finally {
      model.dispose();
    }
  });

  it('serves in the scorer with exactly the probabilities it gave after every event', async () => {
    const step = await lstmModelFactory(dir);
    try {
      assert.deepEqual(stepSessions(step, recorded.sessions).p, recorded.afterEachEvent);
    } finally {
      step.dispose();
    }
  });
});

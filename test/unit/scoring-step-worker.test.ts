/**
 * The LSTM step model's step worker (src/scoring/lstm-worker.ts): the rows of a large step split over
 * two threads give exactly what one thread gives (probabilities and h/c states, bit for bit, on the
 * cpu and wasm backends); a worker that cannot start or fails a step is dropped, reported once, and
 * its rows are still computed; dispose stops the thread.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { kernelSpec } from '../../src/scoring/lstm-kernel.js';
import { type LstmStepModel, lstmStepModelFrom } from '../../src/scoring/lstm-model.js';
import { extractLstmWeights } from '../../src/scoring/lstm-weights.js';
import { MIN_WORKER_ROWS, StepWorker } from '../../src/scoring/lstm-worker.js';
import { waitFor } from '../helpers/kafka.js';
import { initializedModel, stepSessions } from '../helpers/models.js';
import { generatedSessions } from '../helpers/sessions.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const base = tinyTrainerConfig();
/** Two stacked layers and sessionState features: every code path of the row math. */
const fixture = {
  seed: 5,
  scale: 3,
  features: { ...base.features, maxSteps: 12, sessionState: true },
  model: { ...base.model, lstmUnits: [10, 6] },
};

before(() => {
  tf.env().set('PROD', true);
});

/** Enough sessions that the early rounds hand rows to the worker (MIN_WORKER_ROWS and more). */
const sessions: ShopEvent[][] = generatedSessions({
  seed: 31,
  cookies: 3 * MIN_WORKER_ROWS,
  durationMs: 86_400_000,
  botCookies: 0,
}).sessions.map((s) => s.events);

/** p after every event and the final h/c of every session, stepped like the scorer core. */
function stepAll(model: LstmStepModel): { p: number[][]; hc: number[][] } {
  const { p, states } = stepSessions(model, sessions);
  const size = 2 * fixture.model.lstmUnits.reduce((a, b) => a + b, 0); // h and c of every layer
  return { p, hc: states.map((s) => [...s.slab.subarray(s.at, s.at + size)]) };
}

describe('the LSTM step worker', () => {
  it('has rounds large enough to use it', () => {
    assert.ok(sessions.length >= 2 * MIN_WORKER_ROWS, `${sessions.length} sessions`);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`splitting a step over two threads changes no bit (${backend} backend)`, async () => {
      await selectBackend({ requested: backend });
      try {
        const { model, encoder } = initializedModel(fixture);
        const alone = lstmStepModelFrom('v1', model, encoder);
        const errors: Error[] = [];
        const split = lstmStepModelFrom('v1', model, encoder, 'purchase', {
          worker: { backend, onError: (e) => errors.push(e) },
        });
        model.dispose();
        await waitFor(() => split.workerReady, { what: 'the step worker to start', timeoutMs: 60_000 });
        const expected = stepAll(alone);
        const actual = stepAll(split);
        assert.ok(split.workerRows > 0, 'the worker computed some rows');
        assert.equal(alone.workerRows, 0, 'no worker, no worker rows');
        assert.deepEqual(actual.p, expected.p, 'the same probabilities after every event');
        assert.deepEqual(actual.hc, expected.hc, 'the same final h and c of every session');
        assert.deepEqual(errors, [], 'no worker error');
        alone.dispose();
        split.dispose();
        assert.equal(split.workerReady, false, 'a disposed model has no worker');
      } finally {
        await tf.setBackend('cpu');
      }
    });
  }

  it('a worker that cannot start is reported once; every row is computed on the calling thread', async () => {
    await tf.setBackend('cpu');
    const { model, encoder } = initializedModel(fixture);
    const errors: Error[] = [];
    // A backend the worker cannot select: its start fails.
    const split = lstmStepModelFrom('v1', model, encoder, 'purchase', {
      worker: { backend: 'no-such-backend' as 'cpu', onError: (e) => errors.push(e) },
    });
    const alone = lstmStepModelFrom('v1', model, encoder);
    model.dispose();
    await waitFor(() => errors.length > 0, { what: 'the start failure to be reported', timeoutMs: 60_000 });
    assert.equal(split.workerReady, false, 'never ready');
    assert.deepEqual(stepAll(split).p, stepAll(alone).p, 'the same probabilities without the worker');
    assert.equal(split.workerRows, 0, 'no row went to the failed worker');
    assert.equal(errors.length, 1, `reported once: ${errors.map((e) => e.message).join('; ')}`);
    assert.match(errors[0]!.message, /no-such-backend/, 'the error names the cause');
    split.dispose();
    alone.dispose();
  });

  it('a step the worker fails is reported, the worker dropped and its thread stopped', async () => {
    await tf.setBackend('cpu');
    const { model, encoder } = initializedModel(fixture);
    const spec = kernelSpec(extractLstmWeights('v1', model, encoder));
    model.dispose();
    const errors: Error[] = [];
    const worker = new StepWorker(spec, { backend: 'cpu', capacity: 8, onError: (e) => errors.push(e) });
    await waitFor(() => worker.ready, { what: 'the step worker to start', timeoutMs: 60_000 });
    assert.equal(worker.rowsFor(1_000), 8, 'hands over at most its capacity');
    worker.begin(worker.capacity + 1); // more rows than its buffers hold: the worker's step throws
    assert.equal(worker.finish(), false, 'the failed step is reported to the caller');
    assert.equal(worker.ready, false, 'dropped');
    assert.equal(worker.rowsFor(1_000), 0, 'no more rows for a dropped worker');
    await worker.exited;
    assert.equal(errors.length, 1, `reported once: ${errors.map((e) => e.message).join('; ')}`);
    worker.dispose();
  });

  it('dispose stops the thread without reporting an error', async () => {
    await tf.setBackend('cpu');
    const { model, encoder } = initializedModel(fixture);
    const spec = kernelSpec(extractLstmWeights('v1', model, encoder));
    model.dispose();
    const errors: Error[] = [];
    const worker = new StepWorker(spec, { backend: 'cpu', onError: (e) => errors.push(e) });
    await waitFor(() => worker.ready, { what: 'the step worker to start', timeoutMs: 60_000 });
    worker.dispose();
    await worker.exited;
    assert.equal(worker.ready, false, 'not ready once disposed');
    assert.deepEqual(errors, [], 'no error for a requested stop');
  });

  it('a step worker nobody disposed does not keep its process alive', () => {
    // A child process starts a worker, waits until it is ready and ends its script: it must exit.
    const script = `
      import { StepWorker } from ${JSON.stringify(new URL('../../src/scoring/lstm-worker.ts', import.meta.url).href)};
      const layer = { units: 2, inputSize: 1, stacked: new Float32Array(4 * 8), act: 0, rec: 2 };
      const spec = { layers: [layer], embeddings: [], numericSize: 1, head: { kernel: new Float64Array(2), bias: 0, act: 1 } };
      const worker = new StepWorker(spec, { backend: 'cpu' });
      while (!worker.ready) await new Promise((r) => setTimeout(r, 10));
      console.log('ready');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(child.stdout.trim(), 'ready', `the worker started: ${child.stderr}`);
    assert.equal(child.signal, null, 'the process exited by itself (not killed at the timeout)');
    assert.equal(child.status, 0, child.stderr);
  });
});

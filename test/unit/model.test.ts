/**
 * The LSTM, its training loop and its files, on the cpu backend with a tiny generated dataset:
 * determinism, masking, tensor hygiene, checkpoint/resume, save/load.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, buildDataset } from '../../src/dataset/index.js';
import { CATEGORICAL_COUNT, FeatureEncoder } from '../../src/features/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { encodeSplit, predictSessions, predictSplit } from '../../src/model/batches.js';
import { CheckpointError } from '../../src/model/checkpoint.js';
import { OUTPUT_LAYER, buildModel, correctPriorShift } from '../../src/model/lstm.js';
import { type TrainOptions, train, trainingStep } from '../../src/model/train.js';
import { FusedAdamOptimizer } from '../../src/model/webgpu-adam.js';
import { loadModel, saveEncoder, saveModelFiles } from '../../src/registry/model-files.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import type { Progress } from '../../src/util/progress.js';
import { generatedSessions } from '../helpers/sessions.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const config = tinyTrainerConfig();
let dataset: Dataset;
let encoder: FeatureEncoder;

before(async () => {
  await tf.setBackend('cpu');
  tf.env().set('PROD', true); // silences the "install tfjs-node" hint; no effect on results
  const { sessions } = generatedSessions({ seed: 3, cookies: 60, durationMs: 86_400_000, botCookies: 0 });
  dataset = buildDataset(sessions, {
    labels: config.labels,
    prefixesPerSession: 1,
    split: config.dataset.split,
    cookieSplit: 'mixed',
    seed: config.seed,
  });
  encoder = FeatureEncoder.fit(
    dataset.train.sessions.map((s) => s.events),
    { ...config.features, hashSeed: config.seed },
  );
});

const fullExamples = (sessions: Dataset['test']['sessions']) => ({
  sessions,
  examples: sessions.map((s, session) => ({ session, length: s.events.length, full: true })),
});

function trainOptions(model: tf.LayersModel, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model,
    encoder,
    train: encodeSplit(encoder, dataset.train),
    validation: encodeSplit(encoder, fullExamples(dataset.validation.sessions)),
    epochs: 1,
    batchSize: config.training.batchSize,
    learningRate: 0.01,
    patience: 10,
    classWeight: 'balanced',
    embeddingL2: 0.001,
    seed: config.seed,
    logger: createMemoryLogger('warn'),
    ...extra,
  };
}

const newModel = (seed = config.seed) => buildModel(encoder, { ...config.model, seed });
const weightsOf = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));
const maxAbsDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.map((w, i) => Math.max(...w.map((v, j) => Math.abs(v - b[i]![j]!)))));

/** Model inputs for one sequence padded to `steps` time steps. */
function inputsFor(events: readonly ShopEvent[], steps: number): tf.Tensor[] {
  const padded = encoder.encodeSequence(events);
  const cats = Array.from({ length: CATEGORICAL_COUNT }, (_, c) =>
    tf.tensor2d(
      Int32Array.from({ length: steps }, (_, t) =>
        t < padded.length ? padded.categorical[t * CATEGORICAL_COUNT + c]! : 0,
      ),
      [1, steps],
      'int32',
    ),
  );
  const n = encoder.numericSize;
  const numeric = new Float32Array(steps * n);
  numeric.set(padded.numeric.subarray(0, Math.min(steps, padded.length) * n));
  return [...cats, tf.tensor3d(numeric, [1, steps, n])];
}

describe('LSTM model (cpu backend)', () => {
  it('has a dataset with both classes in every split', () => {
    for (const name of ['train', 'validation', 'test'] as const) {
      const s = dataset.summary.splits[name];
      assert.ok(s.positives > 0 && s.positives < s.sessions, `${name}: ${JSON.stringify(s)}`);
    }
  });

  it('same data, config and seed give identical weights after an epoch; another seed does not', async () => {
    const a = newModel();
    const b = newModel();
    const c = newModel(config.seed + 1);
    assert.deepEqual(weightsOf(a), weightsOf(b), 'identical initial weights');
    await train(trainOptions(a));
    await train(trainOptions(b));
    await train(trainOptions(c, { seed: config.seed + 1 }));
    const [wa, wb, wc] = [weightsOf(a), weightsOf(b), weightsOf(c)];
    assert.ok(
      wa.every((w, i) => w.every((v, j) => Object.is(v, wb[i]![j]))),
      'bit-identical weights',
    );
    assert.ok(maxAbsDiff(wa, wc) > 1e-3, 'a different seed trains a different model');
    for (const m of [a, b, c]) m.dispose();
  });

  it('the embedding L2 penalty in the fused Adam step trains the same weights as in the loss', () => {
    const split = encodeSplit(encoder, dataset.train);
    const batch = Array.from({ length: Math.min(16, split.examples.length) }, (_, i) => i);
    const weightsAfter = (optimizer: tf.Optimizer, embeddingL2: number) => {
      const model = newModel();
      const step = trainingStep({
        model,
        encoder,
        optimizer,
        positiveWeight: 2,
        prefixWeight: 1,
        embeddingL2,
      });
      for (let i = 0; i < 3; i++) step(split, batch).dispose();
      const weights = weightsOf(model);
      model.dispose();
      optimizer.dispose();
      return weights;
    };
    const inLoss = weightsAfter(tf.train.adam(0.01), 0.001);
    const inStep = weightsAfter(new FusedAdamOptimizer(0.01), 0.001);
    assert.ok(maxAbsDiff(inStep, inLoss) < 1e-6, `max difference ${maxAbsDiff(inStep, inLoss)}`);
    // The penalty matters at this size: rows the batch does not touch move by its gradient alone.
    assert.ok(maxAbsDiff(weightsAfter(new FusedAdamOptimizer(0.01), 0), inLoss) > 1e-3);
  });

  it('padded and unpadded versions of a sequence give the same prediction (masking)', async () => {
    const model = newModel();
    await train(trainOptions(model));
    const sequences = dataset.test.sessions.slice(0, 12).map((s) => s.events);
    for (const events of sequences) {
      const length = Math.min(events.length, encoder.maxSteps);
      const [exact, padded] = tf.tidy(() => [
        (model.predict(inputsFor(events, length)) as tf.Tensor).dataSync()[0]!,
        (model.predict(inputsFor(events, encoder.maxSteps + 7)) as tf.Tensor).dataSync()[0]!,
      ]);
      assert.ok(Math.abs(exact - padded) < 1e-5, `length ${length}: ${exact} vs ${padded}`);
    }
    // Batched by length with other sequences = one at a time.
    const batched = await predictSessions(
      model,
      encoder,
      sequences.map((events) => ({ events })),
    );
    const single = await Promise.all(
      sequences.map(async (events) => (await predictSessions(model, encoder, [{ events }]))[0]!),
    );
    batched.forEach((p, i) =>
      assert.ok(Math.abs(p - single[i]!) < 1e-5, `batched ${p} vs single ${single[i]}`),
    );
    model.dispose();
  });

  it('does not leak tensors across epochs and predictions', async () => {
    const model = newModel();
    const baseline = tf.memory().numTensors;
    const counts: { epoch: number; tensors: number }[] = [];
    const progress = (): Progress => ({
      tick: (_n, extra) => counts.push({ epoch: Number(extra?.['epoch']), tensors: tf.memory().numTensors }),
      done: () => undefined,
    });
    await train(trainOptions(model, { epochs: 3, progress }));
    // After the first step Adam owns its moment variables; from then on each epoch's batches end at
    // the same counts as the previous epoch's (a batch's loss lives until it is read back, a few
    // batches later, so counts within an epoch step down at its end), and every epoch ends level.
    const perEpoch = [1, 2, 3].map((e) => counts.filter((c) => c.epoch === e).map((c) => c.tensors));
    assert.ok(perEpoch[1]!.length > 3, 'several batches');
    assert.deepEqual(perEpoch[2], perEpoch[1], 'tensor counts drift from epoch to epoch');
    assert.deepEqual(
      perEpoch[1]!.slice(1),
      perEpoch[0]!.slice(1),
      'tensor counts drift after the first step',
    );
    const ends = perEpoch.map((c) => c.at(-1));
    assert.ok(
      ends.every((t) => t === ends[0]),
      `epochs end at different tensor counts: ${ends}`,
    );
    assert.equal(tf.memory().numTensors, baseline, 'train() releases the optimizer and its copies');
    const split = encodeSplit(encoder, fullExamples(dataset.test.sessions));
    await predictSplit(model, encoder, split);
    const afterOne = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await predictSplit(model, encoder, split);
    assert.equal(tf.memory().numTensors, afterOne, 'predictions leak nothing');
    assert.equal(afterOne, baseline);
    model.dispose();
  });

  it('resumes from the last checkpoint: same total epochs, same result as an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    const uninterrupted = newModel();
    const full = await train(trainOptions(uninterrupted, { epochs: 3 }));

    const killed = newModel();
    const first = await train(
      trainOptions(killed, { epochs: 3, checkpointDir: dir, fingerprint: 'run-a', maxEpochsThisRun: 1 }),
    );
    assert.equal(first.epochsCompleted, 1);
    assert.equal(first.finished, false);
    killed.dispose();

    const fresh = newModel(config.seed + 99); // a new process: different weights until the checkpoint loads
    const resumed = await train(
      trainOptions(fresh, { epochs: 3, checkpointDir: dir, fingerprint: 'run-a', resume: true }),
    );
    assert.equal(resumed.resumedFromEpoch, 1);
    assert.equal(resumed.epochsCompleted, 3);
    assert.equal(resumed.history.length, 3);
    assert.equal(resumed.finished, true);
    const lastLoss = (r: typeof full) => r.history.at(-1)!.loss;
    assert.ok(lastLoss(resumed) <= lastLoss(full) + 1e-4, `loss ${lastLoss(resumed)} vs ${lastLoss(full)}`);
    resumed.history.forEach((h, i) =>
      assert.ok(
        Math.abs(h.loss - full.history[i]!.loss) < 1e-4,
        `epoch ${i + 1}: ${h.loss} vs ${full.history[i]!.loss}`,
      ),
    );
    assert.equal(resumed.bestEpoch, full.bestEpoch);
    assert.ok(maxAbsDiff(weightsOf(fresh), weightsOf(uninterrupted)) < 1e-4, 'same weights');

    // The checkpoint of a finished run resumes to the same best model without training.
    const again = newModel(5);
    const noop = await train(
      trainOptions(again, { epochs: 3, checkpointDir: dir, fingerprint: 'run-a', resume: true }),
    );
    assert.equal(noop.epochsCompleted, 3);
    assert.ok(maxAbsDiff(weightsOf(again), weightsOf(fresh)) === 0, 'best weights restored');

    await assert.rejects(
      train(trainOptions(newModel(), { epochs: 3, checkpointDir: dir, fingerprint: 'run-b', resume: true })),
      CheckpointError,
    );
    for (const m of [uninterrupted, fresh, again]) m.dispose();
  });

  it('a run that used up its epochs continues when resumed with more; an early-stopped one does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-more-'));
    const model = newModel();
    const two = await train(trainOptions(model, { epochs: 2, checkpointDir: dir, fingerprint: 'f' }));
    assert.equal(two.finished, true);
    const more = await train(
      trainOptions(model, { epochs: 3, checkpointDir: dir, fingerprint: 'f', resume: true }),
    );
    assert.equal(more.resumedFromEpoch, 2);
    assert.equal(more.epochsCompleted, 3);
    assert.equal(more.history.length, 3);

    const stopDir = mkdtempSync(join(tmpdir(), 'ckpt-stop-'));
    // patience 1 with a learning rate of 0: no epoch improves on the first, so it stops after two.
    const stopped = await train(
      trainOptions(model, {
        epochs: 5,
        patience: 1,
        learningRate: 0,
        checkpointDir: stopDir,
        fingerprint: 'g',
      }),
    );
    assert.equal(stopped.stoppedEarly, true);
    assert.equal(stopped.epochsCompleted, 2);
    const again = await train(
      trainOptions(model, { epochs: 9, patience: 1, checkpointDir: stopDir, fingerprint: 'g', resume: true }),
    );
    assert.equal(again.epochsCompleted, 2, 'an early-stopped run stays stopped');
    model.dispose();
  });

  it('saves model.json + weights.bin + encoder.json and loads them back with identical predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    const model = newModel();
    await train(trainOptions(model));
    await saveModelFiles(model, dir);
    await saveEncoder(encoder, dir);
    const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(modelJson.format, 'layers-model');
    assert.deepEqual(modelJson.weightsManifest[0].paths, ['./weights.bin']);
    assert.ok(existsSync(join(dir, 'encoder.json')), 'encoder.json written');
    const loaded = await loadModel(dir);
    const sessions = dataset.test.sessions;
    const before = await predictSessions(model, encoder, sessions);
    const after = await predictSessions(loaded.model, loaded.encoder, sessions);
    before.forEach((p, i) => assert.ok(Math.abs(p - after[i]!) < 1e-6, `${p} vs ${after[i]}`));
    assert.deepEqual(loaded.encoder.toJSON(), encoder.toJSON());
    model.dispose();
    loaded.model.dispose();
  });

  it('prior-shift correction divides the predicted odds by the class-weight ratio', async () => {
    const model = newModel();
    const sessions = dataset.test.sessions.slice(0, 5);
    const before = await predictSessions(model, encoder, sessions);
    correctPriorShift(model, 4);
    const after = await predictSessions(model, encoder, sessions);
    before.forEach((p, i) => {
      const expected = p / (1 - p) / 4;
      const odds = after[i]! / (1 - after[i]!);
      assert.ok(Math.abs(odds - expected) < 1e-4, `odds ${odds} vs ${expected}`);
    });
    assert.equal(model.getLayer(OUTPUT_LAYER).getWeights().length, 2);
    model.dispose();
  });
});

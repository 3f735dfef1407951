/**
 * The webgpu training step (src/model/webgpu-step) on a Vulkan device (SwiftShader unless
 * VK_ICD_FILENAMES names another): its predictions (within 1e-5), loss and the gradient of every
 * parameter match tfjs's autodiff of the same model on the wasm backend (the fused op's host
 * kernels) within 1e-4 of the largest reference value, on odd
 * shapes (padded rows of mixed lengths, batches that are not a multiple of the recurrences' tile,
 * one time step, one and two LSTM layers, both recurrent activations, a layer wider than a
 * workgroup, a model without embeddings); a batch uploaded on its own (a split too large to keep on
 * the GPU) gives the same gradients as one gathered from an uploaded split; a step dispatches the
 * same programs at every length and no tfjs op; Adam's state survives a save and load; a batch the
 * device cannot hold and a model of other layers are refused with the reason.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import type { EncodedSplit } from '../../src/model/batches.js';
import { batchInputs, batchLabels, numericSplit } from '../../src/model/batches.js';
import { lstmLayer } from '../../src/model/fused-lstm.js';
import { buildModel } from '../../src/model/lstm.js';
import { splitCount } from '../../src/model/webgpu-step/gemm.js';
import { type StepOptions, WebgpuTrainingStep } from '../../src/model/webgpu-step/step.js';
import { weightedLogLoss } from '../../src/model/weighted-log-loss.js';
import { countDispatches } from '../helpers/dispatches.js';
import { useVulkanDevice } from '../helpers/swiftshader.js';
import { tinyTrainerConfig, tinyTrainingData } from '../helpers/trainer.js';

const RELATIVE_TOLERANCE = 1e-4;
const POSITIVE_WEIGHT = 3;
const PREFIX_WEIGHT = 0.5;

before(useVulkanDevice);

type Gradients = Map<string, Float32Array>;

/**
 * The reference: tfjs's autodiff of the weighted log loss (on the wasm backend: the fused op's host
 * kernels), keyed `layer position/index`, and the predictions.
 */
function referenceGradients(
  model: tf.LayersModel,
  inputs: tf.Tensor | tf.Tensor[],
  labels: tf.Tensor,
  weights: tf.Tensor,
): { loss: number; grads: Gradients; predictions: Float32Array } {
  return scoped(() => {
    let p: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      p = tf.keep(model.apply(inputs, { training: true }) as tf.Tensor);
      return weightedLogLoss(labels, p, weights);
    });
    const out: Gradients = new Map();
    for (const layer of model.layers)
      layer.weights.forEach((w, i) => {
        const g = grads[w.name];
        if (g) out.set(`${model.layers.indexOf(layer)}/${i}`, g.dataSync() as Float32Array);
      });
    return { loss: value.dataSync()[0]!, grads: out, predictions: p!.dataSync() as Float32Array };
  });
}

/** Runs `work`, then disposes every tensor it made (its result holds typed arrays only). */
function scoped<T>(work: () => T): T {
  tf.engine().startScope();
  try {
    return work();
  } finally {
    tf.engine().endScope();
  }
}

function assertClose(actual: Gradients, expected: Gradients, label: string) {
  assert.equal(actual.size, expected.size, `${label}: gradients of every parameter`);
  assert.ok(
    [...expected.values()].some((g) => g.some((v) => v !== 0)),
    `${label}: the reference gradients are not all zero`,
  );
  for (const [name, ref] of expected) {
    const got = actual.get(name);
    assert.ok(got !== undefined && got.length === ref.length, `${label}: ${name} has ${ref.length} values`);
    let worst = 0;
    let scale = 0;
    ref.forEach((r, i) => {
      worst = Math.max(worst, Math.abs(r - got[i]!));
      scale = Math.max(scale, Math.abs(r));
    });
    assert.ok(worst <= RELATIVE_TOLERANCE * scale, `${label}: ${name} differs by ${worst} (scale ${scale})`);
  }
}

/** The loss and the predictions agree with the reference's within the tolerance. */
function assertForward(
  got: { loss: number; predictions: Float32Array },
  reference: { loss: number; predictions: Float32Array },
) {
  assert.ok(
    Math.abs(got.loss - reference.loss) <= RELATIVE_TOLERANCE * reference.loss,
    `loss ${got.loss} vs ${reference.loss}`,
  );
  assert.equal(got.predictions.length, reference.predictions.length);
  got.predictions.forEach((p, i) =>
    assert.ok(
      Math.abs(p - reference.predictions[i]!) <= 1e-5,
      `row ${i}: p ${p} vs ${reference.predictions[i]}`,
    ),
  );
}

/** One step without Adam on webgpu: the loss, the predictions and the gradients. */
async function stepGradients(
  model: tf.LayersModel,
  encoder: { numericSize: number; maxSteps: number },
  split: EncodedSplit,
  batch: number[],
  extra: { uploadLimitBytes?: number } = {},
) {
  const step = await WebgpuTrainingStep.forModel(model, encoder, Math.max(16, batch.length), extra);
  if ('unsupported' in step) throw new Error(step.unsupported);
  await step.loadWeights();
  const options: StepOptions = {
    learningRate: 0.01,
    positiveWeight: POSITIVE_WEIGHT,
    prefixWeight: PREFIX_WEIGHT,
    embeddingL2: 0,
    seed: 1,
    apply: false,
  };
  const tfjsDispatches = await countDispatches(() =>
    step.step(split, batch, options).then(() => tf.scalar(0)),
  );
  // keyed by layer position, as the reference (a model built twice gets new layer names)
  const byName = await step.gradients();
  const grads: Gradients = new Map();
  model.layers.forEach((layer, k) =>
    layer.weights.forEach((_, i) => {
      const g = byName.get(`${layer.name}/${i}`);
      if (g) grads.set(`${k}/${i}`, g);
    }),
  );
  return {
    loss: await step.lastLoss(),
    grads,
    predictions: await step.lastPredictions(),
    tfjsDispatches,
    step,
  };
}

const config = (units: number[]) => tinyTrainerConfig({ model: { dropout: 0, lstmUnits: units } });

/** The product's model on tiny generated data: reference on cpu and the step on webgpu, same seed. */
async function productCase(units: number[], pick: (lengths: number[]) => number[], extra = {}) {
  const c = config(units);
  const data = tinyTrainingData(c, 60);
  const lengths = data.train.examples.map((e) => Math.min(e.length, data.encoder.maxSteps));
  const batch = pick(lengths);
  await selectBackend({ requested: 'wasm' });
  const reference = scoped(() => {
    const model = buildModel(data.encoder, { ...c.model, seed: c.seed });
    const labels = batchLabels(data.train, batch);
    const full = tf.tensor2d(
      batch.map((i) => (data.train.examples[i]!.full ? 1 : PREFIX_WEIGHT)),
      [batch.length, 1],
    );
    const weights = tf.mul(full, tf.add(1, tf.mul(labels, POSITIVE_WEIGHT - 1)));
    const r = referenceGradients(model, batchInputs(data.encoder, data.train, batch), labels, weights);
    model.dispose();
    return r;
  });
  await selectBackend({ requested: 'webgpu' });
  const model = buildModel(data.encoder, { ...c.model, seed: c.seed });
  const got = await stepGradients(model, data.encoder, data.train, batch, extra);
  got.step.dispose();
  model.dispose();
  return { reference, got, batch, lengths };
}

describe('the webgpu training step', () => {
  it('one LSTM layer: mixed lengths, prefixes and labels, 7 rows: the cpu autodiff gradients', async () => {
    const { reference, got, batch, lengths } = await productCase([8], (lengths) => {
      // the first examples of each length seen, up to 7: padded rows of different lengths
      const seen = new Set<number>();
      const batch: number[] = [];
      lengths.forEach((l, i) => {
        if (seen.has(l) || seen.size >= 7) return;
        seen.add(l);
        batch.push(i);
      });
      return batch;
    });
    assert.ok(new Set(batch.map((i) => lengths[i])).size >= 3, 'rows of several lengths');
    assertForward(got, reference);
    assertClose(got.grads, reference.grads, '1 layer');
    assert.equal(got.tfjsDispatches, 0, 'the step runs no tfjs op');
  });

  it('two LSTM layers, a batch of one time step: the cpu autodiff gradients', async () => {
    const { reference, got } = await productCase([8, 6], (lengths) =>
      lengths.flatMap((l, i) => (l === 1 ? [i] : [])).slice(0, 5),
    );
    assertForward(got, reference);
    assertClose(got.grads, reference.grads, '2 layers, T = 1');
  });

  it('a batch uploaded on its own gives the gradients of one gathered from an uploaded split', async () => {
    const pick = (lengths: number[]) => lengths.map((_, i) => i).slice(3, 14);
    const gathered = await productCase([8], pick);
    const packed = await productCase([8], pick, { uploadLimitBytes: 0 });
    assert.deepEqual(packed.got.loss, gathered.got.loss);
    assertClose(packed.got.grads, gathered.reference.grads, 'packed batch');
  });

  it('a model without embeddings, sigmoid gates, a layer wider than a workgroup, a split reduction', async () => {
    // 37 × 9 = 333 step-rows: the weight gradients' reduction runs in two splits
    const [B, T, F, U] = [37, 9, 4, 300];
    assert.equal(splitCount(B * T), 2);
    const numeric = Float32Array.from({ length: B * T * F }, (_, i) => Math.sin(i * 0.7) * 0.8);
    const labels = Float32Array.from({ length: B }, (_, b) => b % 2);
    const split = numericSplit(numeric, labels, T, F);
    const build = () => {
      const model = tf.sequential();
      model.add(
        lstmLayer({
          units: U,
          inputShape: [null, F],
          recurrentActivation: 'sigmoid',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
          recurrentInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      );
      model.add(
        tf.layers.dense({
          units: 1,
          activation: 'sigmoid',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        }),
      );
      return model;
    };
    await selectBackend({ requested: 'wasm' });
    const reference = scoped(() => {
      const model = build();
      const y = tf.tensor2d(labels, [B, 1]);
      const r = referenceGradients(
        model,
        tf.tensor3d(numeric, [B, T, F]),
        y,
        tf.add(1, tf.mul(y, POSITIVE_WEIGHT - 1)),
      );
      model.dispose();
      return r;
    });
    await selectBackend({ requested: 'webgpu' });
    const model = build();
    const got = await stepGradients(
      model,
      { numericSize: F, maxSteps: T },
      split,
      Array.from({ length: B }, (_, b) => b),
    );
    got.step.dispose();
    model.dispose();
    assertForward(got, reference);
    assertClose(got.grads, reference.grads, 'no embeddings');
  });

  it('dispatches the same programs for short and long batches, and keeps Adam state through save and load', async () => {
    const c = tinyTrainerConfig({ model: { lstmUnits: [8, 6] } });
    const data = tinyTrainingData(c, 60);
    const lengths = data.train.examples.map((e) => Math.min(e.length, data.encoder.maxSteps));
    const short = lengths.flatMap((l, i) => (l <= 2 ? [i] : [])).slice(0, 8);
    const long = lengths.flatMap((l, i) => (l >= 8 ? [i] : [])).slice(0, 8);
    assert.ok(short.length > 0 && long.length > 0);
    await selectBackend({ requested: 'webgpu' });
    const model = buildModel(data.encoder, { ...c.model, seed: c.seed });
    const made = await WebgpuTrainingStep.forModel(model, data.encoder, 16);
    if ('unsupported' in made) throw new Error(made.unsupported);
    await made.loadWeights();
    const options: StepOptions = {
      learningRate: 0.01,
      positiveWeight: 2,
      prefixWeight: 1,
      embeddingL2: 0.01,
      seed: 5,
    };
    await made.step(data.train, short, options);
    const atShort = made.lastDispatches;
    await made.step(data.train, long, options);
    assert.equal(made.lastDispatches, atShort, 'the same dispatches at 2 and ≥ 8 steps');
    assert.equal(
      atShort,
      4 + 6 * 2,
      'gather, 2 × (projection, recurrence), head, 2 × (backward, dW, dU, dx), scatter, Adam',
    );

    // Adam's state: a second step object loaded with the first one's weights and state takes the same next step.
    const state = await made.optimizerState();
    assert.equal((await state[0]!.tensor.data())[0], 2, 'two Adam steps taken');
    await made.saveWeights();
    const twin = await WebgpuTrainingStep.forModel(model, data.encoder, 16);
    if ('unsupported' in twin) throw new Error(twin.unsupported);
    await twin.loadWeights();
    await twin.loadOptimizerState(state);
    tf.dispose(state.map((s) => s.tensor));
    const next = short.slice(0, 4);
    for (const s of [made, twin]) await s.step(data.train, next, { ...options, seed: 9 });
    const a = await made.gradients();
    const b = await twin.gradients();
    assertClose(b, a, 'after load');
    await made.saveWeights();
    const first = await Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));
    await twin.saveWeights();
    const second = await Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));
    first.forEach((w, i) =>
      w.forEach((v, k) =>
        assert.ok(Math.abs(v - second[i]![k]!) <= 1e-6, `weight ${i}[${k}]: ${v} vs ${second[i]![k]}`),
      ),
    );
    made.dispose();
    twin.dispose();
    model.dispose();
  });

  it('refuses, with the reason, a batch the device cannot hold, and a model it does not run', async () => {
    const c = tinyTrainerConfig();
    const data = tinyTrainingData(c, 20);
    await selectBackend({ requested: 'webgpu' });
    const model = buildModel(data.encoder, { ...c.model, seed: c.seed });
    const huge = await WebgpuTrainingStep.forModel(model, data.encoder, 50_000_000);
    assert.ok(
      'unsupported' in huge && /lower trainer\.batchSize/.test(huge.unsupported),
      JSON.stringify(huge),
    );
    const other = tf.sequential({
      layers: [
        tf.layers.gru({ units: 3, inputShape: [null, 2] }),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    const refused = await WebgpuTrainingStep.forModel(other, { numericSize: 2, maxSteps: 4 }, 8);
    assert.ok('unsupported' in refused && /GRU/.test(refused.unsupported), JSON.stringify(refused));
    model.dispose();
    other.dispose();
  });
});

/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn, the `webgpu` package) trains the project's LSTM
 * correctly: on SwiftShader, the software Vulkan device in Debian's chromium package (scripts/test
 * installs it), the same seeded training as on wasm (the webgpu step, without dropout) or on cpu
 * (through tfjs ops, with dropout) gives the same per-epoch losses (within 1e-4; seen: ~1e-7) and
 * the same validation predictions (within 1e-4), and the loss falls; dropout works on the step, and
 * its checkpoints resume on cpu and the other way round. No Vulkan device means a failure, not a
 * skip. SwiftShader is slow: tiny sizes.
 *
 * VK_ICD_FILENAMES selects the Vulkan driver; unset, this test points it at SwiftShader. Set it to
 * another ICD file (a GPU's) to run the same checks there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createMemoryLogger } from '../../src/log/logger.js';
import { type BackendName, selectBackend } from '../../src/model/backend.js';
import { predictSplit } from '../../src/model/batches.js';
import { buildModel } from '../../src/model/lstm.js';
import { train } from '../../src/model/train.js';
import { countDispatches } from '../helpers/dispatches.js';
import { SWIFTSHADER_ICD, useVulkanDevice } from '../helpers/swiftshader.js';
import { tinyTrainerConfig, tinyTrainingData } from '../helpers/trainer.js';

const EPOCHS = 2;
const LOSS_TOLERANCE = 1e-4;
const PREDICTION_TOLERANCE = 1e-4;

const config = tinyTrainerConfig();
let data: ReturnType<typeof tinyTrainingData>;

before(() => {
  useVulkanDevice();
  data = tinyTrainingData(config);
});

/**
 * Trains a fresh seeded model for EPOCHS on `backend` (on webgpu with the webgpu step unless
 * `gpuStep` is false); per-epoch losses and validation predictions.
 */
async function trainOn(backend: BackendName, options: { gpuStep?: boolean; dropout?: number } = {}) {
  const selection = await selectBackend({ requested: backend });
  assert.equal(tf.getBackend(), backend);
  const logger = createMemoryLogger('info');
  const model = buildModel(data.encoder, {
    ...config.model,
    dropout: options.dropout ?? config.model.dropout,
    seed: config.seed,
  });
  const result = await train({
    model,
    encoder: data.encoder,
    train: data.train,
    validation: data.validation,
    epochs: EPOCHS,
    batchSize: config.training.batchSize,
    learningRate: 0.01,
    patience: 10,
    classWeight: 'balanced',
    seed: config.seed,
    logger,
    ...(options.gpuStep === undefined ? {} : { gpuStep: options.gpuStep }),
  });
  const steppedOnGpu = logger.lines.some((l) => l['msg'] === 'training with the webgpu step');
  const predictions = Array.from(await predictSplit(model, data.encoder, data.validation));
  model.dispose();
  return { selection, losses: result.history.map((h) => h.loss), predictions, steppedOnGpu };
}

describe('webgpu backend on a Vulkan device (SwiftShader unless VK_ICD_FILENAMES names another)', () => {
  it('auto passes over a software adapter and says why', async () => {
    const withoutTfjsNode = async (specifier: string) => {
      if (/tfjs-node/.test(specifier)) throw new Error(`Cannot find package '${specifier}'`);
      return import(specifier);
    };
    const selection = await selectBackend({ importModule: withoutTfjsNode });
    const webgpu = selection.skipped.find((s) => s.backend === 'webgpu');
    if (selection.backend === 'webgpu') {
      assert.equal(selection.adapter?.software, false, 'auto must not train on a software adapter');
    } else {
      assert.equal(selection.backend, 'wasm');
      assert.ok(webgpu !== undefined && webgpu.reason.length > 0, 'the webgpu skip has a reason');
    }
    if (process.env['VK_ICD_FILENAMES'] === SWIFTSHADER_ICD) {
      assert.ok(
        /software device .*swiftshader/i.test(webgpu?.reason ?? ''),
        `skip reason: ${webgpu?.reason}`,
      );
    }
  });

  it('transposes int32 and bool-backed tensors on the GPU as the cpu backend does', async () => {
    // On webgpu, results of GPU ops (over 1,000 elements, so not handed to the CPU): an int32
    // buffer, and a bool buffer under a float32 tensor (a cast mask, as in a masked LSTM).
    const shape = [6, 20, 3, 5];
    const uniform = Float32Array.from({ length: 1800 }, (_, i) => (Math.sin(i * 12.9898) + 1) / 2);
    const transposed = (perm: number[]) =>
      Promise.all(
        [
          tf.cast(tf.mul(tf.tensor(uniform, shape), 1e6), 'int32'),
          tf.cast(tf.greater(tf.tensor(uniform, shape), 0.5), 'float32'),
        ].map(async (x) => Array.from(await tf.transpose(x, perm).data())),
      );
    for (const perm of [
      [1, 0, 2, 3],
      [3, 1, 2, 0],
      [0, 2, 1, 3],
    ]) {
      await selectBackend({ requested: 'webgpu' });
      const gpu = await transposed(perm);
      await selectBackend({ requested: 'cpu' });
      const cpu = await transposed(perm);
      gpu.forEach((values, i) => assert.deepEqual(values, cpu[i], `perm ${perm}, input ${i}`));
    }
  });

  it("transposes that keep the element order are reshapes: no dispatch, the cpu backend's values", async () => {
    const uniform = Float32Array.from({ length: 1800 }, (_, i) => Math.sin(i * 12.9898));
    const cases: [number[], number[], number][] = [
      // shape, perm, dispatches expected
      [[6, 20, 3, 5], [0, 1, 2, 3], 0],
      [[6, 1, 60, 5], [1, 0, 2, 3], 0],
      [[60, 1, 30], [0, 2, 1], 0],
      [[6, 1, 60, 5], [0, 2, 1, 3], 0],
      [[6, 1, 60, 5], [2, 1, 0, 3], 1],
    ];
    for (const [shape, perm, expected] of cases) {
      await selectBackend({ requested: 'webgpu' });
      tf.env().set('WEBGPU_CPU_FORWARD', false);
      const x = tf.add(tf.tensor(uniform, shape), 0); // on the GPU
      const transposed = () => tf.transpose(x, perm);
      const dispatches = await countDispatches(transposed);
      const gpu = transposed();
      assert.deepEqual(
        gpu.shape,
        perm.map((axis) => shape[axis]),
      );
      const values = Array.from(await gpu.data());
      tf.dispose([x, gpu]);
      tf.env().set('WEBGPU_CPU_FORWARD', true);
      assert.equal(dispatches, expected, `shape ${shape}, perm ${perm}`);
      await selectBackend({ requested: 'cpu' });
      const cpu = tf.tidy(() => Array.from(tf.transpose(tf.tensor(uniform, shape), perm).dataSync()));
      assert.deepEqual(values, cpu, `shape ${shape}, perm ${perm}`);
    }
  });

  it('sums embedding gradients by row (UnsortedSegmentSum) as the cpu backend does, in two dispatches', async () => {
    const cases: [number[], number][] = [
      // x's shape, segments; ids repeat a lot (contended atomic adds), some segments get none
      [[7], 3],
      [[50, 3], 11],
      [[1300, 8], 17],
      [[40, 2, 3], 5],
    ];
    for (const [shape, segments] of cases) {
      const size = tf.util.sizeFromShape(shape);
      const values = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 3);
      const ids = Int32Array.from({ length: shape[0]! }, (_, i) => (i * 7 + (i >> 2)) % (segments - 1));
      const sum = () => tf.unsortedSegmentSum(tf.tensor(values, shape), tf.tensor1d(ids, 'int32'), segments);
      await selectBackend({ requested: 'webgpu' });
      tf.env().set('WEBGPU_CPU_FORWARD', false);
      const onGpu = () => tf.tidy(() => sum().add(0).sub(0)); // inputs uploaded, not handed to the CPU
      const dispatches = (await countDispatches(onGpu)) - 2; // the add and sub
      const gpuResult = onGpu();
      const gpu = Array.from(await gpuResult.data());
      assert.deepEqual(gpuResult.shape, [segments, ...shape.slice(1)]);
      gpuResult.dispose();
      tf.env().set('WEBGPU_CPU_FORWARD', true);
      await selectBackend({ requested: 'cpu' });
      const cpu = tf.tidy(() => Array.from(sum().dataSync()));
      const worst = Math.max(...gpu.map((v, i) => Math.abs(v - cpu[i]!)));
      assert.ok(worst < 1e-4, `shape ${shape}: max difference ${worst}`);
      assert.equal(dispatches, 2, `shape ${shape}: a fill and the scatter-add`);
    }
  });

  /** Trains on webgpu and on `reference`; the losses fall and agree, and so do the validation predictions. */
  async function matchesReference(
    t: TestContext,
    options: { gpuStep: boolean; dropout: number; reference: BackendName },
  ) {
    const gpu = await trainOn('webgpu', options);
    assert.equal(gpu.selection.backend, 'webgpu');
    assert.ok(gpu.selection.adapter !== undefined, 'the selection describes the adapter');
    assert.equal(gpu.steppedOnGpu, options.gpuStep, 'the webgpu step ran (or not) as asked');
    t.diagnostic(`adapter: ${JSON.stringify(gpu.selection.adapter)}`);
    const ref = await trainOn(options.reference, { dropout: options.dropout });
    t.diagnostic(`losses webgpu ${gpu.losses.join(', ')}; ${options.reference} ${ref.losses.join(', ')}`);

    assert.equal(gpu.losses.length, EPOCHS);
    assert.ok(gpu.losses[EPOCHS - 1]! < gpu.losses[0]!, `the loss falls on webgpu: ${gpu.losses}`);
    assert.ok(
      ref.losses[EPOCHS - 1]! < ref.losses[0]!,
      `the loss falls on ${options.reference}: ${ref.losses}`,
    );
    gpu.losses.forEach((loss, i) =>
      assert.ok(
        Math.abs(loss - ref.losses[i]!) <= LOSS_TOLERANCE,
        `epoch ${i + 1}: webgpu ${loss} vs ${options.reference} ${ref.losses[i]}`,
      ),
    );
    assert.equal(gpu.predictions.length, ref.predictions.length);
    const worst = Math.max(...gpu.predictions.map((p, i) => Math.abs(p - ref.predictions[i]!)));
    t.diagnostic(`largest prediction difference ${worst}`);
    assert.ok(worst <= PREDICTION_TOLERANCE, `predictions differ by up to ${worst}`);
  }

  it(
    'trains the LSTM with the webgpu step: the loss falls and matches the wasm backend (no dropout)',
    {
      timeout: 10 * 60_000,
    },
    (t) => matchesReference(t, { gpuStep: true, dropout: 0, reference: 'wasm' }),
  );

  it(
    'trains the LSTM through tfjs ops on webgpu: the same, with dropout (the same masks as cpu)',
    {
      timeout: 10 * 60_000,
    },
    (t) => matchesReference(t, { gpuStep: false, dropout: config.model.dropout, reference: 'cpu' }),
  );

  it(
    'trains with dropout on the webgpu step: the loss falls, and differs from no dropout',
    {
      timeout: 10 * 60_000,
    },
    async () => {
      const dropped = await trainOn('webgpu', { dropout: 0.3 });
      const plain = await trainOn('webgpu', { dropout: 0 });
      assert.ok(dropped.steppedOnGpu);
      assert.ok(dropped.losses[EPOCHS - 1]! < dropped.losses[0]!, `the loss falls: ${dropped.losses}`);
      assert.ok(
        dropped.losses[0]! > plain.losses[0]! + 1e-3,
        `dropout makes the training loss higher: ${dropped.losses[0]} vs ${plain.losses[0]}`,
      );
    },
  );

  it(
    "checkpoints of the webgpu step and of tfjs's Adam are one format: a run resumed across them matches an uninterrupted one",
    {
      timeout: 10 * 60_000,
    },
    async () => {
      const run = async (
        backend: BackendName,
        dir: string | undefined,
        extra: Partial<Parameters<typeof train>[0]>,
      ) => {
        await selectBackend({ requested: backend });
        const model = buildModel(data.encoder, {
          ...config.model,
          dropout: 0,
          seed: config.seed + (extra.resume ? 99 : 0),
        });
        const result = await train({
          model,
          encoder: data.encoder,
          train: data.train,
          validation: data.validation,
          epochs: 3,
          batchSize: config.training.batchSize,
          learningRate: 0.01,
          patience: 10,
          classWeight: 'balanced',
          embeddingL2: 0.01,
          seed: config.seed,
          logger: createMemoryLogger('warn'),
          ...(dir ? { checkpointDir: dir, fingerprint: 'f' } : {}),
          ...extra,
        });
        model.dispose();
        return result.history.map((h) => h.loss);
      };
      const reference = await run('cpu', undefined, {});
      for (const [first, second] of [
        ['webgpu', 'cpu'],
        ['cpu', 'webgpu'],
      ] as const) {
        const dir = mkdtempSync(join(tmpdir(), 'gpu-ckpt-'));
        const head = await run(first, dir, { maxEpochsThisRun: 1 });
        const tail = await run(second, dir, { resume: true });
        assert.equal(head.length, 1);
        assert.equal(tail.length, 3, 'the resumed run keeps the first epoch and trains two more');
        tail.forEach((loss, i) =>
          assert.ok(
            Math.abs(loss - reference[i]!) <= LOSS_TOLERANCE,
            `${first} then ${second}, epoch ${i + 1}: ${loss} vs ${reference[i]}`,
          ),
        );
      }
    },
  );
});

/**
 * bench/dispatches: how many GPU programs one training step of the product's model dispatches on
 * webgpu and what queuing it costs the CPU: through the webgpu step (src/model/webgpu-step, what
 * `intentstream train` runs on webgpu; it must run no tfjs program) and, as the reference in the
 * same run, through tfjs ops (tfjs-layers and autodiff) with the fused Adam step and with tfjs's own
 * Adam, by program. Through tfjs each dispatch pays tfjs's CPU-side cost (docs/trainer.md).
 *
 *   npx tsx bench/dispatches.ts [--layers=2] [--batch=64]
 *
 * The default config's model (units, embeddings, dropout) with `--layers` LSTM layers, on a small
 * generated dataset; one warm-up step, one counted step, then the host-side time of queuing five
 * more (what each dispatch costs the CPU). VK_ICD_FILENAMES picks the Vulkan
 * driver (default SwiftShader); `WEBGPU_CPU_FORWARD` is off, so no op runs on the CPU because its
 * tensors are small.
 */
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config/index.js';
import { adapterName, selectBackend } from '../src/model/backend.js';
import { buildModel } from '../src/model/lstm.js';
import { positiveWeightOf, trainingStep } from '../src/model/train.js';
import { FusedAdamOptimizer } from '../src/model/webgpu-adam.js';
import { WebgpuTrainingStep } from '../src/model/webgpu-step/step.js';
import { countDispatches } from '../test/helpers/dispatches.js';
import { useVulkanDevice } from '../test/helpers/swiftshader.js';
import { tinyTrainerConfig, tinyTrainingData } from '../test/helpers/trainer.js';
import { machine, writeResult } from './common.js';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? 'true'];
  }),
);
const layers = Number(args['layers'] ?? 2);
const batchSize = Number(args['batch'] ?? 64);

useVulkanDevice();
const defaults = loadConfig({ env: {} }).trainer;
const config = tinyTrainerConfig({
  features: { maxSteps: defaults.features.maxSteps },
  model: {
    lstmUnits: Array.from({ length: layers }, () => defaults.model.lstmUnits[0]!),
    embeddingDims: defaults.model.embeddingDims,
    dropout: defaults.model.dropout,
  },
});
const data = tinyTrainingData(config, 120);
const selection = await selectBackend({ requested: 'webgpu' });
tf.env().set('WEBGPU_CPU_FORWARD', false);
const batch = Array.from({ length: Math.min(batchSize, data.train.examples.length) }, (_, i) => i);

/** Programs dispatched by one step (after a warm-up step), by program class; host ms per step. */
async function countStep(optimizer: tf.Optimizer): Promise<{ counts: Map<string, number>; hostMs: number }> {
  const model = buildModel(data.encoder, { ...config.model, seed: config.seed });
  const step = trainingStep({
    model,
    encoder: data.encoder,
    optimizer,
    positiveWeight: positiveWeightOf(1, 4, 'balanced'),
    prefixWeight: 1,
    embeddingL2: 1e-5,
  });
  await step(data.train, batch).data();
  const backend = tf.backend() as unknown as { recordAndSubmit: (...args: unknown[]) => unknown };
  const original = backend.recordAndSubmit;
  const counts = new Map<string, number>();
  backend.recordAndSubmit = function (this: unknown, program: unknown, ...rest: unknown[]) {
    const name = (program as object).constructor.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return original.call(this, program, ...rest);
  };
  try {
    const loss = step(data.train, batch);
    await loss.data();
    loss.dispose();
  } finally {
    backend.recordAndSubmit = original;
  }
  // Host side: the CPU time of queuing HOST_STEPS steps (tfjs, tfjs-layers and Dawn calls), not
  // waiting for the GPU; on SwiftShader the "GPU" shares the CPU, so this is an upper bound.
  const started = performance.now();
  const losses = Array.from({ length: HOST_STEPS }, () => step(data.train, batch));
  const hostMs = (performance.now() - started) / HOST_STEPS;
  for (const loss of losses) await loss.data();
  tf.dispose(losses);
  model.dispose();
  optimizer.dispose();
  return { counts, hostMs };
}

const HOST_STEPS = 5;

/** The same model and batch through the webgpu step (what `intentstream train` runs on webgpu). */
async function countWebgpuStep(): Promise<{ dispatches: number; hostMs: number; tfjsDispatches: number }> {
  const model = buildModel(data.encoder, { ...config.model, seed: config.seed });
  const made = await WebgpuTrainingStep.forModel(model, data.encoder, batch.length);
  if ('unsupported' in made) throw new Error(`webgpu step: ${made.unsupported}`);
  await made.loadWeights();
  const options = { learningRate: 0.003, positiveWeight: 3, prefixWeight: 1, embeddingL2: 1e-5, seed: 1 };
  await made.step(data.train, batch, options);
  await made.flush();
  let hostMs = 0;
  const tfjsDispatches = await countDispatches(async () => {
    for (let i = 0; i < HOST_STEPS; i++) {
      await made.step(data.train, batch, { ...options, seed: i });
      hostMs += made.lastHostMs;
    }
    await made.flush();
    return tf.scalar(0);
  });
  const dispatches = made.lastDispatches;
  made.dispose();
  model.dispose();
  return { dispatches, hostMs: hostMs / HOST_STEPS, tfjsDispatches };
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const sorted = (counts: Map<string, number>) =>
  Object.fromEntries([...counts].sort(([a, n], [b, m]) => m - n || a.localeCompare(b)));

const gpuStep = await countWebgpuStep();
if (gpuStep.tfjsDispatches !== 0)
  throw new Error(`the webgpu step ran ${gpuStep.tfjsDispatches} tfjs programs`);
const { counts: fused, hostMs } = await countStep(new FusedAdamOptimizer(0.003));
const { counts: stock } = await countStep(tf.train.adam(0.003));
writeResult('dispatches', {
  value: gpuStep.dispatches,
  unit: 'GPU programs dispatched per training step (the webgpu step)',
  reference: total(fused),
  ratio: gpuStep.dispatches / total(fused),
  ratioMeaning: 'dispatches of the webgpu step / through tfjs ops with the fused Adam',
  tfjsOps: { fusedAdam: total(fused), tfjsAdam: total(stock) },
  config: {
    lstmUnits: config.model.lstmUnits,
    embeddingDims: config.model.embeddingDims,
    batch: batch.length,
    steps: config.features.maxSteps,
  },
  machine: `${selection.adapter ? adapterName(selection.adapter) : 'webgpu'}; ${machine()}`,
  byProgram: { fused: sorted(fused), tfjsAdam: sorted(stock) },
  host: {
    webgpuStepMsPerStep: gpuStep.hostMs,
    msPerStep: hostMs,
    usPerDispatch: (1000 * hostMs) / total(fused),
    meaning:
      'CPU time to queue one step (not waiting for the GPU; msPerStep and usPerDispatch through tfjs ops with the fused Adam); SwiftShader shares the CPU',
  },
});

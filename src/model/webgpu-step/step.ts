/// <reference types="@webgpu/types" />
/**
 * One optimizer step of the model as a fixed list of WebGPU compute programs on tfjs's own device
 * (programs.ts): 4 + 6·layers dispatches whatever the batch or its length, encoded into one compute
 * pass and submitted once, against ~130 tfjs ops (each with a few hundred µs of CPU) through
 * tfjs-layers and autodiff.
 *
 * Pipelines, buffers (sized for the largest batch) and bind groups are made once per model. A split's
 * encoded steps are uploaded once and each batch writes only its rows (data.ts); the batch losses are
 * summed on the GPU and read at the end of an epoch. The weights live in one flat buffer (layout.ts):
 * read from the tfjs model at the start and written back with `saveWeights` (before validation and
 * checkpoints), so evaluation, checkpoints, `--resume` and the saved model stay tfjs's (state.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureEncoder } from '../../features/index.js';
import type { EncodedSplit } from '../batches.js';
import { lstmTiling } from '../webgpu-lstm-programs.js';
import { type BatchWeights, StepData } from './data.js';
import { GEMM_TILE } from './gemm.js';
import { GpuKit } from './gpu.js';
import { type ModelPlan, type ParamLayout, planModel } from './layout.js';
import { type StepBuffers, type StepPrograms, stepPrograms } from './programs.js';
import { PACKED } from './shaders.js';
import {
  type NamedTensor,
  loadAdamState,
  readModelWeights,
  saveAdamState,
  writeModelWeights,
} from './state.js';

const BETA1 = 0.9;
const BETA2 = 0.999;
/** Steps queued on the GPU before the host waits for the oldest. */
const IN_FLIGHT = 3;

export interface StepOptions extends BatchWeights {
  learningRate: number;
  /** λ of the embeddings' L2 penalty λ·Σw². */
  embeddingL2: number;
  /** Seeds this step's dropout masks. */
  seed: number;
  /** false: compute the gradients only (tests read them with `gradients()`). */
  apply?: boolean;
}

/** The webgpu backend's device (tfjs-backend-webgpu 4.x keeps it in `device`). */
function tfjsDevice(): GPUDevice | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  return (tf.backend() as unknown as { device?: GPUDevice }).device;
}

/**
 * Why batches of `batchSize` × `maxSteps` do not fit the device's buffers or dispatch grid, if so:
 * the largest per-step buffer (a layer's packed forward results) must fit one storage binding, and
 * the GEMMs over every step-row need one workgroup per 16 of them along y.
 */
function exceedsDevice(
  layout: ParamLayout,
  batchSize: number,
  maxSteps: number,
  limits: GPUSupportedLimits,
): string | undefined {
  const rows = batchSize * maxSteps;
  const widest = Math.max(layout.inputSize, ...layout.layers.map((l) => PACKED * l.units));
  const bytes = 4 * rows * widest;
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (bytes > binding)
    return `a batch of ${batchSize} × ${maxSteps} steps needs a ${bytes}-byte buffer, over the device's ${binding}; lower trainer.batchSize`;
  if (Math.ceil(rows / GEMM_TILE) > limits.maxComputeWorkgroupsPerDimension)
    return `a batch of ${batchSize} × ${maxSteps} steps needs more workgroups than the device dispatches (${limits.maxComputeWorkgroupsPerDimension} per dimension); lower trainer.batchSize`;
  for (const layer of layout.layers) {
    if (lstmTiling(layer.units, limits) === null)
      return `an LSTM layer of ${layer.units} units does not fit the device's workgroup memory`;
  }
  return undefined;
}

export class WebgpuTrainingStep {
  /** Dispatches in each step (constant for a model). */
  readonly dispatchesPerStep: number;
  /** Dispatches the last step encoded. */
  lastDispatches = 0;
  /** Host time of the last step until it was submitted (writing the batch, encoding), in ms. */
  lastHostMs = 0;
  private readonly kit: GpuKit;
  private readonly buffers: StepBuffers;
  private readonly programs: StepPrograms;
  private readonly data: StepData;
  private readonly layout: ParamLayout;
  private readonly inFlight: Promise<unknown>[] = [];
  private iterations = 0;
  private lastBatchSize = 0;

  /** The step for `model` on the current (webgpu) backend, or why there is none. */
  static async forModel(
    model: tf.LayersModel,
    encoder: Pick<FeatureEncoder, 'numericSize' | 'maxSteps'>,
    batchSize: number,
    options: { uploadLimitBytes?: number } = {},
  ): Promise<WebgpuTrainingStep | { unsupported: string }> {
    const device = tfjsDevice();
    if (device === undefined) return { unsupported: `the backend is ${tf.getBackend()}, not webgpu` };
    const plan = planModel(model, encoder.numericSize);
    if ('unsupported' in plan) return plan;
    const tooLarge = exceedsDevice(plan.layout, batchSize, encoder.maxSteps, device.limits);
    if (tooLarge !== undefined) return { unsupported: tooLarge };
    // A program the device refuses (a limit, a compiler) is reported here, not at the first step.
    device.pushErrorScope('validation');
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const step = new WebgpuTrainingStep(
      new GpuKit(device),
      model,
      plan,
      batchSize,
      encoder.maxSteps,
      options.uploadLimitBytes ?? limit,
    );
    const error = await device.popErrorScope();
    if (error !== null) {
      step.dispose();
      return { unsupported: `the device refused its programs: ${error.message}` };
    }
    return step;
  }

  private constructor(
    kit: GpuKit,
    private readonly model: tf.LayersModel,
    private readonly plan: ModelPlan,
    maxBatch: number,
    maxSteps: number,
    /** A split whose steps take more bytes (ids or numeric features) is not uploaded whole. */
    uploadLimitBytes: number,
  ) {
    this.kit = kit;
    const layout = plan.layout;
    this.layout = layout;
    const copyable = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.buffers = {
      uniform: kit.buffer(32, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
      rows: kit.storage(4 * maxBatch, GPUBufferUsage.COPY_DST),
      params: kit.storage(layout.size, copyable),
      grads: kit.storage(layout.size, copyable),
      moments: [kit.storage(layout.size, copyable), kit.storage(layout.size, copyable)],
      loss: kit.storage(4, copyable),
      headScratch: kit.storage(2 * maxBatch, copyable),
    };
    this.programs = stepPrograms(kit, layout, maxBatch, maxSteps, this.buffers, () => this.data.gather);
    this.data = new StepData(
      kit,
      layout,
      this.buffers.rows,
      maxBatch,
      maxSteps,
      uploadLimitBytes,
      (cats, nums) => this.programs.gatherGroup(cats, nums),
    );
    this.dispatchesPerStep = this.programs.dispatches.length + 1;
  }

  /** Reads the model's weights into the parameter buffer (Adam's moments: zero, or `loadOptimizerState`). */
  async loadWeights(): Promise<void> {
    this.kit.device.queue.writeBuffer(this.buffers.params, 0, await readModelWeights(this.plan));
  }

  /** Writes the trained weights back into the tfjs model. */
  async saveWeights(): Promise<void> {
    writeModelWeights(this.plan, await this.kit.read(this.buffers.params, this.layout.size));
  }

  /** Adam's state as tfjs's AdamOptimizer saves it (state.ts). */
  optimizerState(): Promise<NamedTensor[]> {
    return saveAdamState(this.kit, this.model, this.plan, this.buffers.moments, this.iterations);
  }

  /** Restores Adam's state saved by `optimizerState` or by tfjs's Adam. */
  async loadOptimizerState(saved: readonly NamedTensor[]): Promise<void> {
    this.iterations = await loadAdamState(this.kit, this.model, this.plan, this.buffers.moments, saved);
  }

  /** Queues one optimizer step on the batch `batch` of `split`. */
  async step(split: EncodedSplit, batch: readonly number[], options: StepOptions): Promise<void> {
    if (batch.length === 0) return;
    const started = performance.now();
    const [B, T] = this.data.writeBatch(split, batch, options);
    this.lastBatchSize = B;
    const apply = options.apply !== false;
    const t = this.iterations + 1;
    const uniform = new ArrayBuffer(32);
    new Uint32Array(uniform, 0, 4).set([B, T, options.seed >>> 0, 0]);
    new Float32Array(uniform, 16, 4).set([
      options.learningRate,
      1 - BETA1 ** t,
      1 - BETA2 ** t,
      2 * options.embeddingL2,
    ]);
    const device = this.kit.device;
    device.queue.writeBuffer(this.buffers.uniform, 0, uniform);
    const encoder = device.createCommandEncoder();
    if (this.layout.tablesEnd > 0) encoder.clearBuffer(this.buffers.grads, 0, 4 * this.layout.tablesEnd);
    const pass = encoder.beginComputePass();
    const dispatches = apply ? [...this.programs.dispatches, this.programs.adam] : this.programs.dispatches;
    for (const d of dispatches) {
      pass.setPipeline(d.kernel.pipeline);
      pass.setBindGroup(0, typeof d.group === 'function' ? d.group() : d.group);
      const [x, y, z] = d.size(B, T);
      pass.dispatchWorkgroups(x, y, z ?? 1);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
    if (apply) this.iterations = t;
    this.lastDispatches = dispatches.length;
    this.lastHostMs = performance.now() - started;
    this.inFlight.push(device.queue.onSubmittedWorkDone());
    if (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
  }

  /** The summed loss terms of the steps since the last call (their weighted losses × batch sizes). */
  async takeLoss(): Promise<number> {
    const [sum] = await this.kit.read(this.buffers.loss, 1);
    this.kit.device.queue.writeBuffer(this.buffers.loss, 0, new Float32Array(4));
    return sum!;
  }

  /** The last step's mean loss. */
  async lastLoss(): Promise<number> {
    return (await this.kit.read(this.buffers.loss, 2))[1]!;
  }

  /** The last step's predicted probabilities, one per row of its batch. */
  async lastPredictions(): Promise<Float32Array> {
    return (await this.kit.read(this.buffers.headScratch, 2 * this.lastBatchSize)).slice(this.lastBatchSize);
  }

  /** The last step's gradients by model weight: `${layer name}/${weight index}` → values. */
  async gradients(): Promise<Map<string, Float32Array>> {
    const values = await this.kit.read(this.buffers.grads, this.layout.size);
    return new Map(
      this.plan.slots.map((s) => [`${s.layer.name}/${s.index}`, values.slice(s.offset, s.offset + s.size)]),
    );
  }

  /** Waits for the queued steps. */
  async flush(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
  }

  dispose(): void {
    this.data.dispose();
    this.kit.destroy();
  }
}

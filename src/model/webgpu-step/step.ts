/// <reference types="@webgpu/types" />
/**
 * One optimizer step of the model as a fixed list of WebGPU compute programs on tfjs's own device:
 * the embeddings' gather, per LSTM layer the input projection (a tiled GEMM) and the recurrence (one
 * dispatch for all steps), the dense head with the loss and its gradient (one workgroup), per layer
 * the backward recurrence and the weight and input gradients (tiled GEMMs), the embeddings' gradient
 * (one scatter-add) and Adam over every parameter (one dispatch). That is 4 + 6·layers dispatches
 * whatever the batch or its length, encoded into one compute pass and submitted once, against ~130
 * tfjs ops (each with a few hundred µs of CPU) through tfjs-layers and autodiff.
 *
 * Pipelines, buffers (sized for the largest batch) and bind groups are made once per model. A split's
 * encoded steps are uploaded once (a shard's when training streams shards) and each batch writes only
 * its rows (where its steps start, their count, label, loss weight); the batch losses are summed on
 * the GPU and read at the end of an epoch. The weights live in one flat buffer (layout.ts): they are
 * read from the tfjs model at the start and written back with `saveWeights` (before validation and
 * checkpoints), so evaluation, checkpoints, `--resume` and the saved model stay tfjs's.
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureEncoder } from '../../features/index.js';
import type { EncodedSplit } from '../batches.js';
import { lstmTiling } from '../webgpu-lstm-programs.js';
import { type ModelPlan, type ParamLayout, planModel } from './layout.js';
import {
  FLAT_WORKGROUP,
  GEMM_TILE,
  type GemmSpec,
  MAX_SPLITS,
  PACKED,
  adamShader,
  backwardShader,
  embedShader,
  forwardShader,
  gemmShader,
  headShader,
  scatterShader,
  splitCount,
  splitSumShader,
} from './shaders.js';

/** A named tensor as tfjs optimizers save their state. */
type NamedTensor = { name: string; tensor: tf.Tensor };

const BETA1 = 0.9;
const BETA2 = 0.999;
/** Steps queued on the GPU before the host waits for the oldest. */
const IN_FLIGHT = 3;

interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}
interface Dispatch {
  kernel: Kernel;
  group: GPUBindGroup | (() => GPUBindGroup);
  /** Workgroups along x, y (and z) for this batch. */
  size: (B: number, T: number) => [number, number] | [number, number, number];
}

/** Where a split's steps live on the GPU. */
interface Source {
  cats: GPUBuffer;
  nums: GPUBuffer;
  embed: GPUBindGroup;
  /** Index of each session's first step in the buffers (whole splits only). */
  sessionStart?: Uint32Array;
}

export interface StepOptions {
  learningRate: number;
  /** Loss weight of a positive example relative to a negative one. */
  positiveWeight: number;
  /** Loss weight of a sampled prefix relative to a full sequence. */
  prefixWeight: number;
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

const grid = (workgroups: number): [number, number] => {
  const x = Math.min(workgroups, 65535);
  return [Math.max(1, x), Math.max(1, Math.ceil(workgroups / x))];
};

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
  return undefined;
}

export class WebgpuTrainingStep {
  /** Dispatches in each step (constant for a model). */
  readonly dispatchesPerStep: number;
  /** Dispatches the last step encoded. */
  lastDispatches = 0;
  /** Host time of the last step until it was submitted (writing the batch, encoding), in ms. */
  lastHostMs = 0;
  private readonly buffers: GPUBuffer[] = [];
  private readonly dispatches: Dispatch[] = [];
  private readonly stepUniform: GPUBuffer;
  private readonly rows: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly moments: [GPUBuffer, GPUBuffer];
  private readonly lossBuffer: GPUBuffer;
  /** The head's per-row loss gradients, then its probabilities. */
  private readonly headScratch: GPUBuffer;
  private lastBatchSize = 0;
  private readonly embedKernel: Kernel;
  private readonly embedInputs: { x: GPUBuffer; ids: GPUBuffer };
  private readonly batchSource: Source;
  private readonly sources = new Map<EncodedSplit, Source>();
  private readonly rowData: ArrayBuffer;
  private readonly inFlight: Promise<unknown>[] = [];
  private currentSource: Source;
  private iterations = 0;
  private readonly layout: ParamLayout;

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
    for (const layer of plan.layout.layers) {
      if (lstmTiling(layer.units, device.limits) === null)
        return {
          unsupported: `an LSTM layer of ${layer.units} units does not fit the device's workgroup memory`,
        };
    }
    // A program the device refuses (a limit, a compiler) is reported here, not at the first step.
    device.pushErrorScope('validation');
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const step = new WebgpuTrainingStep(
      device,
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
    private readonly device: GPUDevice,
    private readonly model: tf.LayersModel,
    private readonly plan: ModelPlan,
    private readonly maxBatch: number,
    private readonly maxSteps: number,
    /** A split whose steps take more bytes (ids or numeric features) is not uploaded whole. */
    private readonly uploadLimitBytes: number,
  ) {
    const layout = plan.layout;
    this.layout = layout;
    const NT = maxBatch * maxSteps;
    const storage = (floats: number, extra = 0) =>
      this.buffer(Math.max(16, 4 * floats), GPUBufferUsage.STORAGE | extra);
    const copyable = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.stepUniform = this.buffer(32, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.rows = storage(4 * maxBatch, GPUBufferUsage.COPY_DST);
    this.rowData = new ArrayBuffer(16 * maxBatch);
    this.params = storage(layout.size, copyable);
    this.grads = storage(layout.size, copyable);
    this.moments = [storage(layout.size, copyable), storage(layout.size, copyable)];
    this.lossBuffer = storage(4, copyable);
    this.headScratch = storage(2 * maxBatch, copyable);
    const x0 = storage(NT * layout.inputSize);
    const ids = storage(NT * layout.idCount);

    const common = [this.stepUniform, this.rows];
    /** A program bound to the step's uniform, the rows and `buffers` ('r'ead or 'w'ritten, in binding order). */
    const add = (code: string, accesses: string, buffers: GPUBuffer[], size: Dispatch['size']) => {
      const kernel = this.kernel(code, accesses);
      this.dispatches.push({ kernel, group: this.group(kernel, [...common, ...buffers]), size });
    };

    // 1. the embeddings' gather (its bind group depends on the split's source)
    this.embedKernel = this.kernel(embedShader(layout), 'rrrww');
    this.embedInputs = { x: x0, ids };
    this.batchSource = this.makeSource(
      storage(NT * layout.idCount, GPUBufferUsage.COPY_DST),
      storage(NT * layout.numeric, GPUBufferUsage.COPY_DST),
    );
    this.currentSource = this.batchSource;
    this.dispatches.push({
      kernel: this.embedKernel,
      group: () => this.currentSource.embed,
      size: (B, T) => grid(Math.ceil((B * T) / FLAT_WORKGROUP)),
    });

    const layerBuffers = layout.layers.map((l, i) => {
      const last = i === layout.layers.length - 1;
      return {
        z: storage(NT * 4 * l.units),
        packed: storage(NT * PACKED * l.units),
        hd: l.dropout > 0 ? storage(NT * l.units) : undefined,
        dy: last ? storage(maxBatch * l.units) : storage(NT * l.units),
      };
    });
    // A layer's output: its dropped-out copy, or h in its packed forward results (stride 7u).
    const output = (i: number) => layerBuffers[i]!.hd ?? layerBuffers[i]!.packed;
    const outputStride = (i: number) => (layerBuffers[i]!.hd ? 1 : PACKED) * layout.layers[i]!.units;
    const input = (i: number) => (i === 0 ? x0 : output(i - 1));
    const inputStride = (i: number) => (i === 0 ? layout.inputSize : outputStride(i - 1));
    const gemmSize = (rowsOf: (B: number, T: number) => number, cols: number) => (B: number, T: number) =>
      [Math.ceil(cols / GEMM_TILE), Math.ceil(rowsOf(B, T) / GEMM_TILE)] as [number, number];
    const stepRows = (B: number, T: number) => B * T;
    /** A GEMM's program reading A and Bm, writing C (gemmShader). */
    const gemm = (spec: GemmSpec, buffers: GPUBuffer[], size: Dispatch['size']) =>
      add(gemmShader(spec), `${'r'.repeat(buffers.length - 1)}w`, buffers, size);

    // 2. per layer: z = [x | 1]·[W; b], then the recurrence
    layout.layers.forEach((l, i) => {
      const G = 4 * l.units;
      const IN = l.inputSize;
      const lb = layerBuffers[i]!;
      gemm(
        {
          M: 's.T * s.B',
          K: `${IN + 1}u`,
          N: G,
          a: `if (k < ${IN}u) { return A[i * ${inputStride(i)}u + k]; } return 1.0;`,
          b: `return Bm[${l.kernel}u + k * ${G}u + j];`,
          write: `C[i * ${G}u + j] = v;`,
        },
        [input(i), this.params, lb.z],
        gemmSize(stepRows, G),
      );
      const tiling = lstmTiling(l.units, device.limits)!;
      add(
        forwardShader(i, l.units, l.recurrent, tiling, l.hard, l.dropout),
        lb.hd ? 'rrww' : 'rrw',
        [lb.z, this.params, lb.packed, ...(lb.hd ? [lb.hd] : [])],
        (B) => [Math.ceil(B / tiling.rows), 1],
      );
    });

    // 3. the head and the loss
    const lastIndex = layout.layers.length - 1;
    const lastUnits = layout.layers[lastIndex]!.units;
    add(
      headShader(lastUnits, outputStride(lastIndex), layout.head.weight, layout.head.bias),
      'rrwwww',
      [
        output(lastIndex),
        this.params,
        layerBuffers[lastIndex]!.dy,
        this.grads,
        this.lossBuffer,
        this.headScratch,
      ],
      () => [1, 1],
    );

    // 4. per layer, last first: the backward recurrence, then dW (with the bias), dU and dx
    const partial = storage(
      MAX_SPLITS * Math.max(...layout.layers.map((l) => (l.inputSize + 1 + l.units) * 4 * l.units)),
    );
    const dx0 = layout.tables.length > 0 ? storage(NT * layout.embeddedSize) : undefined;
    for (let i = lastIndex; i >= 0; i--) {
      const l = layout.layers[i]!;
      const G = 4 * l.units;
      const IN = l.inputSize;
      const lb = layerBuffers[i]!;
      const tiling = lstmTiling(l.units, device.limits)!;
      add(
        backwardShader(i, l.units, l.recurrent, tiling, l.hard, l.dropout, i === lastIndex),
        'rrrw',
        [lb.dy, lb.packed, this.params, lb.z],
        (B) => [Math.ceil(B / tiling.rows), 1],
      );
      // The weight gradients [W; b; U] (one block of the layout) = [x | 1 | h₋₁]ᵀ·dz, a reduction over
      // every step and row: split over K, then the partial sums added up.
      const M = IN + 1 + l.units;
      gemm(
        {
          M: `${M}u`,
          K: 's.T * s.B',
          N: G,
          inputs: ['X', 'H', 'Bm'],
          a: `if (i < ${IN}u) { return X[k * ${inputStride(i)}u + i]; }
  if (i == ${IN}u) { return 1.0; }
  if (k >= s.B) { return H[(k - s.B) * ${PACKED * l.units}u + i - ${IN + 1}u]; }
  return 0.0;`,
          b: `return Bm[k * ${G}u + j];`,
          write: `C[(z * ${M}u + i) * ${G}u + j] = v;`,
          splitK: true,
        },
        [input(i), lb.packed, lb.z, partial],
        (B, T) => [Math.ceil(G / GEMM_TILE), Math.ceil(M / GEMM_TILE), splitCount(B * T)],
      );
      add(splitSumShader(M * G, l.kernel), 'rw', [partial, this.grads], () =>
        grid(Math.ceil((M * G) / FLAT_WORKGROUP)),
      );
      // the input's gradient dz·Wᵀ: the layer below's output, or the embedded columns of layer 0's input
      const target = i > 0 ? layerBuffers[i - 1]!.dy : dx0;
      const width = i > 0 ? IN : layout.embeddedSize;
      if (target !== undefined) {
        gemm(
          {
            M: 's.T * s.B',
            K: `${G}u`,
            N: width,
            a: `return A[i * ${G}u + k];`,
            b: `return Bm[${l.kernel}u + j * ${G}u + k];`,
            write: `C[i * ${width}u + j] = v;`,
          },
          [lb.z, this.params, target],
          gemmSize(stepRows, width),
        );
      }
    }

    // 5. the embeddings' gradient, 6. Adam
    if (dx0 !== undefined) {
      add(scatterShader(layout), 'rrw', [dx0, ids, this.grads], (B, T) =>
        grid(Math.ceil((B * T * layout.embeddedSize) / FLAT_WORKGROUP)),
      );
    }
    this.adam = this.kernel(adamShader(layout), 'rwww');
    this.adamGroup = this.group(this.adam, [...common, this.grads, this.params, ...this.moments]);
    this.dispatchesPerStep = this.dispatches.length + 1;
  }

  private readonly adam: Kernel;
  private readonly adamGroup: GPUBindGroup;

  private buffer(size: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ size: Math.ceil(size / 4) * 4, usage });
    this.buffers.push(b);
    return b;
  }

  /**
   * A program whose bindings are the step's uniform (0), the rows (1) and then one storage buffer per
   * letter of `accesses`: r (read) or w (read and written).
   */
  private kernel(code: string, accesses: string): Kernel {
    const types: GPUBufferBindingType[] = [
      'uniform',
      'read-only-storage',
      ...[...accesses].map((a): GPUBufferBindingType => (a === 'w' ? 'storage' : 'read-only-storage')),
    ];
    const layout = this.device.createBindGroupLayout({
      entries: types.map((type, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type },
      })),
    });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.device.createShaderModule({ code }), entryPoint: 'main' },
    });
    return { pipeline, layout };
  }

  private group(kernel: Kernel, buffers: GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: kernel.layout,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  private makeSource(cats: GPUBuffer, nums: GPUBuffer, sessionStart?: Uint32Array): Source {
    const embed = this.group(this.embedKernel, [
      this.stepUniform,
      this.rows,
      cats,
      nums,
      this.params,
      this.embedInputs.x,
      this.embedInputs.ids,
    ]);
    return { cats, nums, embed, ...(sessionStart ? { sessionStart } : {}) };
  }

  /**
   * The split's steps on the GPU, uploaded on first use and kept for the next few splits (a run
   * streaming shards holds a handful at a time); undefined when the split is larger than one buffer
   * may be, and then each batch uploads its own steps.
   */
  private sourceOf(split: EncodedSplit): Source | undefined {
    const known = this.sources.get(split);
    if (known) {
      this.sources.delete(split);
      this.sources.set(split, known);
      return known;
    }
    const { idCount, numeric } = this.layout;
    let total = 0;
    const sessionStart = new Uint32Array(split.steps.length);
    split.steps.forEach((s, i) => {
      sessionStart[i] = total;
      total += s.length;
    });
    if (4 * total * Math.max(idCount, numeric) > this.uploadLimitBytes) return undefined;
    const cats = new Uint32Array(Math.max(4, total * idCount));
    const nums = new Float32Array(Math.max(4, total * numeric));
    split.steps.forEach((s, i) => {
      if (idCount > 0) cats.set(s.categorical.subarray(0, s.length * idCount), sessionStart[i]! * idCount);
      nums.set(s.numeric.subarray(0, s.length * numeric), sessionStart[i]! * numeric);
    });
    const upload = (data: Uint32Array | Float32Array) => {
      const b = this.device.createBuffer({
        size: data.byteLength,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(b, 0, data);
      return b;
    };
    const source = this.makeSource(upload(cats), upload(nums), sessionStart);
    this.sources.set(split, source);
    while (this.sources.size > 8) {
      const [oldest, evicted] = this.sources.entries().next().value as [EncodedSplit, Source];
      this.sources.delete(oldest);
      evicted.cats.destroy();
      evicted.nums.destroy();
    }
    return source;
  }

  /** Writes the batch's rows (and, without a split source, its steps); returns B and T. */
  private writeBatch(split: EncodedSplit, batch: readonly number[], options: StepOptions): [number, number] {
    const B = batch.length;
    if (B > this.maxBatch)
      throw new RangeError(`a batch of ${B} examples exceeds the step's ${this.maxBatch}`);
    const { idCount, numeric } = this.layout;
    const whole = this.sourceOf(split);
    const ints = new Uint32Array(this.rowData, 0, 4 * B);
    const floats = new Float32Array(this.rowData, 0, 4 * B);
    let T = 1;
    let packed = 0;
    const packedCats = whole ? undefined : new Uint32Array(Math.max(4, B * this.maxSteps * idCount));
    const packedNums = whole ? undefined : new Float32Array(Math.max(4, B * this.maxSteps * numeric));
    batch.forEach((ei, b) => {
      const ex = split.examples[ei]!;
      const steps = split.steps[ex.session]!;
      const end = Math.min(ex.length, steps.length);
      const start = Math.max(0, end - this.maxSteps);
      const length = end - start;
      T = Math.max(T, length);
      if (whole) {
        ints[4 * b] = whole.sessionStart![ex.session]! + start;
      } else {
        ints[4 * b] = packed;
        if (idCount > 0)
          packedCats!.set(steps.categorical.subarray(start * idCount, end * idCount), packed * idCount);
        packedNums!.set(steps.numeric.subarray(start * numeric, end * numeric), packed * numeric);
        packed += length;
      }
      ints[4 * b + 1] = length;
      const label = split.labels[ex.session]!;
      floats[4 * b + 2] = label;
      floats[4 * b + 3] = (ex.full ? 1 : options.prefixWeight) * (1 + label * (options.positiveWeight - 1));
    });
    if (!whole) {
      this.device.queue.writeBuffer(this.batchSource.cats, 0, packedCats!, 0, Math.max(4, packed * idCount));
      this.device.queue.writeBuffer(this.batchSource.nums, 0, packedNums!, 0, Math.max(4, packed * numeric));
    }
    this.currentSource = whole ?? this.batchSource;
    this.device.queue.writeBuffer(this.rows, 0, this.rowData, 0, 16 * B);
    return [B, T];
  }

  /** Reads the model's weights into the parameter buffer (Adam's moments: zero, or `loadOptimizerState`). */
  async loadWeights(): Promise<void> {
    const values = new Float32Array(this.layout.size);
    for (const slot of this.plan.slots) {
      const data = await slot.layer.getWeights()[slot.index]!.data();
      if (data.length !== slot.size)
        throw new Error(
          `${slot.layer.name} weight ${slot.index}: ${data.length} values, the plan has ${slot.size}`,
        );
      values.set(data as Float32Array, slot.offset);
    }
    this.device.queue.writeBuffer(this.params, 0, values);
  }

  /** Queues one optimizer step on the batch `batch` of `split`. */
  async step(split: EncodedSplit, batch: readonly number[], options: StepOptions): Promise<void> {
    if (batch.length === 0) return;
    const started = performance.now();
    const [B, T] = this.writeBatch(split, batch, options);
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
    this.device.queue.writeBuffer(this.stepUniform, 0, uniform);
    const encoder = this.device.createCommandEncoder();
    if (this.layout.tablesEnd > 0) encoder.clearBuffer(this.grads, 0, 4 * this.layout.tablesEnd);
    const pass = encoder.beginComputePass();
    this.lastDispatches = 0;
    for (const d of this.dispatches) {
      this.lastDispatches++;
      pass.setPipeline(d.kernel.pipeline);
      pass.setBindGroup(0, typeof d.group === 'function' ? d.group() : d.group);
      const [x, y, z] = d.size(B, T);
      pass.dispatchWorkgroups(x, y, z ?? 1);
    }
    if (apply) {
      pass.setPipeline(this.adam.pipeline);
      pass.setBindGroup(0, this.adamGroup);
      const [x, y] = grid(Math.ceil(this.layout.size / FLAT_WORKGROUP));
      pass.dispatchWorkgroups(x, y);
      this.lastDispatches++;
      this.iterations = t;
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.lastHostMs = performance.now() - started;
    this.inFlight.push(this.device.queue.onSubmittedWorkDone());
    if (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
  }

  private async read(buffer: GPUBuffer, floats: number): Promise<Float32Array> {
    const staging = this.device.createBuffer({
      size: 4 * floats,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, staging, 0, 4 * floats);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const values = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return values;
  }

  /** The summed loss terms of the steps since the last call (their weighted losses × batch sizes). */
  async takeLoss(): Promise<number> {
    const [sum] = await this.read(this.lossBuffer, 1);
    this.device.queue.writeBuffer(this.lossBuffer, 0, new Float32Array(4));
    return sum!;
  }

  /** The last step's predicted probabilities, one per row of its batch. */
  async lastPredictions(): Promise<Float32Array> {
    const both = await this.read(this.headScratch, 2 * this.lastBatchSize);
    return both.slice(this.lastBatchSize);
  }

  /** The last step's mean loss. */
  async lastLoss(): Promise<number> {
    return (await this.read(this.lossBuffer, 2))[1]!;
  }

  /** The last step's gradients, per weight slot in model weight terms: `${layer}/${index}` → values. */
  async gradients(): Promise<Map<string, Float32Array>> {
    return this.slotsOf(await this.read(this.grads, this.layout.size));
  }

  private slotsOf(values: Float32Array): Map<string, Float32Array> {
    return new Map(
      this.plan.slots.map((s) => [`${s.layer.name}/${s.index}`, values.slice(s.offset, s.offset + s.size)]),
    );
  }

  /** Writes the trained weights back into the tfjs model. */
  async saveWeights(): Promise<void> {
    const values = await this.read(this.params, this.layout.size);
    const byLayer = new Map<tf.layers.Layer, tf.Tensor[]>();
    for (const slot of this.plan.slots) {
      const current = byLayer.get(slot.layer) ?? slot.layer.getWeights();
      const replaced = [...current];
      replaced[slot.index] = tf.tensor(
        values.subarray(slot.offset, slot.offset + slot.size),
        current[slot.index]!.shape,
      );
      byLayer.set(slot.layer, replaced);
    }
    for (const [layer, weights] of byLayer) {
      const own = layer.getWeights();
      layer.setWeights(weights);
      for (const w of weights) if (!own.includes(w)) w.dispose();
    }
  }

  /** Adam's state as tfjs's AdamOptimizer saves it: iter, then `name/m` and `name/v` in trainable-weight order. */
  async optimizerState(): Promise<NamedTensor[]> {
    const [m, v] = [
      await this.read(this.moments[0], this.layout.size),
      await this.read(this.moments[1], this.layout.size),
    ];
    const ordered = this.trainableSlots();
    const moment = (values: Float32Array, suffix: string) =>
      ordered.map(({ name, slot, shape }) => ({
        name: `${name}/${suffix}`,
        tensor: tf.tensor(values.slice(slot.offset, slot.offset + slot.size), shape),
      }));
    return [
      { name: 'iter', tensor: tf.scalar(this.iterations, 'int32') },
      ...moment(m, 'm'),
      ...moment(v, 'v'),
    ];
  }

  /** Restores Adam's state saved by `optimizerState` or by tfjs's Adam (same layout). */
  async loadOptimizerState(saved: readonly NamedTensor[]): Promise<void> {
    const iter = saved.find((w) => w.name === 'iter');
    const rest = saved.filter((w) => w.name !== 'iter');
    const ordered = this.trainableSlots();
    if (iter === undefined || rest.length !== 2 * ordered.length)
      throw new Error(`optimizer state has ${rest.length} moments, the model ${2 * ordered.length}`);
    this.iterations = (await iter.tensor.data())[0]!;
    for (const [which, buffer] of this.moments.entries()) {
      const values = new Float32Array(this.layout.size);
      for (const [k, { slot }] of ordered.entries()) {
        const data = await rest[which * ordered.length + k]!.tensor.data();
        if (data.length !== slot.size)
          throw new Error(
            `optimizer state ${rest[which * ordered.length + k]!.name}: size ${data.length}, expected ${slot.size}`,
          );
        values.set(data as Float32Array, slot.offset);
      }
      this.device.queue.writeBuffer(buffer, 0, values);
    }
  }

  private trainableSlots() {
    return this.model.trainableWeights.map((w) => {
      const slot = this.plan.slots.find((s) => s.layer.weights[s.index] === w);
      if (slot === undefined) throw new Error(`trainable weight ${w.name} has no place in the step's layout`);
      return { name: w.name, slot, shape: w.shape as number[] };
    });
  }

  /** Waits for the queued steps. */
  async flush(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
  }

  dispose(): void {
    for (const b of this.buffers) b.destroy();
    for (const s of this.sources.values()) {
      s.cats.destroy();
      s.nums.destroy();
    }
    this.sources.clear();
  }
}

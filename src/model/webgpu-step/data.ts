/// <reference types="@webgpu/types" />
/**
 * The training step's view of the data: a split's encoded steps uploaded once (the ids and numeric
 * features of every session, end to end) and, per batch, one row each: where its steps start, how
 * many there are (the rest of the batch's length is padding), its label and loss weight. A split too
 * large for one storage binding is not uploaded; its batches then write their own steps.
 */
import { type EncodedSplit, exampleWindow } from '../batches.js';
import type { GpuKit } from './gpu.js';
import type { ParamLayout } from './layout.js';

/** Splits whose steps stay on the GPU (a run streaming shards holds a handful at a time). */
const KEPT_SPLITS = 8;

/** Where a split's (or a batch's) steps live on the GPU, and the gather's bind group reading them. */
interface Source {
  cats: GPUBuffer;
  nums: GPUBuffer;
  gather: GPUBindGroup;
  /** Index of each session's first step (whole splits). */
  sessionStart?: Uint32Array;
}

export interface BatchWeights {
  /** Loss weight of a positive example relative to a negative one. */
  positiveWeight: number;
  /** Loss weight of a sampled prefix relative to a full sequence. */
  prefixWeight: number;
}

export class StepData {
  /** The gather's bind group for the last batch written. */
  gather: GPUBindGroup;
  private readonly sources = new Map<EncodedSplit, Source>();
  private readonly batchSource: Source;
  private readonly rowData: ArrayBuffer;

  /**
   * `gatherGroup` binds a source's id and feature buffers for the gather program; `rows` receives a
   * batch's rows; a split over `uploadLimitBytes` (ids or numeric features) is not uploaded whole.
   */
  constructor(
    private readonly kit: GpuKit,
    private readonly layout: ParamLayout,
    private readonly rows: GPUBuffer,
    private readonly maxBatch: number,
    private readonly maxSteps: number,
    private readonly uploadLimitBytes: number,
    private readonly gatherGroup: (cats: GPUBuffer, nums: GPUBuffer) => GPUBindGroup,
  ) {
    const steps = maxBatch * maxSteps;
    const cats = kit.storage(steps * layout.idCount, GPUBufferUsage.COPY_DST);
    const nums = kit.storage(steps * layout.numeric, GPUBufferUsage.COPY_DST);
    this.batchSource = { cats, nums, gather: gatherGroup(cats, nums) };
    this.gather = this.batchSource.gather;
    this.rowData = new ArrayBuffer(16 * maxBatch);
  }

  /** Writes the rows of batch `batch` of `split` (and, without a split source, its steps); returns B and T. */
  writeBatch(split: EncodedSplit, batch: readonly number[], weights: BatchWeights): [number, number] {
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
      const { start, end } = exampleWindow(split, ex, this.maxSteps);
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
      floats[4 * b + 3] = (ex.full ? 1 : weights.prefixWeight) * (1 + label * (weights.positiveWeight - 1));
    });
    const queue = this.kit.device.queue;
    if (!whole) {
      queue.writeBuffer(this.batchSource.cats, 0, packedCats!, 0, Math.max(4, packed * idCount));
      queue.writeBuffer(this.batchSource.nums, 0, packedNums!, 0, Math.max(4, packed * numeric));
    }
    this.gather = (whole ?? this.batchSource).gather;
    queue.writeBuffer(this.rows, 0, this.rowData, 0, 16 * B);
    return [B, T];
  }

  /** The split's steps on the GPU, uploaded on first use; undefined when over the upload limit. */
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
      const b = this.kit.device.createBuffer({
        size: data.byteLength,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      this.kit.device.queue.writeBuffer(b, 0, data);
      return b;
    };
    const [catsBuffer, numsBuffer] = [upload(cats), upload(nums)];
    const source = {
      cats: catsBuffer,
      nums: numsBuffer,
      gather: this.gatherGroup(catsBuffer, numsBuffer),
      sessionStart,
    };
    this.sources.set(split, source);
    while (this.sources.size > KEPT_SPLITS) {
      const [oldest, evicted] = this.sources.entries().next().value as [EncodedSplit, Source];
      this.sources.delete(oldest);
      evicted.cats.destroy();
      evicted.nums.destroy();
    }
    return source;
  }

  /** Destroys the uploaded splits (the kit owns the rest). */
  dispose(): void {
    for (const s of this.sources.values()) {
      s.cats.destroy();
      s.nums.destroy();
    }
    this.sources.clear();
  }
}

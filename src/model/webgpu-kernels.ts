/**
 * Fixes to the tfjs webgpu backend (4.22), registered over it when webgpu is chosen.
 *
 * - Transpose that keeps the elements' order (an identity permutation, or one that moves only axes
 *   of length one): a reshape sharing the buffer, not a copy (transposeKeepsOrder).
 * - UnsortedSegmentSum (the Gather gradient, i.e. every embedding table's) of float32 data: one
 *   scatter-add program into a zero-filled output instead of a transpose each way around tfjs's.
 * - Transpose of an int32 or bool buffer (other than a 2-D swap): the stock shader passes the i32 it
 *   reads to setOutputAtIndex, which takes an f32; current Tint rejects that (tensorflow/tfjs#8638),
 *   the pipeline is invalid, and the whole command buffer it was batched into is dropped, so the
 *   results of other ops are lost too. A masked LSTM hits it every step: tfjs-layers casts the bool
 *   mask to float32 (on webgpu the buffer stays bool) and transposes it to time-major. The buffer's
 *   dtype decides, not the tensor's. This program is the stock one writing through
 *   setOutputAtIndexI32, exact for every int32.
 */
import * as tf from '@tensorflow/tfjs';
import { VendorShimError } from '../vendor-shims/check.js';
import { checkLiveWebgpuBackend, webgpuBackend } from '../vendor-shims/tfjs-backend-webgpu.js';
import { type KernelArgs, registeredKernel, replaceKernel } from '../vendor-shims/tfjs-core.js';
import { installWebgpuAdam } from './webgpu-adam.js';
import { installWebgpuLstm } from './webgpu-lstm.js';
import { installWebgpuLogLoss } from './weighted-log-loss.js';

const COORDS = ['x', 'y', 'z', 'w', 'u', 'v'];
const coordsType = (rank: number) => (rank <= 4 ? `vec${rank}<i32>` : `vec${rank}`);

/** The stock TransposeProgram (transpose_webgpu.ts) writing through setOutputAtIndexI32. */
class IntTransposeProgram {
  readonly variableNames = ['A'];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    shape: readonly number[],
    private readonly perm: readonly number[],
  ) {
    this.outputShape = perm.map((p) => shape[p]!);
    this.dispatchLayout = { x: this.outputShape.map((_, i) => i) };
    const size = this.outputShape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
    this.shaderKey = `int_transpose_${perm.join(',')}`;
  }

  getUserCode(): string {
    const rank = this.outputShape.length;
    const switched: string[] = [];
    this.perm.forEach((p, i) => {
      switched[p] = `coords.${COORDS[i]}`;
    });
    return `
      fn main(index : i32) {
        let flatIndex = index;
        if (flatIndex < uniforms.size) {
          let coords = getCoordsFromIndex(flatIndex);
          setOutputAtIndexI32(flatIndex, A[getIndexFromCoords${rank}D(
            ${coordsType(rank)}(${switched.join(',')}), uniforms.aShape)]);
        }
      }
    `;
  }
}

/**
 * Whether transposing `shape` by `perm` leaves the elements in the same order (the axes longer than
 * one keep their order): then it is a reshape, which shares the buffer instead of dispatching a
 * copy. tfjs's Gather gradient transposes by the identity twice per embedding table.
 */
export function transposeKeepsOrder(shape: readonly number[], perm: readonly number[]): boolean {
  const moved = perm.filter((axis) => shape[axis]! > 1);
  return moved.every((axis, i) => i === 0 || moved[i - 1]! < axis);
}

/**
 * x [N, …] summed by row into [numSegments, …] at the rows segmentIds [N] name (ids outside
 * [0, numSegments) dropped), by atomic float adds (a compare-exchange loop) into a zero-filled output:
 * what tfjs's UnsortedSegmentSum does for the Gather gradient, without transposing x there and the
 * result back.
 */
class RowSegmentSumProgram {
  readonly variableNames = ['x', 'segmentIds'];
  readonly uniforms = 'numSegments : i32, rowSize : i32, xSize : i32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly atomic = true;
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0, 1] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'intentstream_row_segment_sum';

  constructor(xSize: number, numSegments: number, rowSize: number) {
    this.outputShape = [numSegments, rowSize];
    this.dispatch = [Math.ceil(xSize / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.xSize) {
          let segment = i32(segmentIds[index / uniforms.rowSize]);
          if (segment >= 0 && segment < uniforms.numSegments) {
            let value = x[index];
            let at = segment * uniforms.rowSize + index % uniforms.rowSize;
            var old = atomicLoad(&result[at]);
            loop {
              let swap = atomicCompareExchangeWeak(&result[at], old, bitcast<i32>(bitcast<f32>(old) + value));
              if (swap.exchanged) { break; }
              old = swap.old_value;
            }
          }
        }
      }
    `;
  }
}

/** UnsortedSegmentSum of float32 data: a fill and one RowSegmentSumProgram; the rest to the stock kernel. */
function rowSegmentSum(stock: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) {
  return (args: KernelArgs) => {
    const { x, segmentIds } = args.inputs as Record<string, tf.TensorInfo>;
    const numSegments = args.attrs['numSegments'] as number;
    const backend = webgpuBackend(args.backend);
    const size = tf.util.sizeFromShape(x!.shape);
    if (
      x!.dtype !== 'float32' ||
      backend.bufferDtype(x!.dataId) !== 'float32' ||
      x!.shape.length < 1 ||
      size === 0 ||
      backend.shouldExecuteOnCPU([x!, segmentIds!])
    )
      return stock(args);
    const rowSize = size / x!.shape[0]!;
    const zeros = registeredKernel('Fill', 'webgpu')!({
      inputs: {},
      backend: args.backend,
      attrs: { shape: [numSegments, rowSize], value: 0, dtype: 'float32' },
    });
    const sums = backend.runWebGPUProgram(
      new RowSegmentSumProgram(size, numSegments, rowSize),
      [x!, segmentIds!],
      'float32',
      [
        { type: 'int32', data: [numSegments] },
        { type: 'int32', data: [rowSize] },
        { type: 'int32', data: [size] },
      ],
      zeros,
    );
    return { ...sums, shape: [numSegments, ...x!.shape.slice(1)] };
  };
}

let installed = false;

/**
 * Registers the kernels above, the fused LSTM's recurrence kernels (model/webgpu-lstm.ts), the fused
 * Adam step (model/webgpu-adam.ts) and the training loss (model/weighted-log-loss.ts) for the webgpu
 * backend (once per process), after it started.
 */
export function installWebgpuKernels(): void {
  if (installed) return;
  if (tf.getKernel('Transpose', 'webgpu') === undefined) return;
  const problems = checkLiveWebgpuBackend(tf.backend());
  if (problems.length > 0) throw new VendorShimError(problems);
  installed = true;
  installWebgpuLstm(tf.backend());
  installWebgpuAdam();
  installWebgpuLogLoss();
  replaceKernel('UnsortedSegmentSum', 'webgpu', rowSegmentSum);
  replaceKernel('Transpose', 'webgpu', (stock) => (args: KernelArgs) => {
    const x = args.inputs['x']!;
    const perm = args.attrs['perm'] as number[];
    if (transposeKeepsOrder(x.shape, perm)) {
      const shape = perm.map((axis) => x.shape[axis]!);
      return registeredKernel('Reshape', 'webgpu')!({
        inputs: { x },
        backend: args.backend,
        attrs: { shape },
      });
    }
    const rank = x.shape.length;
    const backend = webgpuBackend(args.backend);
    const buffer = backend.bufferDtype(x.dataId) ?? x.dtype;
    if (
      (buffer !== 'int32' && buffer !== 'bool') ||
      rank < 2 ||
      (rank === 2 && perm[0] === 1) || // the stock 2-D program reads through f32() and is fine
      rank > COORDS.length ||
      backend.shouldExecuteOnCPU([x])
    ) {
      return stock(args);
    }
    // The output keeps the tensor's dtype; setOutputAtIndexI32 converts to it where they differ.
    return backend.runWebGPUProgram(new IntTransposeProgram(x.shape, perm), [x], x.dtype);
  });
}

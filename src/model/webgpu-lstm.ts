/**
 * The fused LSTM's recurrence kernels (FORWARD_KERNEL, BACKWARD_KERNEL of model/fused-lstm.ts) for
 * the webgpu backend: each direction is ONE dispatch with the time loop inside (the WGSL programs
 * of webgpu-lstm-programs.ts), run through the backend's own program runner, so weights, optimizer
 * and checkpoints stay tfjs's and the number of dispatches per batch does not grow with the
 * sequence length. Tile sizes come from the device's limits, so the same code runs on SwiftShader
 * and on a datacenter GPU; layer sizes whose tile does not fit fall back to the op's tfjs-ops path
 * (setRecurrenceKernelFit).
 *
 * The backward kernel writes the pre-activation gradient dZ [T, B, 4U]; the weight gradients are
 * reductions over all steps and rows, i.e. a constant number of GEMMs through the backend's own
 * kernels: dKernel = xᵀ·dZ, dRecurrentKernel = h₋₁ᵀ·dZ, dBias = Σ dZ, dX = dZ·W.
 */
import type * as tf from '@tensorflow/tfjs';
import { type WebgpuBackend, webgpuBackend } from '../vendor-shims/tfjs-backend-webgpu.js';
import { type KernelArgs, registerRawKernel, registeredKernel } from '../vendor-shims/tfjs-core.js';
import { BACKWARD_KERNEL, FORWARD_KERNEL, setRecurrenceKernelFit } from './fused-lstm.js';
import { BackwardProgram, ForwardProgram, type LstmTiling, lstmTiling } from './webgpu-lstm-programs.js';

// Kernel functions: the programs plus a constant number of the backend's own kernels.

/** The backend's own kernels, called directly as tfjs's kernels call each other. */
function ops(args: KernelArgs) {
  const backend = webgpuBackend(args.backend);
  const call = (name: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => {
    const kernel = registeredKernel(name, 'webgpu');
    if (kernel === undefined) throw new Error(`the webgpu backend has no ${name} kernel`);
    return kernel({ inputs, backend: args.backend, attrs });
  };
  return {
    backend,
    slice: (x: tf.TensorInfo, begin: number[], size: number[]) => call('Slice', { x }, { begin, size }),
    reshape: (x: tf.TensorInfo, shape: number[]) => call('Reshape', { x }, { shape }),
    matMul: (a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean) =>
      call('BatchMatMul', { a, b }, { transposeA, transposeB: false }),
    sumRows: (x: tf.TensorInfo) => call('Sum', { x }, { axis: [0], keepDims: false }),
    zeros: (shape: number[]) => call('Fill', {}, { shape, value: 0, dtype: 'float32' }),
    free: (...infos: tf.TensorInfo[]) => {
      for (const info of infos) backend.disposeData(info.dataId);
    },
  };
}

function tilingFor(backend: WebgpuBackend, units: number): LstmTiling {
  const tiling = lstmTiling(units, backend.limits());
  // The op checks the fit first (setRecurrenceKernelFit below); reaching here without one is a bug.
  if (tiling === null) throw new Error(`no LSTM tile of ${units} units fits this GPU's workgroup memory`);
  return tiling;
}

/** inputs xw [T, B, 4U], mask [T, B], u [U, 4U]; attr hard → [hs, cs, tc, gates], time-major. */
function forwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const o = ops(args);
  const xw = args.inputs['xw']!;
  const [T, B, G] = xw.shape as [number, number, number];
  const U = G / 4;
  const program = new ForwardProgram(T, B, U, tilingFor(o.backend, U), args.attrs['hard'] === true);
  const packed = o.backend.runWebGPUProgram(
    program,
    [xw, args.inputs['mask']!, args.inputs['u']!],
    'float32',
  );
  const part = (from: number, width: number) => o.slice(packed, [0, 0, from * U], [T, B, width * U]);
  const outputs = [part(0, 1), part(1, 1), part(2, 1), part(3, 4)];
  o.free(packed);
  return outputs;
}

/**
 * inputs dy, gates, cs, tc, hs, mask, x [T, B, F], ut [4U, U], wt [4U, F]; attrs hard, lastOnly,
 * inputGrad → [dKernel [F, 4U], dRecurrentKernel [U, 4U], dBias [4U], (dX [T, B, F])].
 */
function backwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const o = ops(args);
  const { inputs, attrs } = args;
  const gates = inputs['gates']!;
  const [T, B, G] = gates.shape as [number, number, number];
  const U = G / 4;
  const x = inputs['x']!;
  const F = x.shape[2]!;
  const program = new BackwardProgram(
    T,
    B,
    U,
    tilingFor(o.backend, U),
    attrs['hard'] === true,
    attrs['lastOnly'] === true,
  );
  const dZ3 = o.backend.runWebGPUProgram(
    program,
    [inputs['dy']!, gates, inputs['cs']!, inputs['tc']!, inputs['mask']!, inputs['ut']!],
    'float32',
  );
  const dZ = o.reshape(dZ3, [T * B, G]);
  const x2 = o.reshape(x, [T * B, F]);
  const dKernel = o.matMul(x2, dZ, true);
  let dRecurrent: tf.TensorInfo;
  if (T > 1) {
    // Σₜ hₜ₋₁ᵀ·dZₜ over t ≥ 1 (h before step 0 is zero).
    const hPrev3 = o.slice(inputs['hs']!, [0, 0, 0], [T - 1, B, U]);
    const dZTail3 = o.slice(dZ3, [1, 0, 0], [T - 1, B, G]);
    const hPrev = o.reshape(hPrev3, [(T - 1) * B, U]);
    const dZTail = o.reshape(dZTail3, [(T - 1) * B, G]);
    dRecurrent = o.matMul(hPrev, dZTail, true);
    o.free(hPrev3, dZTail3, hPrev, dZTail);
  } else {
    dRecurrent = o.zeros([U, G]);
  }
  const dBias = o.sumRows(dZ);
  const outputs = [dKernel, dRecurrent, dBias];
  if (attrs['inputGrad'] === true) {
    const dX = o.matMul(dZ, inputs['wt']!, false);
    outputs.push(o.reshape(dX, [T, B, F]));
    o.free(dX);
  }
  o.free(dZ3, dZ, x2);
  return outputs;
}

let installed = false;

/** Registers the kernels above for the live webgpu backend (once per process). */
export function installWebgpuLstm(backend: unknown): void {
  if (installed) return;
  installed = true;
  const limits = webgpuBackend(backend).limits();
  setRecurrenceKernelFit('webgpu', (units) => lstmTiling(units, limits) !== null);
  registerRawKernel(FORWARD_KERNEL, 'webgpu', forwardKernel);
  registerRawKernel(BACKWARD_KERNEL, 'webgpu', backwardKernel);
}

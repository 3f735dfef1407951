/**
 * tfjs-backend-webgpu internals (4.22): the dtype of a tensor's GPU buffer (which can differ from the
 * tensor's), its CPU-forwarding test, its program runner, intermediate disposal and the device's compute limits,
 * for the kernels in model/webgpu-kernels.ts and model/webgpu-lstm.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import { type ShimProblem, missingFunctions } from './problems.js';

/** The webgpu backend as the kernel fixes use it. */
export interface WebgpuBackend {
  /** The dtype of the GPU buffer behind `dataId` (int32 under a float32 tensor, say), if it has one. */
  bufferDtype(dataId: tf.DataId): tf.DataType | undefined;
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
  /** `uniforms`: the values of the program's own `uniforms` declaration, in its order. */
  runWebGPUProgram: RunProgram;
  /** Drops one reference to an intermediate result (what tfjs's own kernels do with theirs). */
  disposeData(dataId: tf.DataId): void;
  /** The device's compute limits (the backend requests the adapter's own). */
  limits(): ComputeLimits;
}

/** `output`: write into this (e.g. zero-filled) buffer instead of a fresh one. */
type RunProgram = (
  program: object,
  inputs: tf.TensorInfo[],
  dtype: tf.DataType,
  uniforms?: ProgramUniform[],
  output?: tf.TensorInfo,
) => tf.TensorInfo;

export interface ProgramUniform {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

export interface ComputeLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
}

interface WebGPUBackendInternals {
  device: { limits: ComputeLimits };
  disposeData(dataId: tf.DataId): boolean;
  tensorMap: { get(dataId: tf.DataId): { dtype: tf.DataType } | undefined };
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
  runWebGPUProgram: RunProgram;
}

const METHODS = ['shouldExecuteOnCPU', 'runWebGPUProgram', 'disposeData'] as const;

/** `backend` (a kernel's backend argument) as a WebgpuBackend. */
export function webgpuBackend(backend: unknown): WebgpuBackend {
  const b = backend as WebGPUBackendInternals;
  return {
    bufferDtype: (dataId) => b.tensorMap.get(dataId)?.dtype,
    shouldExecuteOnCPU: (inputs) => b.shouldExecuteOnCPU(inputs),
    runWebGPUProgram: (program, inputs, dtype, uniforms, output) =>
      b.runWebGPUProgram(program, inputs, dtype, uniforms, output),
    disposeData: (dataId) => void b.disposeData(dataId),
    limits: () => b.device.limits,
  };
}

/**
 * The methods above on `prototype` (WebGPUBackend.prototype by default; loading the package needs no GPU).
 * `tensorMap` is an instance field: the kernel fix checks it on the live backend at install.
 */
export async function checkWebgpuBackendInternals(prototype?: unknown): Promise<ShimProblem[]> {
  let proto = prototype;
  if (proto === undefined) {
    const webgpu = (await import('@tensorflow/tfjs-backend-webgpu')) as {
      WebGPUBackend?: { prototype: unknown };
    };
    proto = webgpu.WebGPUBackend?.prototype;
  }
  return missingFunctions('@tensorflow/tfjs-backend-webgpu', 'WebGPUBackend.prototype', proto, METHODS);
}

/**
 * The live backend: the methods above, and `tensorMap` and `device.limits` (instance fields, so not
 * on the prototype). Fatal problems when missing.
 */
export function checkLiveWebgpuBackend(backend: unknown): ShimProblem[] {
  const pkg = '@tensorflow/tfjs-backend-webgpu';
  const live = backend as { tensorMap?: unknown; device?: { limits?: unknown } } | null;
  const problems = [
    ...missingFunctions(pkg, 'WebGPUBackend', live, METHODS),
    ...missingFunctions(pkg, 'WebGPUBackend.tensorMap', live?.tensorMap, ['get']),
  ];
  if (
    typeof (live?.device?.limits as ComputeLimits | undefined)?.maxComputeWorkgroupStorageSize !== 'number'
  ) {
    problems.push({
      package: pkg,
      internal: 'WebGPUBackend.device.limits',
      severity: 'fatal',
      message: `${pkg}: the backend no longer keeps its GPUDevice in a device field, so the fused LSTM kernels cannot size their tiles; the installed tfjs is not the version src/vendor-shims/tfjs-backend-webgpu.ts was written for`,
    });
  }
  return problems;
}

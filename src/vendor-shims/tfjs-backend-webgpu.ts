/**
 * tfjs-backend-webgpu internals (4.22): the dtype of a tensor's GPU buffer (which can differ from the
 * tensor's), its CPU-forwarding test and its program runner, for the Transpose fix in
 * model/webgpu-kernels.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import { type ShimProblem, missingFunctions } from './problems.js';

/** The webgpu backend as the kernel fixes use it. */
export interface WebgpuBackend {
  /** The dtype of the GPU buffer behind `dataId` (int32 under a float32 tensor, say), if it has one. */
  bufferDtype(dataId: tf.DataId): tf.DataType | undefined;
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

interface WebGPUBackendInternals {
  tensorMap: { get(dataId: tf.DataId): { dtype: tf.DataType } | undefined };
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

const METHODS = ['shouldExecuteOnCPU', 'runWebGPUProgram'] as const;

/** `backend` (a kernel's backend argument) as a WebgpuBackend. */
export function webgpuBackend(backend: unknown): WebgpuBackend {
  const b = backend as WebGPUBackendInternals;
  return {
    bufferDtype: (dataId) => b.tensorMap.get(dataId)?.dtype,
    shouldExecuteOnCPU: (inputs) => b.shouldExecuteOnCPU(inputs),
    runWebGPUProgram: (program, inputs, dtype) => b.runWebGPUProgram(program, inputs, dtype),
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

/** The live backend's `tensorMap` (an instance field, so not on the prototype): fatal problems when missing. */
export function checkWebgpuTensorMap(backend: unknown): ShimProblem[] {
  const map = (backend as { tensorMap?: unknown } | null)?.tensorMap;
  return missingFunctions('@tensorflow/tfjs-backend-webgpu', 'WebGPUBackend.tensorMap', map, ['get']);
}

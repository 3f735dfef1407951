/**
 * tfjs-backend-cpu internals (4.22): tensor allocation, the values behind a data id, and disposal of an
 * intermediate, for the fused LSTM op's host kernel on the cpu backend (model/fused-lstm.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { type ShimProblem, missingFunctions } from './problems.js';

export interface CpuBackend {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  /** The values behind `info` (shared, not copied). */
  values(info: tf.TensorInfo): Float32Array;
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void;
}

interface MathBackendCPU {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  data: { get(dataId: tf.DataId): { values: Float32Array } };
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void;
}

/** `backend` (a kernel's backend argument on cpu) as a CpuBackend. */
export function cpuBackend(backend: unknown): CpuBackend {
  const cpu = backend as MathBackendCPU;
  return {
    makeTensorInfo: (shape, dtype, values) => cpu.makeTensorInfo(shape, dtype, values),
    values: (info) => cpu.data.get(info.dataId).values,
    disposeIntermediateTensorInfo: (info) => cpu.disposeIntermediateTensorInfo(info),
  };
}

/**
 * The methods above on `prototype` (MathBackendCPU.prototype of the installed package by default: the
 * class, not an instance, so the check does not start a backend). `data` is an instance field, read
 * through `values` on first use.
 */
export async function checkCpuBackendInternals(prototype?: unknown): Promise<ShimProblem[]> {
  let proto = prototype;
  if (proto === undefined) {
    const cpu = (await import('@tensorflow/tfjs-backend-cpu')) as { MathBackendCPU?: { prototype: unknown } };
    proto = cpu.MathBackendCPU?.prototype;
  }
  return missingFunctions('@tensorflow/tfjs-backend-cpu', 'MathBackendCPU.prototype', proto, [
    'makeTensorInfo',
    'disposeIntermediateTensorInfo',
  ]);
}

/**
 * tfjs-backend-wasm internals (4.22): its backend's output allocation, its view of a tensor's values on
 * the wasm heap (no copy) and its disposal, for kernels written against the heap (model/wasm-kernels.ts,
 * model/fused-lstm.ts) and the scorer's zero-copy read of a product (scoring/lstm-kernel.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { type ShimProblem, missingFunctions } from './problems.js';

/** The wasm backend as these kernels use it. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A view of the values on the heap: valid until the heap grows (the next allocation or op). */
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId): boolean;
}

const METHODS = ['makeOutput', 'typedArrayFromHeap', 'disposeData'] as const;

/** `backend` (a kernel's backend argument, or tf.backend() on wasm) as a WasmBackend. */
export function wasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** The float32 values of `tensor` on the active wasm backend's heap, without a copy (see WasmBackend). */
export function wasmHeapView(tensor: tf.TensorInfo): Float32Array {
  return wasmBackend(tf.backend()).typedArrayFromHeap(tensor) as Float32Array;
}

/** The backend methods above on `prototype` (BackendWasm.prototype of the installed package by default). */
export async function checkWasmBackendInternals(prototype?: unknown): Promise<ShimProblem[]> {
  let proto = prototype;
  if (proto === undefined) {
    const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { BackendWasm?: { prototype: unknown } };
    proto = wasm.BackendWasm?.prototype;
  }
  return missingFunctions('@tensorflow/tfjs-backend-wasm', 'BackendWasm.prototype', proto, METHODS);
}

/**
 * Kernels the tfjs wasm backend (4.22) lacks or runs slowly, registered over it when wasm is chosen.
 *
 * - UnsortedSegmentSum is not registered for wasm at all, and it is the gradient of Gather, so an
 *   Embedding layer cannot train on wasm without it. Here it is a plain loop over the wasm heap.
 * - BatchMatMul with a transposed operand (every backward pass of a dense or recurrent layer) runs
 *   ~10x slower in the wasm kernel than the plain product; an explicit Transpose followed by the
 *   plain product gives the same results (to float rounding; tested against the cpu backend) and
 *   sped tfjs-layers LSTM training up 2.3x here (16.7K → 38.6K time steps/s, docs/trainer.md).
 */
import * as tf from '@tensorflow/tfjs';
import { type WasmBackend, wasmBackend } from '../vendor-shims/tfjs-backend-wasm.js';
import {
  type KernelArgs as RawKernelArgs,
  registerRawKernel,
  registeredKernel,
  replaceKernel,
} from '../vendor-shims/tfjs-core.js';

type KernelArgs = RawKernelArgs<unknown>;

let installed = false;

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const x = inputs['x']!;
  const segmentIds = inputs['segmentIds']!;
  const heap = wasmBackend(backend);
  const numSegments = attrs['numSegments'] as number;
  const idCount = segmentIds.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(segmentIds.shape.length);
  const innerSize = inner.reduce((a, b) => a * b, 1);
  // makeOutput may grow the wasm memory, which detaches earlier views: make it first.
  const out = heap.makeOutput([numSegments, ...inner], x.dtype);
  const outValues = heap.typedArrayFromHeap(out);
  const values = heap.typedArrayFromHeap(x);
  const ids = heap.typedArrayFromHeap(segmentIds);
  outValues.fill(0);
  for (let i = 0; i < idCount; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= numSegments) continue;
    const from = i * innerSize;
    const to = id * innerSize;
    for (let k = 0; k < innerSize; k++)
      outValues[to + k] = (outValues[to + k] ?? 0) + (values[from + k] ?? 0);
  }
  return out;
}

/**
 * Registers the kernels above for the wasm backend (once per process). `fastMatMul` also replaces
 * BatchMatMul; call after `tf.setBackend('wasm')` resolved.
 */
export function installWasmKernels(options: { fastMatMul: boolean }): void {
  if (installed) return;
  installed = true;
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') === undefined) {
    registerRawKernel('UnsortedSegmentSum', 'wasm', unsortedSegmentSum);
  }
  if (!options.fastMatMul) return;
  const transposeFunc = registeredKernel('Transpose', 'wasm');
  if (transposeFunc === undefined) return;
  const swapLastTwo = (x: tf.TensorInfo, backend: unknown) => {
    const rank = x.shape.length;
    const perm = Array.from({ length: rank }, (_, i) => i);
    perm[rank - 1] = rank - 2;
    perm[rank - 2] = rank - 1;
    return transposeFunc({ inputs: { x }, backend, attrs: { perm } });
  };
  replaceKernel('BatchMatMul', 'wasm', (plain) => (args: KernelArgs) => {
    const { inputs, backend, attrs } = args;
    if (!attrs['transposeA'] && !attrs['transposeB']) return plain(args);
    const a = attrs['transposeA'] ? swapLastTwo(inputs['a']!, backend) : inputs['a']!;
    const b = attrs['transposeB'] ? swapLastTwo(inputs['b']!, backend) : inputs['b']!;
    const heap: WasmBackend = wasmBackend(backend);
    try {
      return plain({
        inputs: { a, b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      if (a !== inputs['a']) heap.disposeData(a.dataId);
      if (b !== inputs['b']) heap.disposeData(b.dataId);
    }
  });
}

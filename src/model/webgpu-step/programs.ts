/// <reference types="@webgpu/types" />
/**
 * The training step's programs, in dispatch order, with their buffers bound once: the gather, per
 * layer the input projection and the recurrence, the head and loss, per layer (last first) the
 * backward recurrence, the weight gradients (a split-K GEMM and the sum of its splits) and the input
 * gradient, the embeddings' scatter-add, Adam. 4 + 6·layers dispatches (the scatter only with
 * embeddings, a layer-0 input gradient only for them).
 */
import { lstmTiling } from '../webgpu-lstm-programs.js';
import { GEMM_TILE, type GemmSpec, MAX_SPLITS, gemmShader, splitCount, splitSumShader } from './gemm.js';
import { type GpuKit, type Kernel, grid } from './gpu.js';
import type { ParamLayout } from './layout.js';
import {
  FLAT_WORKGROUP,
  PACKED,
  adamShader,
  backwardShader,
  embedShader,
  forwardShader,
  headShader,
  scatterShader,
} from './shaders.js';

export interface Dispatch {
  kernel: Kernel;
  group: GPUBindGroup | (() => GPUBindGroup);
  /** Workgroups along x, y (and z) for a batch of B rows and T steps. */
  size: (B: number, T: number) => [number, number] | [number, number, number];
}

/** The buffers the step's owner reads and writes. */
export interface StepBuffers {
  uniform: GPUBuffer;
  rows: GPUBuffer;
  params: GPUBuffer;
  grads: GPUBuffer;
  moments: [GPUBuffer, GPUBuffer];
  /** [summed loss terms, the last batch's mean loss] */
  loss: GPUBuffer;
  /** The head's per-row loss gradients, then its probabilities. */
  headScratch: GPUBuffer;
}

export interface StepPrograms {
  /** Every program of a step but Adam, in order. */
  dispatches: Dispatch[];
  adam: Dispatch;
  /** The gather's bind group for a source of ids and numeric features. */
  gatherGroup(cats: GPUBuffer, nums: GPUBuffer): GPUBindGroup;
}

export function stepPrograms(
  kit: GpuKit,
  layout: ParamLayout,
  maxBatch: number,
  maxSteps: number,
  buffers: StepBuffers,
  /** The gather's bind group for the batch being written (its split's source). */
  currentGather: () => GPUBindGroup,
): StepPrograms {
  const NT = maxBatch * maxSteps;
  const limits = kit.device.limits;
  const dispatches: Dispatch[] = [];
  const common = [buffers.uniform, buffers.rows];
  /** A program bound to the uniform, the rows and `bound` ('r'ead or 'w'ritten, in binding order). */
  const add = (code: string, accesses: string, bound: GPUBuffer[], size: Dispatch['size']) => {
    const kernel = kit.kernel(code, accesses);
    dispatches.push({ kernel, group: kit.group(kernel, [...common, ...bound]), size });
  };
  const gemm = (spec: GemmSpec, bound: GPUBuffer[], size: Dispatch['size']) =>
    add(gemmShader(spec), `${'r'.repeat(bound.length - 1)}w`, bound, size);
  const overStepRows = (columns: number) => (B: number, T: number) =>
    [Math.ceil(columns / GEMM_TILE), Math.ceil((B * T) / GEMM_TILE)] as [number, number];

  // 1. the gather (its bind group follows the batch's source)
  const x0 = kit.storage(NT * layout.inputSize);
  const ids = kit.storage(NT * layout.idCount);
  const gather = kit.kernel(embedShader(layout), 'rrrww');
  const gatherGroup = (cats: GPUBuffer, nums: GPUBuffer) =>
    kit.group(gather, [...common, cats, nums, buffers.params, x0, ids]);
  dispatches.push({
    kernel: gather,
    group: currentGather,
    size: (B, T) => grid(Math.ceil((B * T) / FLAT_WORKGROUP)),
  });

  const layers = layout.layers.map((l, i) => ({
    ...l,
    G: 4 * l.units,
    tiling: lstmTiling(l.units, limits)!,
    z: kit.storage(NT * 4 * l.units),
    packed: kit.storage(NT * PACKED * l.units),
    hd: l.dropout > 0 ? kit.storage(NT * l.units) : undefined,
    dy: kit.storage((i === layout.layers.length - 1 ? maxBatch : NT) * l.units),
  }));
  // A layer's output: its dropped-out copy, or h in its packed forward results (stride 7u).
  const output = (i: number) => layers[i]!.hd ?? layers[i]!.packed;
  const outputStride = (i: number) => (layers[i]!.hd ? 1 : PACKED) * layers[i]!.units;
  const input = (i: number) => (i === 0 ? x0 : output(i - 1));
  const inputStride = (i: number) => (i === 0 ? layout.inputSize : outputStride(i - 1));

  // 2. per layer: z = [x | 1]·[W; b], then the recurrence
  layers.forEach((l, i) => {
    const IN = l.inputSize;
    gemm(
      {
        M: 's.T * s.B',
        K: `${IN + 1}u`,
        N: l.G,
        a: `if (k < ${IN}u) { return A[i * ${inputStride(i)}u + k]; } return 1.0;`,
        b: `return Bm[${l.kernel}u + k * ${l.G}u + j];`,
        write: `C[i * ${l.G}u + j] = v;`,
      },
      [input(i), buffers.params, l.z],
      overStepRows(l.G),
    );
    add(
      forwardShader(i, l.units, l.recurrent, l.tiling, l.hard, l.dropout),
      l.hd ? 'rrww' : 'rrw',
      [l.z, buffers.params, l.packed, ...(l.hd ? [l.hd] : [])],
      (B) => [Math.ceil(B / l.tiling.rows), 1],
    );
  });

  // 3. the head and the loss
  const last = layers.length - 1;
  add(
    headShader(layers[last]!.units, outputStride(last), layout.head.weight, layout.head.bias),
    'rrwwww',
    [output(last), buffers.params, layers[last]!.dy, buffers.grads, buffers.loss, buffers.headScratch],
    () => [1, 1],
  );

  // 4. per layer, last first: the backward recurrence, the weight gradients, the input's gradient
  const partial = kit.storage(MAX_SPLITS * Math.max(...layers.map((l) => (l.inputSize + 1 + l.units) * l.G)));
  const dx0 = layout.tables.length > 0 ? kit.storage(NT * layout.embeddedSize) : undefined;
  for (let i = last; i >= 0; i--) {
    const l = layers[i]!;
    const IN = l.inputSize;
    add(
      backwardShader(i, l.units, l.recurrent, l.tiling, l.hard, l.dropout, i === last),
      'rrrw',
      [l.dy, l.packed, buffers.params, l.z],
      (B) => [Math.ceil(B / l.tiling.rows), 1],
    );
    // [W; b; U]'s gradient (one block of the layout) = [x | 1 | h₋₁]ᵀ·dz, a reduction over every
    // step and row: split over K, then the partial sums added up.
    const M = IN + 1 + l.units;
    gemm(
      {
        M: `${M}u`,
        K: 's.T * s.B',
        N: l.G,
        inputs: ['X', 'H', 'Bm'],
        a: `if (i < ${IN}u) { return X[k * ${inputStride(i)}u + i]; }
  if (i == ${IN}u) { return 1.0; }
  if (k >= s.B) { return H[(k - s.B) * ${PACKED * l.units}u + i - ${IN + 1}u]; }
  return 0.0;`,
        b: `return Bm[k * ${l.G}u + j];`,
        write: `C[(z * ${M}u + i) * ${l.G}u + j] = v;`,
        splitK: true,
      },
      [input(i), l.packed, l.z, partial],
      (B, T) => [Math.ceil(l.G / GEMM_TILE), Math.ceil(M / GEMM_TILE), splitCount(B * T)],
    );
    add(splitSumShader(M * l.G, l.kernel), 'rw', [partial, buffers.grads], () =>
      grid(Math.ceil((M * l.G) / FLAT_WORKGROUP)),
    );
    // dz·Wᵀ: the layer below's output gradient, or the embedded columns of layer 0's input
    const target = i > 0 ? layers[i - 1]!.dy : dx0;
    const width = i > 0 ? IN : layout.embeddedSize;
    if (target !== undefined) {
      gemm(
        {
          M: 's.T * s.B',
          K: `${l.G}u`,
          N: width,
          a: `return A[i * ${l.G}u + k];`,
          b: `return Bm[${l.kernel}u + j * ${l.G}u + k];`,
          write: `C[i * ${width}u + j] = v;`,
        },
        [l.z, buffers.params, target],
        overStepRows(width),
      );
    }
  }

  // 5. the embeddings' gradient
  if (dx0 !== undefined) {
    add(scatterShader(layout), 'rrw', [dx0, ids, buffers.grads], (B, T) =>
      grid(Math.ceil((B * T * layout.embeddedSize) / FLAT_WORKGROUP)),
    );
  }
  // 6. Adam
  const adam = kit.kernel(adamShader(layout), 'rwww');
  return {
    dispatches,
    adam: {
      kernel: adam,
      group: kit.group(adam, [...common, buffers.grads, buffers.params, ...buffers.moments]),
      size: () => grid(Math.ceil(layout.size / FLAT_WORKGROUP)),
    },
    gatherGroup,
  };
}

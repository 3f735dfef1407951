/**
 * The fused LSTM's WGSL recurrence kernels (model/webgpu-lstm.ts) on a Vulkan device (SwiftShader
 * unless VK_ICD_FILENAMES names another): the op's output and the gradient of every parameter on
 * webgpu match the same op on the cpu backend (its host kernels) within 1e-4 of the largest
 * reference value, on odd shapes (padded steps, a batch that is not a multiple of the tile, one
 * step, a layer wider than a workgroup, both recurrent activations, both output kinds); a model of
 * one and of two LSTM layers gets the same weight gradients on both backends; and the number of
 * GPU dispatches of a training step does not grow with the sequence length (it does on the
 * tfjs-ops path, which the same count shows).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import {
  type RecurrentActivation,
  fusedLstm,
  lstmLayer,
  recurrencePath,
} from '../../src/model/fused-lstm.js';
import { FusedAdamOptimizer } from '../../src/model/webgpu-adam.js';
import { lstmTiling } from '../../src/model/webgpu-lstm-programs.js';
import { findShimProblems } from '../../src/vendor-shims/check.js';
import { countDispatches } from '../helpers/dispatches.js';
import { useVulkanDevice } from '../helpers/swiftshader.js';

/** Largest |webgpu − cpu| allowed, relative to the largest |cpu| value of the same tensor. */
const RELATIVE_TOLERANCE = 1e-4;

before(useVulkanDevice);

const values = (n: number, k: number, scale = 1) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * scale);

/** A [B, T] 0/1 mask: row patterns cycle through full, padded at the end, a hole, all padded, one step. */
function maskRows(B: number, T: number): number[][] {
  const patterns = [
    (t: number) => 1,
    (t: number) => (t < Math.ceil(T / 2) ? 1 : 0),
    (t: number) => (t === 1 || t === T - 2 ? 0 : 1),
    (_: number) => 0,
    (t: number) => (t === 0 ? 1 : 0),
  ];
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => patterns[b % 5]!(t)));
}

interface Shape {
  B: number;
  T: number;
  F: number;
  U: number;
  returnSequences: boolean;
  recurrentActivation: RecurrentActivation;
  masked: boolean;
}

/** [output, dX, dKernel, dRecurrentKernel, dBias] of the op on the active backend, as arrays. */
async function opResults(s: Shape, inputGradient: boolean): Promise<Float32Array[]> {
  const { B, T, F, U } = s;
  const tensors = tf.tidy(() => {
    const x = tf.tensor3d(values(B * T * F, 0.37, 1.5), [B, T, F]);
    const kernel = tf.tensor2d(values(F * 4 * U, 0.7, 1.2 / Math.sqrt(F)), [F, 4 * U]);
    const recurrentKernel = tf.tensor2d(values(U * 4 * U, 1.1, 0.9 / Math.sqrt(U)), [U, 4 * U]);
    const bias = tf.tensor1d(values(4 * U, 0.5, 0.5));
    const mask = s.masked ? tf.tensor2d(maskRows(B, T), [B, T], 'bool') : null;
    const outShape = s.returnSequences ? [B, T, U] : [B, U];
    const probe = tf.tensor(values(tf.util.sizeFromShape(outShape), 0.91), outShape);
    const options = {
      recurrentActivation: s.recurrentActivation,
      returnSequences: s.returnSequences,
      inputGradient,
    };
    const f = (xv: tf.Tensor, k: tf.Tensor, r: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.mul(
          fusedLstm(xv as tf.Tensor3D, mask, k as tf.Tensor2D, r as tf.Tensor2D, b as tf.Tensor1D, options),
          probe,
        ),
      );
    const output = fusedLstm(x, mask, kernel, recurrentKernel, bias, options);
    if (inputGradient) return [output, ...tf.grads(f)([x, kernel, recurrentKernel, bias])];
    const weightsOnly = tf.grads((k, r, b) => f(x, k, r, b))([kernel, recurrentKernel, bias]);
    return [output, ...weightsOnly];
  });
  const arrays = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  return arrays;
}

/** max |a − b| / max |b| per tensor. */
function relativeErrors(gpu: Float32Array[], cpu: Float32Array[]): number[] {
  return gpu.map((a, k) => {
    const b = cpu[k]!;
    assert.equal(a.length, b.length, `tensor ${k}: ${a.length} vs ${b.length} elements`);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      assert.ok(Number.isFinite(a[i]), `tensor ${k}[${i}] = ${a[i]}`);
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    return scale === 0 ? diff : diff / scale;
  });
}

const SHAPES: Array<Shape & { name: string }> = [
  {
    name: 'padded steps, batch 5 (tile 4), sequences, hardSigmoid',
    B: 5,
    T: 7,
    F: 6,
    U: 8,
    returnSequences: true,
    recurrentActivation: 'hardSigmoid',
    masked: true,
  },
  {
    name: 'padded steps, batch 9, last output, sigmoid',
    B: 9,
    T: 6,
    F: 3,
    U: 5,
    returnSequences: false,
    recurrentActivation: 'sigmoid',
    masked: true,
  },
  {
    name: 'one step, batch 3, sequences, sigmoid',
    B: 3,
    T: 1,
    F: 4,
    U: 6,
    returnSequences: true,
    recurrentActivation: 'sigmoid',
    masked: false,
  },
  {
    name: 'one step, last output, hardSigmoid, padded',
    B: 6,
    T: 1,
    F: 2,
    U: 4,
    returnSequences: false,
    recurrentActivation: 'hardSigmoid',
    masked: true,
  },
  {
    name: '300 units (two per thread where a workgroup has 256), batch 7',
    B: 7,
    T: 4,
    F: 5,
    U: 300,
    returnSequences: false,
    recurrentActivation: 'hardSigmoid',
    masked: true,
  },
];

describe('fused LSTM kernels on webgpu (SwiftShader unless VK_ICD_FILENAMES names another)', () => {
  // First in this process: the CLI runs the shim check before any backend is chosen, and importing
  // the webgpu package before navigator.gpu exists would keep its backend from ever registering.
  it('webgpu still starts after the start-up vendor-shim check, with the fused kernels', async () => {
    assert.deepEqual(await findShimProblems(['tfjs']), []);
    const selection = await selectBackend({ requested: 'webgpu' });
    assert.equal(selection.backend, 'webgpu');
    assert.equal(recurrencePath(8), 'webgpu kernel');
    assert.equal(recurrencePath(8, 'ops'), 'tfjs ops');
    // No GPU's workgroup memory holds one row of a layer this wide: the op falls back to tfjs ops.
    assert.equal(recurrencePath(100_000), 'tfjs ops');
  });

  it('sizes tiles from the device limits and refuses what workgroup memory cannot hold', () => {
    const small = {
      maxComputeWorkgroupStorageSize: 16_384,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
    };
    assert.deepEqual(lstmTiling(128, small), { rows: 4, threads: 128, unitsPerThread: 1 });
    assert.deepEqual(lstmTiling(300, small), { rows: 3, threads: 256, unitsPerThread: 2 });
    assert.deepEqual(lstmTiling(1024, small), { rows: 1, threads: 256, unitsPerThread: 4 });
    assert.equal(lstmTiling(1025, small), null);
    const h200 = {
      maxComputeWorkgroupStorageSize: 49_152,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupSizeX: 1024,
    };
    assert.deepEqual(lstmTiling(512, h200), { rows: 4, threads: 512, unitsPerThread: 1 });
  });

  for (const shape of SHAPES) {
    for (const inputGradient of shape.name.startsWith('300') ? [false] : [true, false]) {
      it(`${shape.name}${inputGradient ? '' : ', no input gradient'}: output and gradients match cpu`, async (t) => {
        await selectBackend({ requested: 'webgpu' });
        assert.equal(recurrencePath(shape.U), 'webgpu kernel');
        const gpu = await opResults(shape, inputGradient);
        await tf.setBackend('cpu');
        const cpu = await opResults(shape, inputGradient);
        const errors = relativeErrors(gpu, cpu);
        t.diagnostic(
          `relative errors [output, ${inputGradient ? 'x, ' : ''}kernel, recurrentKernel, bias]: ${errors.map((e) => e.toExponential(2)).join(', ')}`,
        );
        errors.forEach((e, k) => assert.ok(e <= RELATIVE_TOLERANCE, `tensor ${k}: relative error ${e}`));
      });
    }
  }

  for (const layers of [1, 2]) {
    it(`a model of ${layers} LSTM layer(s): weight gradients match cpu and Adam's losses track wasm`, async (t) => {
      const shape = { B: 6, T: 5, F: 3, U: 8 };
      await selectBackend({ requested: 'webgpu' });
      const gpu = await modelRun(layers, shape, 4);
      await tf.setBackend('cpu');
      const cpu = await modelRun(layers, shape, 0);
      await selectBackend({ requested: 'wasm' });
      const wasm = await modelRun(layers, shape, 4);
      const errors = relativeErrors(gpu.grads, cpu.grads);
      t.diagnostic(`relative errors per weight: ${errors.map((e) => e.toExponential(2)).join(', ')}`);
      t.diagnostic(`losses webgpu ${gpu.losses.join(', ')}; wasm ${wasm.losses.join(', ')}`);
      errors.forEach((e, k) => assert.ok(e <= RELATIVE_TOLERANCE, `weight ${k}: relative error ${e}`));
      assert.ok(gpu.losses.at(-1)! < gpu.losses[0]!, `the loss falls on webgpu: ${gpu.losses}`);
      gpu.losses.forEach((loss, i) =>
        assert.ok(
          Math.abs(loss - wasm.losses[i]!) <= RELATIVE_TOLERANCE * Math.abs(wasm.losses[i]!),
          `step ${i}: webgpu ${loss} vs wasm ${wasm.losses[i]}`,
        ),
      );
    });
  }

  it('leaves no tensor and no GPU buffer behind', async () => {
    await selectBackend({ requested: 'webgpu' });
    const shape = SHAPES[0]!;
    await opResults(shape, true); // compiles the programs and settles tfjs's own caches
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = { tensors: tf.memory().numTensors, data: backend.numDataIds() };
    await opResults(shape, true);
    await opResults({ ...shape, returnSequences: false }, false);
    assert.deepEqual({ tensors: tf.memory().numTensors, data: backend.numDataIds() }, before);
  });

  it('dispatches as many GPU programs per training step at 6 steps as at 11 (the ops path does not)', async (t) => {
    await selectBackend({ requested: 'webgpu' });
    // Small tensors would otherwise run on the CPU depending on their size, i.e. on T.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    try {
      const modelStep = async (T: number) =>
        (await modelRun(2, { B: 6, T, F: 3, U: 8 }, 1, countDispatches)).dispatches;
      const opStep = async (T: number, implementation: 'auto' | 'ops') =>
        countDispatches(() =>
          tf.tidy(() => {
            const shape = { B: 5, T, F: 3, U: 4 };
            const [x, k, r, b] = [
              tf.tensor3d(values(shape.B * T * shape.F, 0.3), [shape.B, T, shape.F]),
              tf.tensor2d(values(shape.F * 16, 0.7), [shape.F, 16]),
              tf.tensor2d(values(4 * 16, 1.1), [4, 16]),
              tf.tensor1d(values(16, 0.5)),
            ];
            const options = {
              recurrentActivation: 'sigmoid',
              returnSequences: true,
              implementation,
            } as const;
            return tf.grads((xv, kv, rv, bv) =>
              tf.sum(
                fusedLstm(
                  xv as tf.Tensor3D,
                  null,
                  kv as tf.Tensor2D,
                  rv as tf.Tensor2D,
                  bv as tf.Tensor1D,
                  options,
                ),
              ),
            )([x, k, r, b]);
          }),
        );
      const model = [await modelStep(6), await modelStep(11)];
      const op = [await opStep(6, 'auto'), await opStep(11, 'auto')];
      const ops = [await opStep(6, 'ops'), await opStep(11, 'ops')];
      t.diagnostic(
        `dispatches at T = 6, 11: 2-layer model training step ${model}; op forward+backward ${op}; tfjs-ops path ${ops}`,
      );
      assert.ok(model[0]! > 0, 'the count sees the dispatches');
      assert.equal(model[0], model[1], `model training step: ${model}`);
      assert.equal(op[0], op[1], `fused op: ${op}`);
      assert.ok(ops[1]! > ops[0]!, `the tfjs-ops path grows with T: ${ops}`);
    } finally {
      tf.env().set('WEBGPU_CPU_FORWARD', true);
    }
  });
});

/**
 * A model Masking → `layers` fused LSTM layers → Dense(1) on padded data with set weights: the
 * gradients of its loss w.r.t. every weight, then the losses of `steps` Adam steps (`measure` wraps
 * the first step).
 */
async function modelRun(
  layers: number,
  s: { B: number; T: number; F: number; U: number },
  steps: number,
  measure?: (work: () => Promise<tf.Tensor[]>) => Promise<number>,
): Promise<{ grads: Float32Array[]; losses: number[]; dispatches: number }> {
  const { B, T, F, U } = s;
  const input = tf.input({ shape: [null, F] });
  let h = tf.layers.masking({ maskValue: 0 }).apply(input) as tf.SymbolicTensor;
  for (let l = 0; l < layers; l++) {
    h = lstmLayer({ units: U, returnSequences: l < layers - 1, recurrentActivation: 'hardSigmoid' }).apply(
      h,
    ) as tf.SymbolicTensor;
  }
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 1 }).apply(h) as tf.SymbolicTensor,
  });
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(values(w.size, 0.3 + 0.17 * i, 0.4), w.shape)));
  const mask = maskRows(B, T).flatMap((row) => row.flatMap((m) => new Array(F).fill(m)));
  const xs = tf.tensor3d(
    values(B * T * F, 0.41, 1.2).map((v, i) => (mask[i] ? v + 0.01 : 0)),
    [B, T, F],
  );
  const ys = tf.tensor2d(values(B, 1.9, 1), [B, 1]);
  const loss = () => tf.losses.meanSquaredError(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const gradTensors = tf.tidy(() => Object.values(tf.variableGrads(loss, weights).grads));
  const grads = await Promise.all(gradTensors.map(async (g) => (await g.data()) as Float32Array));
  tf.dispose(gradTensors);
  const optimizer = new FusedAdamOptimizer(0.05);
  const losses: number[] = [];
  const step = async () => [optimizer.minimize(loss, true, weights)!];
  let dispatches = 0;
  for (let i = 0; i < steps; i++) {
    if (i === 0 && measure) {
      dispatches = await measure(step);
    } else {
      const value = optimizer.minimize(loss, true, weights)!;
      losses.push((await value.data())[0]!);
      value.dispose();
    }
  }
  optimizer.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return { grads, losses, dispatches };
}

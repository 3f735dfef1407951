/**
 * The fused LSTM op against the tfjs-layers LSTM layer with the same weights: forward output and
 * the gradients w.r.t. the input and every weight, with padded (masked) sequences, on the cpu and
 * wasm backends, through the host kernels and through the tfjs-ops fallback; and a model built
 * with the fused layer saves as a plain tfjs-layers model.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { type RecurrentActivation, fusedLstm, lstmLayer } from '../../src/model/fused-lstm.js';
import { loadModelFiles, saveModelFiles } from '../../src/registry/model-files.js';
import { tanh } from '../../src/util/fast-tanh.js';

const B = 5;
const T = 7;
const F = 6;
const U = 4;
/** Real steps per sequence: full, padded at the end, one padded step inside, all padded. */
const MASK = [
  [1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 0, 0, 0, 0],
  [1, 1, 0, 1, 1, 0, 0],
  [0, 0, 0, 0, 0, 0, 0],
  [1, 0, 0, 0, 0, 0, 0],
];

const values = (n: number, k: number, scale = 1) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * scale);

async function use(backend: 'cpu' | 'wasm'): Promise<void> {
  if (backend === 'wasm') await selectBackend({ requested: 'wasm' });
  else await tf.setBackend('cpu');
}

/** Max |a − b| over every element of every pair. */
function maxDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  let worst = 0;
  a.forEach((t, k) => {
    const x = t.dataSync();
    const y = b[k]!.dataSync();
    assert.equal(x.length, y.length, `tensor ${k}: ${x.length} vs ${y.length} elements`);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  });
  return worst;
}

interface Case {
  backend: 'cpu' | 'wasm';
  implementation: 'auto' | 'ops';
  returnSequences: boolean;
  recurrentActivation: RecurrentActivation;
  /** The op told that x needs no gradient: it must still compute one on demand. */
  inputGradient?: boolean;
}

/** Output and gradients [x, kernel, recurrentKernel, bias] of the layer and of the op. */
function compare(c: Case): { output: number; grads: number[] } {
  return tf.tidy(() => {
    const layer = tf.layers.lstm({
      units: U,
      returnSequences: c.returnSequences,
      recurrentActivation: c.recurrentActivation,
    });
    const x = tf.variable(tf.tensor3d(values(B * T * F, 0.37, 1.5), [B, T, F]));
    const mask = tf.tensor2d(MASK, [B, T], 'bool');
    layer.apply(x, { mask }); // builds the weights
    // Weights large enough that the hard sigmoid leaves its flat parts on both sides.
    layer.setWeights([
      tf.tensor2d(values(F * 4 * U, 0.7, 1.2), [F, 4 * U]),
      tf.tensor2d(values(U * 4 * U, 1.1, 0.9), [U, 4 * U]),
      tf.tensor1d(values(4 * U, 0.5, 0.5)),
    ]);
    const outShape = c.returnSequences ? [B, T, U] : [B, U];
    const probe = tf.tensor(
      values(
        outShape.reduce((p, d) => p * d, 1),
        0.91,
      ),
      outShape,
    );
    const [kernel, recurrentKernel, bias] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const vars = [x, kernel!, recurrentKernel!, bias!];
    const run = (f: () => tf.Tensor) => {
      let out: tf.Tensor | undefined;
      const { grads } = tf.variableGrads(() => {
        out = tf.keep(f());
        return tf.sum(tf.mul(out, probe)) as tf.Scalar;
      }, vars);
      return { out: out!, grads: vars.map((v) => grads[v.name]!) };
    };
    const reference = run(() => layer.apply(x, { mask }) as tf.Tensor);
    const fused = run(() =>
      fusedLstm(x, mask, kernel as tf.Tensor2D, recurrentKernel as tf.Tensor2D, bias as tf.Tensor1D, {
        recurrentActivation: c.recurrentActivation,
        returnSequences: c.returnSequences,
        implementation: c.implementation,
        ...(c.inputGradient === undefined ? {} : { inputGradient: c.inputGradient }),
      }),
    );
    assert.deepEqual(fused.out.shape, reference.out.shape, 'output shape');
    const result = {
      output: maxDiff([fused.out], [reference.out]),
      grads: fused.grads.map((g, i) => maxDiff([g], [reference.grads[i]!])),
    };
    // The reference gradients are not all zero (else the comparison proves little).
    for (const g of reference.grads)
      assert.ok(Math.max(...Array.from(g.abs().dataSync())) > 1e-3, 'non-trivial reference gradient');
    tf.dispose([x, fused.out, reference.out]);
    layer.dispose();
    return result;
  });
}

describe("the host kernels' tanh", () => {
  it('is within 3e-7 of Math.tanh everywhere (float32 resolution)', () => {
    let worst = 0;
    for (let x = -20; x <= 20; x += 1e-4) worst = Math.max(worst, Math.abs(tanh(x) - Math.tanh(x)));
    for (const x of [Number.MAX_VALUE, -Number.MAX_VALUE, 1e-30, 0])
      worst = Math.max(worst, Math.abs(tanh(x) - Math.tanh(x)));
    assert.ok(worst < 3e-7, `worst error ${worst}`);
  });
});

describe('fusedLstm equals the tfjs-layers LSTM', () => {
  for (const backend of ['cpu', 'wasm'] as const)
    for (const implementation of ['auto', 'ops'] as const)
      for (const returnSequences of [false, true])
        for (const recurrentActivation of ['hardSigmoid', 'sigmoid'] as const) {
          const c: Case = { backend, implementation, returnSequences, recurrentActivation };
          it(`${backend}, ${implementation === 'auto' ? 'host kernel' : 'tfjs ops'}, returnSequences=${returnSequences}, ${recurrentActivation}`, async () => {
            await use(backend);
            const before = tf.memory().numTensors;
            const { output, grads } = compare(c);
            assert.ok(output < 1e-5, `output differs by ${output}`);
            ['x', 'kernel', 'recurrentKernel', 'bias'].forEach((name, i) =>
              assert.ok(grads[i]! < 1e-4, `gradient w.r.t. ${name} differs by ${grads[i]}`),
            );
            assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
          });
        }

  for (const backend of ['cpu', 'wasm'] as const)
    it(`${backend}: an input gradient skipped up front (inputGradient: false) is still right when asked for`, async () => {
      await use(backend);
      const { output, grads } = compare({
        backend,
        implementation: 'auto',
        returnSequences: true,
        recurrentActivation: 'hardSigmoid',
        inputGradient: false,
      });
      assert.ok(output < 1e-5, `output differs by ${output}`);
      assert.ok(Math.max(...grads) < 1e-4, `gradients differ by ${grads.join(', ')}`);
    });

  it('a masked step leaves the output of every sequence unchanged (state carried over)', async () => {
    await use('wasm');
    tf.tidy(() => {
      const layer = lstmLayer({ units: U, returnSequences: true }, 'fused');
      const x = tf.tensor3d(values(B * T * F, 0.37), [B, T, F]);
      const y = layer.apply(x, { mask: tf.tensor2d(MASK, [B, T], 'bool') }) as tf.Tensor3D;
      const out = y.arraySync();
      // Sequence 2 is padded at step 2: its output there repeats step 1's.
      assert.deepEqual(out[2]![2], out[2]![1], 'carried output');
      assert.ok(
        out[2]![3]!.some((v, j) => v !== out[2]![2]![j]),
        'moves on at the next real step',
      );
      // Sequence 3 is all padding: zeros throughout.
      assert.ok(
        out[3]!.flat().every((v) => v === 0),
        'all-padded sequence stays at the zero state',
      );
    });
  });
});

describe('the fused layer in a model', () => {
  it('trains to the same weights as the tfjs layer and saves as a plain tfjs LSTM', async () => {
    await use('cpu');
    const build = (implementation: 'fused' | 'layers') => {
      const input = tf.input({ shape: [null, F] });
      const masked = tf.layers.masking({ maskValue: 0 }).apply(input) as tf.SymbolicTensor;
      const seq = lstmLayer(
        { units: U, returnSequences: true, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) },
        implementation,
      ).apply(masked) as tf.SymbolicTensor;
      const last = lstmLayer(
        { units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) },
        implementation,
      ).apply(seq) as tf.SymbolicTensor;
      const out = tf.layers
        .dense({
          units: 1,
          activation: 'sigmoid',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        })
        .apply(last) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: out });
      model.compile({ optimizer: tf.train.adam(0.05), loss: 'binaryCrossentropy' });
      return model;
    };
    const xs = tf.tidy(() =>
      tf.mul(tf.tensor3d(values(B * T * F, 0.37), [B, T, F]), tf.expandDims(tf.tensor2d(MASK), -1)),
    );
    const ys = tf.tensor2d([[1], [0], [1], [0], [1]]);
    const fused = build('fused');
    const layers = build('layers');
    layers.setWeights(fused.getWeights());
    for (let i = 0; i < 5; i++) {
      await fused.trainOnBatch(xs, ys);
      await layers.trainOnBatch(xs, ys);
    }
    const diff = maxDiff(fused.getWeights(), layers.getWeights());
    assert.ok(diff < 1e-4, `weights after 5 Adam steps differ by ${diff}`);

    const dir = mkdtempSync(join(tmpdir(), 'fused-lstm-'));
    await saveModelFiles(fused, dir);
    const loaded = await loadModelFiles(dir);
    const lstms = loaded.layers.filter((l) => l.getClassName() === 'LSTM');
    assert.equal(lstms.length, 2, 'both LSTM layers load as tfjs LSTM layers');
    assert.ok(
      lstms.every(
        (l) =>
          Object.getPrototypeOf(l).constructor ===
          Object.getPrototypeOf(tf.layers.lstm({ units: 1 })).constructor,
      ),
      'the loaded layers are the standard tfjs class',
    );
    const p = maxDiff([loaded.predict(xs) as tf.Tensor], [fused.predict(xs) as tf.Tensor]);
    assert.ok(p < 1e-5, `predictions of the loaded model differ by ${p}`);
    tf.dispose([xs, ys]);
    fused.dispose();
    layers.dispose();
    loaded.dispose();
  });
});

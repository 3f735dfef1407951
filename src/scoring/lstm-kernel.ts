/**
 * The LSTM step's row math (used by the step model, lstm-model.ts): from rows already encoded by the
 * feature encoder (categorical ids, numeric features) and each row's [h, c]
 * state, one step of every layer and the head's probability. Per layer, the pre-activation of all rows
 * is ONE tfjs matMul [input, h, 1]·[kernel; recurrent; bias] (wasm: XNNPACK's SIMD kernels), read back
 * once; the embedding lookups, the gates and the head are plain array code.
 *
 * A row's result depends on its own inputs only, never on the other rows of its call (checked bit for
 * bit on the cpu and wasm backends by test/unit/scoring-lstm.test.ts), so a restarted scorer that
 * rebuilds a session in other batches reproduces its probabilities exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { CATEGORICAL_COUNT } from '../features/index.js';
import { tanh as fastTanh } from '../util/fast-tanh.js';
import { wasmHeapView } from '../vendor-shims/tfjs-backend-wasm.js';
import type { ActivationName, LstmWeights } from './lstm-weights.js';

const ACTIVATION_CODE: Record<ActivationName, number> = {
  tanh: 0,
  sigmoid: 1,
  hardSigmoid: 2,
  linear: 3,
  relu: 4,
};

/** tfjs: clip(0.2·x + 0.5, 0, 1). */
function hardSigmoid(x: number): number {
  return x <= -2.5 ? 0 : x >= 2.5 ? 1 : 0.2 * x + 0.5;
}

function activate(code: number, x: number): number {
  switch (code) {
    case 0:
      return Math.tanh(x);
    case 1:
      return 1 / (1 + Math.exp(-x));
    case 2:
      return hardSigmoid(x);
    case 3:
      return x;
    default:
      return x > 0 ? x : 0;
  }
}

/** A row's state: [h, c] of layer 0, then of layer 1, … at `at` in `slab` (an LstmState). */
export interface RowState {
  readonly slab: Float32Array;
  readonly at: number;
}

export interface StepKernel {
  readonly stateSize: number;
  /**
   * Advances rows 0..n-1 by one step: row b's categorical ids are cat[b·CATEGORICAL_COUNT …], its
   * numeric features num[b·numericSize …], its state states[b] (updated in place, float32 like tfjs
   * keeps h and c); its probability goes to prob[b].
   */
  run(n: number, cat: Int32Array, num: Float32Array, states: readonly RowState[], prob: Float64Array): void;
  dispose(): void;
}

/**
 * A product's values: on wasm a view of the backend's heap (no copy: dataSync would copy n × 4·units
 * floats out first, a visible share of a step), valid until the next tfjs op; elsewhere dataSync.
 */
function readProduct(product: tf.Tensor): Float32Array {
  if (tf.getBackend() === 'wasm') return wasmHeapView(product);
  return product.dataSync() as Float32Array;
}

export function createStepKernel(weights: LstmWeights): StepKernel {
  const { embeddings, head, numericSize: N } = weights;
  const headAct = ACTIVATION_CODE[head.activation];
  let offset = 0;
  const layers = weights.layers.map((l) => {
    const G = 4 * l.units;
    // x = [input, h, 1] per row, w = [kernel; recurrent; bias]: the whole pre-activation is one matMul.
    const K = l.inputSize + l.units + 1;
    const stacked = new Float32Array(K * G);
    stacked.set(l.kernel);
    stacked.set(l.recurrent, l.inputSize * G);
    stacked.set(l.bias, (K - 1) * G);
    const layer = {
      units: l.units,
      inputSize: l.inputSize,
      K,
      w: tf.tensor2d(stacked, [K, G]),
      act: ACTIVATION_CODE[l.activation],
      rec: ACTIVATION_CODE[l.recurrentActivation],
      /** Offset of this layer's h in a row's state (c follows at + units). */
      at: offset,
    };
    offset += 2 * l.units;
    return layer;
  });
  const stateSize = offset;
  const last = layers.at(-1)!;
  const maxK = Math.max(...layers.map((l) => l.K));
  let x = new Float32Array(0);

  /**
   * One step of layer `li` for rows 0..n-1: x = [input, h, 1] per row (layer 0's input: the five
   * embedding rows, then the numeric features), ONE matMul x·w, read back once, then the gates per row.
   */
  function layerStep(
    li: number,
    n: number,
    cat: Int32Array,
    num: Float32Array,
    states: readonly RowState[],
  ): void {
    const { K, units: U, inputSize, w, at: hAt } = layers[li]!;
    const below = li > 0 ? layers[li - 1]!.at : 0;
    const xs = x;
    for (let b = 0; b < n; b++) {
      const { slab: hc, at } = states[b]!;
      const xo = b * K;
      if (li === 0) {
        let o = xo;
        for (let k = 0; k < CATEGORICAL_COUNT; k++) {
          const { dim, table } = embeddings[k]!;
          const row = cat[b * CATEGORICAL_COUNT + k]! * dim;
          for (let d = 0; d < dim; d++) xs[o++] = table[row + d]!;
        }
        for (let v = 0; v < N; v++) xs[o++] = num[b * N + v]!;
      } else {
        for (let u = 0; u < inputSize; u++) xs[xo + u] = hc[at + below + u]!; // the new h of the layer below
      }
      for (let u = 0; u < U; u++) xs[xo + inputSize + u] = hc[at + hAt + u]!;
      xs[xo + K - 1] = 1;
    }
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(xs.subarray(0, n * K), [n, K]), w));
    try {
      gates(li, n, readProduct(product), states);
    } finally {
      product.dispose();
    }
  }

  /** The gates of layer `li` for rows 0..n-1 from their pre-activations z (n × 4·units). */
  function gates(li: number, n: number, z: Float32Array, states: readonly RowState[]): void {
    const { units: U, act, rec, at: hAt } = layers[li]!;
    const G = 4 * U;
    const defaults = act === ACTIVATION_CODE.tanh && rec === ACTIVATION_CODE.hardSigmoid;
    for (let b = 0; b < n; b++) {
      const { slab: hc, at } = states[b]!;
      const h = at + hAt;
      const c = h + U;
      const zo = b * G;
      if (defaults) {
        // tfjs's default activations inlined (hardSigmoid, tanh): the hot loop of a default model. tanh is
        // the rational approximation the trainer's fused op computes too (util/fast-tanh.ts).
        for (let u = 0; u < U; u++) {
          const i = hardSigmoid(z[zo + u]!);
          const f = hardSigmoid(z[zo + U + u]!);
          const g = fastTanh(z[zo + 2 * U + u]!);
          const o = hardSigmoid(z[zo + 3 * U + u]!);
          hc[c + u] = f * hc[c + u]! + i * g; // rounded to float32, as tfjs keeps c
          hc[h + u] = o * fastTanh(hc[c + u]!);
        }
        continue;
      }
      for (let u = 0; u < U; u++) {
        const i = activate(rec, z[zo + u]!);
        const f = activate(rec, z[zo + U + u]!);
        const g = activate(act, z[zo + 2 * U + u]!);
        const o = activate(rec, z[zo + 3 * U + u]!);
        hc[c + u] = f * hc[c + u]! + i * g;
        hc[h + u] = o * activate(act, hc[c + u]!);
      }
    }
  }

  return {
    stateSize,
    run(n, cat, num, states, prob) {
      if (x.length < n * maxK) x = new Float32Array(Math.max(n, 2 * (x.length / maxK)) * maxK);
      for (let li = 0; li < layers.length; li++) layerStep(li, n, cat, num, states);
      const wk = head.kernel;
      for (let b = 0; b < n; b++) {
        const { slab: hc, at } = states[b]!;
        const h = at + last.at;
        let s = head.bias;
        for (let u = 0; u < wk.length; u++) s += wk[u]! * hc[h + u]!;
        prob[b] = activate(headAct, s);
      }
    },
    dispose() {
      for (const l of layers) l.w.dispose();
    },
  };
}

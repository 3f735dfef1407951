/**
 * The LSTM step model: the trainer's model (src/model/lstm.ts) advanced one event at a time per
 * session. A session's state is the h and c vectors of every LSTM layer plus the encoder's running
 * session state (step count, cart size, items met), so each event costs one encoder step and one
 * LSTM step per layer, whatever the session's length. `step` encodes all inputs into one batch and
 * runs the cell over it as one batched matrix computation.
 *
 * Per layer and round, the cell's whole pre-activation [input, h, 1]·[kernel; recurrent; bias] for
 * all rows is ONE tfjs matMul (the scorer runs it on the wasm backend: XNNPACK's SIMD kernels), read
 * back once; the rest is plain array code over weights extracted at load (lstm-weights.ts): the
 * embedding lookups and the numeric features into x, then the gates and the head per row. Against
 * the same step as ~25 tfjs ops (bench/score-step.ts) and an earlier plain scalar product (see
 * BENCHMARKS.md): one op per round keeps the per-round overhead low (rounds of a single bot session
 * are common) while the product runs at SIMD speed. A row's product does not depend on the other rows of its matMul
 * (checked bit for bit on the cpu and wasm backends by test/unit/scoring-lstm.test.ts, and end to end
 * by the SIGKILL test), so a restarted scorer rebuilding a session in different batches reproduces
 * its probabilities exactly. Everything is float32 like the trainer's model: a step agrees with the
 * trainer's prediction to ~1e-7.
 *
 * Sessions longer than the encoder's maxSteps: the trainer feeds the model a session's LAST maxSteps
 * events; the step model keeps stepping (constant work per event, the requirement), so from
 * event maxSteps + 1 on it predicts with the whole session in its state. Up to maxSteps events the
 * two agree; beyond, the step model equals the trainer's network run over the whole session (tested).
 */
import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CATEGORICAL_COUNT, type FeatureEncoder, type StepState } from '../features/index.js';
import { tanh as fastTanh } from '../model/fused-lstm.js';
import { loadEncoder, loadModelFiles } from '../model/io.js';
import { LstmState } from './lstm-state.js';
import { type ActivationName, type LstmWeights, extractLstmWeights } from './lstm-weights.js';
import { IncompatibleModelError, type StepInput, type StepModel, type StepOutput } from './model.js';

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

/**
 * States per slab: sessions' h/c live in shared Float32Arrays. A slab is freed once all its sessions
 * are gone; small slabs keep one long-lived session from pinning much.
 */
const SLAB_STATES = 16;

/**
 * Builds the step model from extracted weights and the encoder the model was trained with.
 * `classes` = [the positive label] (one sigmoid output).
 */
export function createLstmStepModel(
  version: string,
  weights: LstmWeights,
  encoder: FeatureEncoder,
  classes: readonly string[],
): StepModel<LstmState> {
  const { embeddings, head, numericSize: N } = weights;
  let at = 0;
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
      G,
      w: tf.tensor2d(stacked, [K, G]),
      act: ACTIVATION_CODE[l.activation],
      rec: ACTIVATION_CODE[l.recurrentActivation],
      /** Offset of this layer's h in a state's slab slice (c follows at + units). */
      at,
    };
    at += 2 * l.units;
    return layer;
  });
  const stateSize = at;
  const last = layers.at(-1)!;
  const headAct = ACTIVATION_CODE[head.activation];
  let cat = new Int32Array(0);
  let num = new Float32Array(0);
  let x = new Float32Array(0);
  let slab = new Float32Array(0);
  let slabUsed = SLAB_STATES;
  let disposed = false;
  const scratch: StepState = {
    sessionStart: 0,
    steps: 0,
    previousTime: null,
    previousItem: null,
    cartSize: 0,
    items: new Map(),
  };

  /** Encodes row b's event into cat/num and advances the session's encoder state. */
  function encode(input: StepInput<LstmState>, b: number): void {
    const s = input.state;
    scratch.sessionStart = input.sessionStart;
    scratch.steps = s.steps;
    scratch.previousTime = input.previous?.event_time ?? null;
    scratch.previousItem = input.previous?.item_id ?? null;
    scratch.cartSize = s.cartSize;
    scratch.items = s;
    encoder.writeStep(input.event, scratch, cat, b * CATEGORICAL_COUNT, num, b * N);
    s.steps = scratch.steps;
    s.cartSize = scratch.cartSize;
  }

  /**
   * One step of layer `li` for all B rows: x = [input, h, 1] per row (layer 0's input: the five
   * embedding rows, then the numeric features), ONE matMul x·w for the batch, read back once, then
   * the gates per row.
   */
  function layerStep(li: number, inputs: readonly StepInput<LstmState>[], B: number): void {
    const { K, G, units: U, inputSize, w, act, rec, at: hAt } = layers[li]!;
    const defaults = act === ACTIVATION_CODE.tanh && rec === ACTIVATION_CODE.hardSigmoid;
    const below = li > 0 ? layers[li - 1]!.at : 0;
    const xs = x;
    for (let b = 0; b < B; b++) {
      const { slab: hc, at } = inputs[b]!.state;
      const xo = b * K;
      if (li === 0) {
        let o = xo;
        for (let k = 0; k < CATEGORICAL_COUNT; k++) {
          const { dim, table } = embeddings[k]!;
          const row = cat[b * CATEGORICAL_COUNT + k]! * dim;
          for (let d = 0; d < dim; d++) xs[o++] = table[row + d]!;
        }
        for (let n = 0; n < N; n++) xs[o++] = num[b * N + n]!;
      } else {
        for (let u = 0; u < inputSize; u++) xs[xo + u] = hc[at + below + u]!; // the new h of the layer below
      }
      for (let u = 0; u < U; u++) xs[xo + inputSize + u] = hc[at + hAt + u]!;
      xs[xo + K - 1] = 1;
    }
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(xs.subarray(0, B * K), [B, K]), w));
    const z = product.dataSync() as Float32Array;
    product.dispose();
    for (let b = 0; b < B; b++) {
      const { slab: hc, at } = inputs[b]!.state;
      const h = at + hAt;
      const c = h + U;
      const zo = b * G;
      if (defaults) {
        // tfjs's default activations inlined (hardSigmoid, tanh): the hot loop of a default model. tanh is
        // the fused op's rational approximation (|error| < 3e-7, what the trainer's kernels compute).
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
    version,
    classes,
    initialState() {
      if (slabUsed === SLAB_STATES) {
        slab = new Float32Array(SLAB_STATES * stateSize);
        slabUsed = 0;
      }
      return new LstmState(slab, stateSize * slabUsed++);
    },
    step(inputs: readonly StepInput<LstmState>[]): StepOutput<LstmState> {
      if (disposed) throw new Error(`LSTM step model ${version} was disposed`);
      const B = inputs.length;
      if (cat.length < B * CATEGORICAL_COUNT) {
        const rows = Math.max(B, 2 * (cat.length / CATEGORICAL_COUNT));
        cat = new Int32Array(rows * CATEGORICAL_COUNT);
        num = new Float32Array(rows * N);
        x = new Float32Array(rows * Math.max(...layers.map((l) => l.K)));
      }
      for (let b = 0; b < B; b++) encode(inputs[b]!, b);
      for (let li = 0; li < layers.length; li++) layerStep(li, inputs, B);
      const states: LstmState[] = new Array(B);
      const probabilities: number[][] = new Array(B);
      const w = head.kernel;
      for (let b = 0; b < B; b++) {
        const state = inputs[b]!.state;
        const { slab: hc } = state;
        const h = state.at + last.at;
        let s = head.bias;
        for (let u = 0; u < w.length; u++) s += w[u]! * hc[h + u]!;
        states[b] = state;
        probabilities[b] = [activate(headAct, s)];
      }
      return { states, probabilities };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const l of layers) l.w.dispose();
    },
  };
}

/** The step model of a trainer model held in memory (tests, benchmarks); `model` stays the caller's. */
export function lstmStepModelFrom(
  version: string,
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  positiveLabel = 'purchase',
): StepModel<LstmState> {
  return createLstmStepModel(version, extractLstmWeights(version, model, encoder), encoder, [positiveLabel]);
}

const MANIFEST_FILE = 'manifest.json';
const reason = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0]! : String(error));

/** The label the model's sigmoid output predicts, from the trainer's manifest (parameters.labels). */
async function positiveLabelOf(versionDir: string, version: string): Promise<string> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(join(versionDir, MANIFEST_FILE), 'utf8'));
  } catch (error) {
    throw new IncompatibleModelError(`model ${version}: cannot read ${MANIFEST_FILE}: ${reason(error)}`);
  }
  const labels = (manifest as { parameters?: { labels?: { kind?: unknown; target?: unknown } } })?.parameters
    ?.labels;
  if (labels?.kind !== 'binary' || typeof labels.target !== 'string' || labels.target.length === 0) {
    throw new IncompatibleModelError(
      `model ${version}: ${MANIFEST_FILE} has no binary label target (parameters.labels = ${JSON.stringify(labels)})`,
    );
  }
  return labels.target;
}

/**
 * The ModelFactory of the scorer: builds the LSTM step model of a registry version directory (what
 * the trainer writes: model.json + weights.bin, encoder.json, manifest.json). Throws when the
 * directory is missing, and IncompatibleModelError with the reason when a file is unreadable or
 * corrupt, the encoder spec is of an unknown version, or the network is not the trainer's LSTM
 * architecture for that encoder (missing weights, shape mismatch, unsupported activation). The tfjs
 * model is disposed once its weights are extracted.
 */
export async function lstmModelFactory(versionDir: string): Promise<StepModel> {
  const version = basename(versionDir);
  await access(versionDir).catch(() => {
    throw new Error(`model directory ${versionDir} does not exist`);
  });
  const positive = await positiveLabelOf(versionDir, version);
  let encoder: FeatureEncoder;
  try {
    encoder = await loadEncoder(versionDir);
  } catch (error) {
    throw new IncompatibleModelError(`model ${version}: encoder.json: ${reason(error)}`);
  }
  let model: tf.LayersModel;
  try {
    model = await loadModelFiles(versionDir);
  } catch (error) {
    throw new IncompatibleModelError(`model ${version}: cannot load model.json + weights: ${reason(error)}`);
  }
  try {
    return lstmStepModelFrom(version, model, encoder, positive);
  } finally {
    model.dispose();
  }
}

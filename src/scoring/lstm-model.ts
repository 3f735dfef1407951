/**
 * The LSTM step model: the trainer's model (src/model/lstm.ts) advanced one event at a time per
 * session. A session's state is the h and c vectors of every LSTM layer plus the encoder's running
 * session state (step count, cart size, items met), so each event costs one encoder step and one
 * LSTM step per layer, whatever the session's length. `step` encodes all inputs into one batch and
 * runs the cell over it as one batched matrix computation (the row math: lstm-kernel.ts).
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
import { basename } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { CATEGORICAL_COUNT, type FeatureEncoder, type StepState } from '../features/index.js';
import { MODEL_FILES, exists, readModelText } from '../registry/model-dir.js';
import { loadEncoder, loadModelFiles } from '../registry/model-files.js';
import { createStepKernel } from './lstm-kernel.js';
import { LstmState } from './lstm-state.js';
import { type LstmWeights, extractLstmWeights } from './lstm-weights.js';
import { IncompatibleModelError, type StepInput, type StepModel, type StepOutput } from './model.js';

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
  const N = weights.numericSize;
  const kernel = createStepKernel(weights);
  const S = kernel.stateSize;
  let cat = new Int32Array(0);
  let num = new Float32Array(0);
  let prob = new Float64Array(0);
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

  return {
    version,
    classes,
    initialState() {
      if (slabUsed === SLAB_STATES) {
        slab = new Float32Array(SLAB_STATES * S);
        slabUsed = 0;
      }
      return new LstmState(slab, S * slabUsed++);
    },
    step(inputs: readonly StepInput<LstmState>[]): StepOutput<LstmState> {
      if (disposed) throw new Error(`LSTM step model ${version} was disposed`);
      const B = inputs.length;
      if (cat.length < B * CATEGORICAL_COUNT) {
        const rows = Math.max(B, 2 * (cat.length / CATEGORICAL_COUNT));
        cat = new Int32Array(rows * CATEGORICAL_COUNT);
        num = new Float32Array(rows * N);
        prob = new Float64Array(rows);
      }
      const states: LstmState[] = new Array(B);
      for (let b = 0; b < B; b++) {
        encode(inputs[b]!, b);
        states[b] = inputs[b]!.state;
      }
      kernel.run(B, cat, num, states, prob);
      const probabilities: number[][] = new Array(B);
      for (let b = 0; b < B; b++) probabilities[b] = [prob[b]!];
      return { states, probabilities };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      kernel.dispose();
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

const MANIFEST_FILE = MODEL_FILES.manifest;
const reason = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0]! : String(error));

/** The label the model's sigmoid output predicts, from the trainer's manifest (parameters.labels). */
async function positiveLabelOf(versionDir: string, version: string): Promise<string> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readModelText(versionDir, MANIFEST_FILE));
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
  if (!(await exists(versionDir))) throw new Error(`model directory ${versionDir} does not exist`);
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

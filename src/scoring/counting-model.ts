/**
 * The counting step model: a tiny hand-written recurrent model in plain TypeScript, the stand-in
 * the scorer serves until the trainer's LSTM step model lands. Deterministic, tensor-free (nothing to
 * leak), and its state is a plain number array (JSON-serializable).
 *
 * State (STATE_SIZE numbers):
 *   [0..7]  exponentially decayed counts of the event types (KNOWN_EVENT_TYPES, then "other")
 *   [8]     decayed mean of log1p(seconds since the previous event)
 *   [9]     log1p(events so far)
 *   [10]    cart balance: add_to_cart − remove_from_cart, never below 0
 *   [11]    log1p(minutes since the session started)
 * Head: p(purchase) = sigmoid(bias + Σ weight·feature).
 */
import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KNOWN_EVENT_TYPES } from '../schemas/types.js';
import type { StepInput, StepModel, StepOutput } from './model.js';

export type CountingState = number[];

export interface CountingParams {
  /** Per-event decay of the type counts and the gap mean, in (0, 1]. */
  decay: number;
  bias: number;
  /** One weight per state slot (STATE_SIZE). */
  weights: number[];
}

const TYPE_INDEX = new Map<string, number>(KNOWN_EVENT_TYPES.map((t, i) => [t, i]));
const OTHER = KNOWN_EVENT_TYPES.length;
const GAP = OTHER + 1;
const COUNT = GAP + 1;
const CART = COUNT + 1;
const AGE = CART + 1;
export const STATE_SIZE = AGE + 1;

export const DEFAULT_COUNTING_PARAMS: Readonly<CountingParams> = Object.freeze({
  decay: 0.85,
  bias: -3.2,
  //        page  search prod  cart  remove checkout purchase other gap   count  cart  age
  weights: [-0.05, 0.1, 0.25, 0.9, -0.6, 1.6, 2.5, 0, -0.12, 0.35, 0.45, -0.1],
});

/** Parameter file a counting model directory may hold (absent = defaults). */
export const COUNTING_PARAMS_FILE = 'counting.json';

function validateParams(p: CountingParams): CountingParams {
  if (!(p.decay > 0 && p.decay <= 1))
    throw new RangeError(`counting model decay must be in (0, 1], got ${p.decay}`);
  if (!Number.isFinite(p.bias)) throw new RangeError(`counting model bias must be finite, got ${p.bias}`);
  if (!Array.isArray(p.weights) || p.weights.length !== STATE_SIZE || !p.weights.every(Number.isFinite)) {
    throw new RangeError(`counting model weights must be ${STATE_SIZE} finite numbers`);
  }
  return p;
}

export function createCountingStepModel(
  version: string,
  params: Partial<CountingParams> = {},
): StepModel<CountingState> {
  const { decay, bias, weights } = validateParams({ ...DEFAULT_COUNTING_PARAMS, ...params });
  let disposed = false;
  return {
    version,
    classes: ['purchase'],
    initialState: () => new Array<number>(STATE_SIZE).fill(0),
    step(inputs: readonly StepInput<CountingState>[]): StepOutput<CountingState> {
      if (disposed) throw new Error(`counting model ${version} was disposed`);
      const states: CountingState[] = new Array(inputs.length);
      const probabilities: number[][] = new Array(inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        const { state, event, previous, sessionStart } = inputs[i]!;
        const next = new Array<number>(STATE_SIZE);
        const type = TYPE_INDEX.get(event.event_type) ?? OTHER;
        for (let k = 0; k <= OTHER; k++) next[k] = decay * (state[k] ?? 0) + (k === type ? 1 : 0);
        const gapS = previous === undefined ? 0 : Math.max(0, event.event_time - previous.event_time) / 1000;
        next[GAP] = decay * (state[GAP] ?? 0) + (1 - decay) * Math.log1p(gapS);
        next[COUNT] = Math.log1p(Math.round(Math.expm1(state[COUNT] ?? 0)) + 1);
        const cart = (state[CART] ?? 0) + (event.event_type === 'add_to_cart' ? 1 : 0);
        next[CART] = Math.max(0, cart - (event.event_type === 'remove_from_cart' ? 1 : 0));
        next[AGE] = Math.log1p(Math.max(0, event.event_time - sessionStart) / 60_000);
        let z = bias;
        for (let k = 0; k < STATE_SIZE; k++) z += weights[k]! * next[k]!;
        states[i] = next;
        probabilities[i] = [1 / (1 + Math.exp(-z))];
      }
      return { states, probabilities };
    },
    dispose() {
      disposed = true;
    },
  };
}

/** A file whose presence marks a version directory as broken (tests and drills use it). */
export const CORRUPT_MARKER = 'corrupt';

/**
 * Builds the counting model for a registry version directory: version = the directory name, params
 * from `counting.json` when present. Throws when the directory is missing, holds a `corrupt` file,
 * or its params are malformed — so the scorer refuses it and keeps serving the old model.
 */
export async function countingModelFactory(versionDir: string): Promise<StepModel> {
  const version = basename(versionDir);
  await access(versionDir).catch(() => {
    throw new Error(`model directory ${versionDir} does not exist`);
  });
  const marked = await access(join(versionDir, CORRUPT_MARKER)).then(
    () => true,
    () => false,
  );
  if (marked) throw new Error(`model ${version} is marked corrupt (${join(versionDir, CORRUPT_MARKER)})`);
  let params: Partial<CountingParams> = {};
  try {
    params = JSON.parse(
      await readFile(join(versionDir, COUNTING_PARAMS_FILE), 'utf8'),
    ) as Partial<CountingParams>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`model ${version}: cannot read ${COUNTING_PARAMS_FILE}: ${(error as Error).message}`);
    }
  }
  return createCountingStepModel(version, params);
}

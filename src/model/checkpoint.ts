/**
 * Training checkpoints: after every epoch the model weights, the optimizer state (Adam's step and
 * moments), the best weights so far and the loop state (epoch, global step, best metric, patience
 * counter, history, seed) go to the checkpoint directory. Batch order and dropout seeds are pure
 * functions of (seed, epoch, step), so that is all the RNG state there is to keep.
 *
 * Crash safety: tensor files are named after their epoch and written atomically first; state.json
 * (atomic too) is the commit point that names them; files of older epochs are removed afterwards.
 * A crash at any moment leaves a state.json that names complete files.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IntentstreamError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export const CHECKPOINT_VERSION = 1;
const STATE_FILE = 'state.json';

export interface EpochRecord {
  epoch: number;
  loss: number;
  validationAuc: number | null;
  validationLogLoss: number | null;
  seconds: number;
  /** Time steps (batch x padded length) per second in training. */
  stepsPerSecond: number;
}

export interface CheckpointState {
  version: number;
  /** Identifies the run (data, config, seed): a checkpoint of another run is never resumed. */
  fingerprint: string;
  seed: number;
  /** Epochs completed (1-based count). */
  epoch: number;
  globalStep: number;
  bestEpoch: number;
  bestValidationAuc: number | null;
  epochsWithoutImprovement: number;
  /** Training has ended (early stop or all epochs); resume only restores the best weights. */
  finished: boolean;
  history: EpochRecord[];
  files: { weights: string; optimizer: string; best: string };
}

export class CheckpointError extends IntentstreamError {
  override name = 'CheckpointError';
}

interface TensorSpec {
  name: string;
  shape: number[];
}

/** Serializes float32 tensors as a JSON header line + raw little-endian float32 data. */
async function encodeTensors(named: { name: string; tensor: tf.Tensor }[]): Promise<Buffer> {
  const specs: TensorSpec[] = named.map((n) => ({ name: n.name, shape: n.tensor.shape }));
  const header = Buffer.from(`${JSON.stringify(specs)}\n`);
  const parts: Buffer[] = [header];
  for (const n of named) {
    const values =
      n.tensor.dtype === 'float32' ? await n.tensor.data() : Float32Array.from(await n.tensor.data());
    parts.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }
  return Buffer.concat(parts);
}

function decodeTensors(bytes: Buffer): { name: string; tensor: tf.Tensor }[] {
  const newline = bytes.indexOf(10);
  if (newline < 0) throw new CheckpointError('tensor file has no header');
  const specs = JSON.parse(bytes.subarray(0, newline).toString('utf8')) as TensorSpec[];
  let offset = newline + 1;
  return specs.map((spec) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    Buffer.from(values.buffer).set(bytes.subarray(offset, offset + size * 4));
    offset += size * 4;
    return { name: spec.name, tensor: tf.tensor(values, spec.shape, 'float32') };
  });
}

export interface SavedCheckpoint {
  state: CheckpointState;
  weights: tf.Tensor[];
  optimizer: { name: string; tensor: tf.Tensor }[];
  best: tf.Tensor[];
}

const epochName = (epoch: number, what: string) => `epoch-${String(epoch).padStart(4, '0')}.${what}.bin`;

export async function writeCheckpoint(
  dir: string,
  state: Omit<CheckpointState, 'files' | 'version'>,
  tensors: { weights: tf.Tensor[]; optimizer: { name: string; tensor: tf.Tensor }[]; best: tf.Tensor[] },
): Promise<void> {
  const files = {
    weights: epochName(state.epoch, 'weights'),
    optimizer: epochName(state.epoch, 'optimizer'),
    best: epochName(state.epoch, 'best'),
  };
  const indexed = (ts: tf.Tensor[]) => ts.map((tensor, i) => ({ name: `w${i}`, tensor }));
  await writeFileAtomic(join(dir, files.weights), await encodeTensors(indexed(tensors.weights)));
  await writeFileAtomic(join(dir, files.optimizer), await encodeTensors(tensors.optimizer));
  await writeFileAtomic(join(dir, files.best), await encodeTensors(indexed(tensors.best)));
  const full: CheckpointState = { version: CHECKPOINT_VERSION, ...state, files };
  await writeFileAtomic(join(dir, STATE_FILE), Buffer.from(`${JSON.stringify(full, null, 2)}\n`));
  const keep = new Set([STATE_FILE, ...Object.values(files)]);
  for (const f of await readdir(dir)) {
    if (/^epoch-\d+\..+\.bin$/.test(f) && !keep.has(f)) await rm(join(dir, f), { force: true });
  }
}

/** The last checkpoint in `dir`, or undefined when there is none. Tensors belong to the caller. */
export async function readCheckpoint(dir: string): Promise<SavedCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const state = JSON.parse(text) as CheckpointState;
  if (state.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `checkpoint version ${state.version} is not supported (expected ${CHECKPOINT_VERSION})`,
    );
  }
  const load = async (file: string) => decodeTensors(await readFile(join(dir, file)));
  return {
    state,
    weights: (await load(state.files.weights)).map((n) => n.tensor),
    optimizer: await load(state.files.optimizer),
    best: (await load(state.files.best)).map((n) => n.tensor),
  };
}

/** Removes a run's checkpoint (state.json and tensor files). */
export async function clearCheckpoint(dir: string): Promise<void> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return;
  }
  await rm(join(dir, STATE_FILE), { force: true });
  for (const f of files) if (/^epoch-\d+\..+\.bin$/.test(f)) await rm(join(dir, f), { force: true });
}

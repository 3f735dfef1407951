/**
 * bench/train: LSTM training throughput (time steps per second = batch × steps
 * × batches ÷ seconds) for one fixed configuration on each available tfjs
 * backend, and in the same run PyTorch's nn.LSTM with the same shapes on the
 * same CPU (bench/reference/torch_lstm.py; `pip install torch==2.13.0` gives a
 * CPU build). value = best tfjs backend, reference = PyTorch, ratio = value ÷ reference.
 *
 *   npx tsx bench/train.ts [batches=20]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { BACKENDS, type BackendName, selectBackend } from '../src/model/backend.js';
import { machine, writeResult } from './common.js';

const CONFIG = { batch: 128, steps: 30, features: 32, units: 64 };
const BATCHES = Number(process.argv[2] ?? 20);
const WARMUP = 3;

function buildModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.lstm({ units: CONFIG.units, inputShape: [CONFIG.steps, CONFIG.features] }));
  model.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
  return model;
}

async function measure(backend: BackendName): Promise<number | { skipped: string }> {
  const selection = await selectBackend({ requested: backend, fastWasmMatMul: true }).catch((e: Error) => e);
  if (selection instanceof Error) return { skipped: selection.message };
  const model = buildModel();
  const x = tf.randomNormal([CONFIG.batch, CONFIG.steps, CONFIG.features], 0, 1, 'float32', 1);
  const y = tf.cast(tf.greater(tf.randomUniform([CONFIG.batch, 1], 0, 1, 'float32', 2), 0.5), 'float32');
  for (let i = 0; i < WARMUP; i++) await model.trainOnBatch(x, y);
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) await model.trainOnBatch(x, y);
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  model.dispose();
  return (CONFIG.batch * CONFIG.steps * BATCHES) / seconds;
}

const backends: Record<string, number | { skipped: string }> = {};
for (const backend of BACKENDS) {
  backends[backend] = await measure(backend);
  process.stderr.write(`${backend}: ${JSON.stringify(backends[backend])}\n`);
}
const measured = Object.entries(backends).filter((e): e is [string, number] => typeof e[1] === 'number');
const [bestBackend, best] = measured.sort((a, b) => b[1] - a[1])[0]!;

const script = fileURLToPath(new URL('./reference/torch_lstm.py', import.meta.url));
const torchOut = execFileSync('python3', [script, ...Object.values(CONFIG).map(String), String(BATCHES)], {
  encoding: 'utf8',
});
const torch = JSON.parse(torchOut.trim().split('\n').at(-1)!) as {
  steps_per_second: number;
  torch: string;
  threads: number;
};

writeResult('train', {
  value: Math.round(best),
  unit: 'time steps/s (training)',
  reference: Math.round(torch.steps_per_second),
  ratio: Math.round((best / torch.steps_per_second) * 1000) / 1000,
  config: {
    ...CONFIG,
    batches: BATCHES,
    model: 'tfjs-layers LSTM + dense sigmoid, Adam, binary cross-entropy',
  },
  machine: machine(),
  best_backend: bestBackend,
  backends: Object.fromEntries(
    Object.entries(backends).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v]),
  ),
  reference_name: `PyTorch ${torch.torch} nn.LSTM, same shapes, ${torch.threads} threads`,
});

/**
 * bench/score-step: the scorer's LSTM step in isolation (no Kafka, no sessions), the trainer's default
 * model size, B sessions each advancing one event per round: the step model (src/scoring/lstm-model.ts:
 * one matMul per layer and round, gates in plain arrays) vs the same step written entirely as tfjs ops
 * (gather the embeddings, concat, two matMuls, gates, head; one tidy, one dataSync), on the wasm and
 * cpu backends, same weights, same encoded inputs. Also checks both give the same probabilities.
 * Run it with B = 1, 10, 100, 1000: the scorer's rounds range from one row (a bot's burst) to thousands.
 *
 *   npx tsx bench/score-step.ts [batch=1000] [rounds=200]
 */
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../src/config/index.js';
import { CATEGORICAL_COUNT, CATEGORICAL_INPUTS, type FeatureEncoder } from '../src/features/index.js';
import { createGenerator } from '../src/generator/index.js';
import { selectBackend } from '../src/model/backend.js';
import type { ShopEvent } from '../src/schemas/types.js';
import { type LstmState, extractLstmWeights, lstmStepModelFrom } from '../src/scoring/index.js';
import { initializedModel } from '../test/helpers/models.js';
import { machine } from './common.js';

const B = Number(process.argv[2] ?? 1_000);
const ROUNDS = Number(process.argv[3] ?? 200);
tf.env().set('PROD', true);
const { trainer } = loadConfig({ env: {} });
const { model, encoder } = initializedModel({ seed: 1, features: trainer.features, model: trainer.model });
const units = trainer.model.lstmUnits;
if (units.length !== 1) throw new Error('the tfjs reference step implements one LSTM layer');
const U = units[0]!;

const events: ShopEvent[] = [];
for (const item of createGenerator({ seed: 2, maxEvents: B * 4 }))
  if (item.kind === 'event') events.push(item.event);
const eventAt = (r: number, b: number) => events[(r * B + b) % events.length]!;

/** The trainer model's weights as tensors for the tfjs reference step. */
function tfjsStep(enc: FeatureEncoder) {
  const w = (layer: string, i: number) => tf.clone(model.getLayer(layer).getWeights()[i]!);
  const tables = CATEGORICAL_INPUTS.map((name) => w(`${name}_embedding`, 0));
  const [kernel, recurrent, bias] = [w('lstm_0', 0), w('lstm_0', 1), w('lstm_0', 2)];
  const [dense, denseBias] = [w('purchase_probability', 0), w('purchase_probability', 1)];
  const hardSigmoid = (x: tf.Tensor) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
  let h = tf.zeros([B, U]);
  let c = tf.zeros([B, U]);
  const states = Array.from({ length: B }, () => enc.startSession(events[0]!.event_time));
  const cat = new Int32Array(B * CATEGORICAL_COUNT);
  const num = new Float32Array(B * enc.numericSize);
  return (r: number): Float32Array => {
    for (let b = 0; b < B; b++)
      enc.writeStep(eventAt(r, b), states[b]!, cat, b * CATEGORICAL_COUNT, num, b * enc.numericSize);
    const [nextH, nextC, p] = tf.tidy(() => {
      const ids = tf.tensor2d(cat, [B, CATEGORICAL_COUNT], 'int32');
      const x = tf.concat(
        [
          ...tables.map((t, k) => tf.gather(t, tf.squeeze(tf.slice(ids, [0, k], [B, 1]), [1]))),
          tf.tensor2d(num, [B, enc.numericSize]),
        ],
        1,
      );
      const z = tf.add(tf.add(tf.matMul(x, kernel), tf.matMul(h, recurrent)), bias);
      const [zi, zf, zc, zo] = tf.split(z, 4, 1);
      const nc = tf.add(tf.mul(hardSigmoid(zf!), c), tf.mul(hardSigmoid(zi!), tf.tanh(zc!)));
      const nh = tf.mul(hardSigmoid(zo!), tf.tanh(nc));
      return [nh, nc, tf.sigmoid(tf.add(tf.matMul(nh, dense), denseBias))];
    });
    tf.dispose([h, c]);
    h = nextH!;
    c = nextC!;
    const values = p!.dataSync() as Float32Array; // one read-back per step
    p!.dispose();
    return values;
  };
}

function stepModel() {
  const step = lstmStepModelFrom('bench', model, encoder);
  const states = Array.from({ length: B }, () => step.initialState());
  const prev: (ShopEvent | undefined)[] = new Array(B);
  return (r: number): Float32Array => {
    const out = step.step(
      states.map((state: LstmState, b) => ({
        state,
        event: eventAt(r, b),
        previous: prev[b],
        sessionStart: events[0]!.event_time,
      })),
    );
    for (let b = 0; b < B; b++) prev[b] = eventAt(r, b);
    return Float32Array.from(out.probabilities, (row) => row[0]!);
  };
}

function time(run: (r: number) => Float32Array): { rowsPerS: number; last: Float32Array } {
  let last = run(0);
  for (let r = 1; r < 10; r++) last = run(r); // warm-up
  const t0 = performance.now();
  for (let r = 10; r < 10 + ROUNDS; r++) last = run(r);
  return { rowsPerS: Math.round((B * ROUNDS) / ((performance.now() - t0) / 1000)), last };
}

extractLstmWeights('bench', model, encoder); // throws if the architecture is not the servable one
const results: Record<string, number> = {};
for (const backend of ['wasm', 'cpu'] as const) {
  await selectBackend({ requested: backend });
  const ours = time(stepModel());
  results[`step model (one matMul per round), ${backend}`] = ours.rowsPerS;
  const ref = time(tfjsStep(encoder));
  results[`same step as ~25 tfjs ops, ${backend}`] = ref.rowsPerS;
  let maxDiff = 0;
  for (let b = 0; b < B; b++) maxDiff = Math.max(maxDiff, Math.abs(ref.last[b]! - ours.last[b]!));
  results[`max |Δp| between the two, ${backend}`] = maxDiff;
}
process.stdout.write(
  `${JSON.stringify({ bench: 'score-step', batch: B, rounds: ROUNDS, units, machine: machine(), rowsPerSecond: results })}\n`,
);

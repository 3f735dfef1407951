/**
 * The sequence model (tfjs-layers, functional API):
 *
 *   eventType ─ Embedding ───────────┐   (maskZero: id 0 marks a padded step)
 *   item      ─ Embedding ───────────┤
 *   category  ─ Embedding ───────────┼─ Concatenate ─ LSTM ─ Dropout ─ … ─ LSTM ─ Dropout ─ Dense(1, sigmoid)
 *   device    ─ Embedding ───────────┤
 *   referrer  ─ Embedding ───────────┤
 *   numeric [T, N] ──────────────────┘
 *
 * The time dimension is left open, so a batch can be as long as its longest sequence (padded steps
 * are masked: the LSTM carries its state over them, so padding does not change a prediction).
 * The LSTM layers run the fused op of fused-lstm.ts unless `lstmImplementation: layers`; either way
 * a saved model holds standard tfjs-layers LSTM layers with the same weights.
 * Every initializer is seeded from the run seed. Dropout sits BETWEEN layers as Dropout layers, not
 * inside the LSTM: tfjs-layers draws the LSTM's own dropout masks from Math.random, which would
 * break "same seed, same weights"; the trainer reseeds the Dropout layers every step instead
 * (reseedDropout).
 */
import * as tf from '@tensorflow/tfjs';
import { CATEGORICAL_INPUTS, type CategoricalInput, type FeatureEncoder } from '../features/index.js';
import { hash32 } from '../util/random.js';
import { setDropoutSeed } from '../vendor-shims/tfjs-layers.js';
import { type LstmImplementation, lstmLayer } from './fused-lstm.js';

export interface ModelOptions {
  lstmUnits: readonly number[];
  dropout: number;
  embeddingDims: Readonly<Record<CategoricalInput, number>>;
  /**
   * `fused` (default): the LSTM layers run fused-lstm.ts's op (same weights and saved files, several
   * times faster to train); `layers`: tfjs-layers' own LSTM.
   */
  lstmImplementation?: LstmImplementation;
  seed: number;
}

export const NUMERIC_INPUT = 'numeric';
export const OUTPUT_LAYER = 'purchase_probability';

/** tfjs-layers warns on stderr for every orthogonal initializer over 2,000 elements (harmless here). */
function withoutOrthogonalWarning<T>(build: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Orthogonal initializer')) return;
    warn(...args);
  };
  try {
    return build();
  } finally {
    console.warn = warn;
  }
}

export function buildModel(encoder: FeatureEncoder, options: ModelOptions): tf.LayersModel {
  const seedOf = (...parts: number[]) => hash32(options.seed, ...parts);
  return withoutOrthogonalWarning(() => {
    const categorical = CATEGORICAL_INPUTS.map((name) =>
      tf.input({ shape: [null], dtype: 'int32', name: `${name}_input` }),
    );
    const numeric = tf.input({ shape: [null, encoder.numericSize], name: `${NUMERIC_INPUT}_input` });
    const embedded = CATEGORICAL_INPUTS.map(
      (name, i) =>
        tf.layers
          .embedding({
            name: `${name}_embedding`,
            inputDim: encoder.cardinalities[name],
            outputDim: options.embeddingDims[name],
            // Every categorical id is 0 exactly at padded steps, so each embedding yields the same
            // mask. Masking all of them (not only eventType) also keeps Concatenate from building
            // the merged mask out of onesLike(embedding output), which puts tf.all - an op without a
            // gradient - on the backward path.
            maskZero: true,
            embeddingsInitializer: tf.initializers.randomUniform({
              minval: -0.05,
              maxval: 0.05,
              seed: seedOf(1, i),
            }),
          })
          .apply(categorical[i]!) as tf.SymbolicTensor,
    );
    let x = tf.layers
      .concatenate({ name: 'step_features', axis: -1 })
      .apply([...embedded, numeric]) as tf.SymbolicTensor;
    options.lstmUnits.forEach((units, i) => {
      x = lstmLayer(
        {
          name: `lstm_${i}`,
          units,
          returnSequences: i < options.lstmUnits.length - 1,
          kernelInitializer: tf.initializers.glorotUniform({ seed: seedOf(2, i) }),
          recurrentInitializer: tf.initializers.orthogonal({ seed: seedOf(3, i), gain: 1 }),
          unitForgetBias: true,
        },
        options.lstmImplementation ?? 'fused',
      ).apply(x) as tf.SymbolicTensor;
      if (options.dropout > 0) {
        x = tf.layers
          .dropout({ name: `dropout_${i}`, rate: options.dropout, seed: seedOf(4, i) })
          .apply(x) as tf.SymbolicTensor;
      }
    });
    const output = tf.layers
      .dense({
        name: OUTPUT_LAYER,
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seedOf(5) }),
      })
      .apply(x) as tf.SymbolicTensor;
    return tf.model({ name: 'session_lstm', inputs: [...categorical, numeric], outputs: output });
  });
}

/** Gives every Dropout layer a fresh seed for the next training step (deterministic per step). */
export function reseedDropout(model: tf.LayersModel, seed: number, step: number): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'Dropout') setDropoutSeed(layer, hash32(seed, step, i));
  });
}

/**
 * Shifts the output bias by -log(positiveWeight): a model fitted with class weights w+ : w- = r
 * estimates odds r times too high, and this undoes exactly that on the logit scale, so the served
 * probabilities stay calibrated while training still sees balanced classes.
 */
export function correctPriorShift(model: tf.LayersModel, positiveWeightRatio: number): void {
  if (positiveWeightRatio === 1) return;
  const dense = model.getLayer(OUTPUT_LAYER);
  const [kernel, bias] = dense.getWeights();
  const shifted = tf.tidy(() => tf.sub(bias!, Math.log(positiveWeightRatio)));
  dense.setWeights([kernel!, shifted]);
  shifted.dispose();
}

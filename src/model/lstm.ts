/**
 * The sequence model (tfjs-layers, functional API):
 *
 *   eventType ─ Embedding ───────────┐   (maskZero: id 0 marks a padded step, as in every id input)
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
import {
  type ConcatenateArgs,
  type EmbeddingArgs,
  concatenateLayerClass,
  embeddingLayerClass,
  setDropoutSeed,
} from '../vendor-shims/tfjs-layers.js';
import { type LstmImplementation, lstmLayer } from './fused-lstm.js';
import { NUMERIC_INPUT_LAYER, OUTPUT_LAYER, STEP_FEATURES_LAYER, embeddingLayerName } from './layer-names.js';

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

export { NUMERIC_INPUT, OUTPUT_LAYER } from './layer-names.js';

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

const EmbeddingLayer = embeddingLayerClass();
const ConcatenateLayer = concatenateLayerClass();

const single = (x: tf.Tensor | tf.Tensor[]) => (Array.isArray(x) ? x[0]! : x);
/** "No mask": tfjs-layers returns null, though its types say a mask is always a tensor. */
const NO_MASK = null as unknown as tf.Tensor;

/**
 * An Embedding whose mask (id ≠ 0) compares the ids with a scalar instead of with zerosLike(ids):
 * one GPU dispatch fewer each time tfjs-layers asks for it (twice a step). Saves as a plain Embedding.
 */
class ScalarMaskEmbedding extends EmbeddingLayer {
  static className = 'Embedding';

  override computeMask(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!this.maskZero) return NO_MASK;
    return tf.tidy(() => tf.notEqual(single(inputs), tf.scalar(0, single(inputs).dtype)));
  }
}

/**
 * A Concatenate whose merged mask, when exactly one input has a mask over its steps, is that mask:
 * tfjs builds ones for the other inputs, concatenates and reduces them with `all` (four dispatches
 * for the same values, and `all` has no gradient). Saves as a plain Concatenate. (The LSTM gets the
 * event type's mask either way: tfjs-layers' executor passes a layer's first input mask on in the
 * kwargs it reuses for the layers after it.)
 */
class StepFeaturesConcatenate extends ConcatenateLayer {
  static className = 'Concatenate';

  override computeMask(
    inputs: tf.Tensor | tf.Tensor[],
    mask?: tf.Tensor | tf.Tensor[],
  ): tf.Tensor | tf.Tensor[] {
    const given = (Array.isArray(mask) ? mask : []).filter((m): m is tf.Tensor => m != null);
    const only = given.length === 1 ? given[0]! : undefined;
    if (only !== undefined && Array.isArray(inputs) && inputs.every((x) => x.rank === only.rank + 1))
      return only;
    return super.computeMask(inputs, mask);
  }
}

export function buildModel(encoder: FeatureEncoder, options: ModelOptions): tf.LayersModel {
  const seedOf = (...parts: number[]) => hash32(options.seed, ...parts);
  return withoutOrthogonalWarning(() => {
    const categorical = CATEGORICAL_INPUTS.map((name) =>
      tf.input({ shape: [null], dtype: 'int32', name: `${name}_input` }),
    );
    const numeric = tf.input({ shape: [null, encoder.numericSize], name: NUMERIC_INPUT_LAYER });
    const embedded = CATEGORICAL_INPUTS.map(
      (name, i) =>
        new ScalarMaskEmbedding({
          name: embeddingLayerName(name),
          inputDim: encoder.cardinalities[name],
          outputDim: options.embeddingDims[name],
          // Every categorical id is 0 exactly at padded steps, so one input's mask is every
          // input's: the event type's, which the concatenation passes on as it is.
          maskZero: name === 'eventType',
          embeddingsInitializer: tf.initializers.randomUniform({
            minval: -0.05,
            maxval: 0.05,
            seed: seedOf(1, i),
          }),
        } satisfies EmbeddingArgs).apply(categorical[i]!) as tf.SymbolicTensor,
    );
    let x = new StepFeaturesConcatenate({
      name: STEP_FEATURES_LAYER,
      axis: -1,
    } satisfies ConcatenateArgs).apply([...embedded, numeric]) as tf.SymbolicTensor;
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

/**
 * tfjs-layers internals (4.22): the LSTM, Embedding and Concatenate layer classes (tfjs exports only
 * their factories), which the fused LSTM layer (model/fused-lstm.ts) and the model's mask-computing
 * layers (model/lstm.ts) subclass, with the LSTM's types from a deep import; and the Dropout layer's
 * `seed` field, set per training step for reproducible dropout (model/lstm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { LSTM, LSTMCell } from '@tensorflow/tfjs-layers/dist/layers/recurrent.js';
import type { ShimProblem } from './problems.js';

export type { LSTM, LSTMCell };
export type LstmArgs = Parameters<typeof tf.layers.lstm>[0];

/** The class behind tf.layers.lstm. */
export function lstmLayerClass(): new (args: LstmArgs) => LSTM {
  return Object.getPrototypeOf(tf.layers.lstm({ units: 1 })).constructor;
}

export type EmbeddingArgs = Parameters<typeof tf.layers.embedding>[0];
export type ConcatenateArgs = NonNullable<Parameters<typeof tf.layers.concatenate>[0]>;

/** The class behind tf.layers.embedding (its `maskZero` field says whether id 0 is masked). */
export function embeddingLayerClass(): new (args: EmbeddingArgs) => tf.layers.Layer & { maskZero?: boolean } {
  return Object.getPrototypeOf(tf.layers.embedding({ inputDim: 2, outputDim: 1 })).constructor;
}

/** The class behind tf.layers.concatenate. */
export function concatenateLayerClass(): new (args: ConcatenateArgs) => tf.layers.Layer {
  return Object.getPrototypeOf(tf.layers.concatenate({})).constructor;
}

/** Sets the seed a Dropout layer draws its next mask from. */
export function setDropoutSeed(layer: tf.layers.Layer, seed: number): void {
  (layer as unknown as { seed?: number }).seed = seed;
}

/** The layer classes and the Dropout field above; `lib` is for tests. */
export function checkTfjsLayersInternals(
  lib: {
    lstm: () => unknown;
    dropout: () => unknown;
    embedding: () => unknown;
    concatenate: () => unknown;
  } = {
    lstm: () => tf.layers.lstm({ units: 1 }),
    dropout: () => tf.layers.dropout({ rate: 0.5, seed: 1 }),
    embedding: () => tf.layers.embedding({ inputDim: 2, outputDim: 1, maskZero: true }),
    concatenate: () => tf.layers.concatenate({}),
  },
): ShimProblem[] {
  const problems: ShimProblem[] = [];
  const classNameOf = (layer: unknown) =>
    (Object.getPrototypeOf(layer) as { constructor?: { className?: unknown } }).constructor?.className;
  for (const [name, make] of [
    ['Embedding', lib.embedding],
    ['Concatenate', lib.concatenate],
  ] as const) {
    const layer = make() as { maskZero?: unknown };
    if (classNameOf(layer) !== name || (name === 'Embedding' && layer.maskZero !== true)) {
      problems.push({
        package: '@tensorflow/tfjs-layers',
        internal: `${name} class`,
        severity: 'fatal',
        message: `@tensorflow/tfjs-layers: the class behind tf.layers.${name.toLowerCase()} is not '${name}'${name === 'Embedding' ? ' with a maskZero field' : ''}, so the model's ${name} layer cannot subclass it; the installed tfjs is not the version src/vendor-shims/tfjs-layers.ts was written for`,
      });
    }
  }
  if (classNameOf(lib.lstm()) !== 'LSTM') {
    problems.push({
      package: '@tensorflow/tfjs-layers',
      internal: 'LSTM class',
      severity: 'fatal',
      message:
        "@tensorflow/tfjs-layers: the class behind tf.layers.lstm is not 'LSTM', so the fused LSTM layer cannot subclass it; the installed tfjs is not the version src/vendor-shims/tfjs-layers.ts was written for",
    });
  }
  if ((lib.dropout() as { seed?: unknown }).seed !== 1) {
    problems.push({
      package: '@tensorflow/tfjs-layers',
      internal: 'Dropout.seed',
      severity: 'fatal',
      message:
        '@tensorflow/tfjs-layers: a Dropout layer no longer keeps its seed in a seed field, so reseeding per step would have no effect; the installed tfjs is not the version src/vendor-shims/tfjs-layers.ts was written for',
    });
  }
  return problems;
}

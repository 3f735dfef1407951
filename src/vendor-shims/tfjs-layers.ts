/**
 * tfjs-layers internals (4.22): the LSTM layer class (tfjs exports only its factory), which the fused
 * LSTM layer subclasses (model/fused-lstm.ts), with its types from a deep import; and the Dropout layer's
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

/** Sets the seed a Dropout layer draws its next mask from. */
export function setDropoutSeed(layer: tf.layers.Layer, seed: number): void {
  (layer as unknown as { seed?: number }).seed = seed;
}

/** The layer class and the Dropout field above; `lib` is for tests. */
export function checkTfjsLayersInternals(
  lib: { lstm: () => unknown; dropout: () => unknown } = {
    lstm: () => tf.layers.lstm({ units: 1 }),
    dropout: () => tf.layers.dropout({ rate: 0.5, seed: 1 }),
  },
): ShimProblem[] {
  const problems: ShimProblem[] = [];
  const ctor = (Object.getPrototypeOf(lib.lstm()) as { constructor?: { className?: unknown } }).constructor;
  if (ctor?.className !== 'LSTM') {
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

import * as tf from '@tensorflow/tfjs';

/** n examples for the loss: labels 0/1, predictions across (0, 1) and at both ends, weights of two kinds. */
export function lossInputs(n: number) {
  const labels = tf.tensor2d(
    Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    [n, 1],
  );
  const p = tf.tensor2d(
    Float32Array.from({ length: n }, (_, i) =>
      i % 7 === 0 ? 1e-9 : i % 11 === 0 ? 1 - 1e-7 : (i * 0.618) % 1,
    ),
    [n, 1],
  );
  const weights = tf.tensor2d(
    Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 2.5 : 0.4)),
    [n, 1],
  );
  return { labels, p, weights };
}

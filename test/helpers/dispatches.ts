import * as tf from '@tensorflow/tfjs';

/** Runs `work` on the webgpu backend; how many programs it dispatched (and its result, disposed). */
export async function countDispatches<R extends tf.TensorContainer>(
  work: () => R | Promise<R>,
): Promise<number> {
  const backend = tf.backend() as unknown as { recordAndSubmit: (...args: unknown[]) => unknown };
  const original = backend.recordAndSubmit;
  let count = 0;
  backend.recordAndSubmit = function (this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  try {
    const result = await work();
    tf.dispose(result);
  } finally {
    backend.recordAndSubmit = original;
  }
  return count;
}

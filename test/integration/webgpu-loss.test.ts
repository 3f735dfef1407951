/**
 * The training loss's webgpu kernels (model/weighted-log-loss.ts) on a Vulkan device (SwiftShader
 * unless VK_ICD_FILENAMES names another): the value and the gradient w.r.t. the predictions equal
 * the cpu backend's, for fewer examples than the reduction's threads, a stride of them, and many, with
 * predictions at both ends of (0, 1); one dispatch each way.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { weightedLogLoss } from '../../src/model/weighted-log-loss.js';
import { countDispatches } from '../helpers/dispatches.js';
import { lossInputs } from '../helpers/loss-inputs.js';
import { useVulkanDevice } from '../helpers/swiftshader.js';

before(useVulkanDevice);

/** The loss and its gradient w.r.t. p on the current backend, as plain numbers. */
async function lossAndGradient(n: number) {
  const { labels, p, weights } = lossInputs(n);
  const { value, grads } = tf.valueAndGrads((q: tf.Tensor) => weightedLogLoss(labels, q, weights))([p]);
  const result = { loss: (await value.data())[0]!, dp: Array.from(await grads[0]!.data()) };
  tf.dispose([labels, p, weights, value, ...grads]);
  return result;
}

describe('weighted log loss on webgpu', () => {
  for (const n of [1, 7, 256, 1000]) {
    it(`equals the cpu backend's value and gradient, ${n} examples`, async () => {
      await selectBackend({ requested: 'webgpu' });
      const gpu = await lossAndGradient(n);
      await selectBackend({ requested: 'cpu' });
      const cpu = await lossAndGradient(n);
      assert.ok(
        Math.abs(gpu.loss - cpu.loss) <= 1e-5 * Math.abs(cpu.loss),
        `loss ${gpu.loss} vs ${cpu.loss}`,
      );
      const scale = Math.max(...cpu.dp.map(Math.abs));
      const worst = Math.max(...gpu.dp.map((g, i) => Math.abs(g - cpu.dp[i]!)));
      assert.ok(worst <= 1e-5 * scale, `gradient: max difference ${worst} (scale ${scale})`);
    });
  }

  it('dispatches one program each way', async () => {
    await selectBackend({ requested: 'webgpu' });
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    try {
      const { labels, p, weights } = lossInputs(300);
      const onGpu = [labels, p, weights].map((t) => tf.add(t, 0)); // uploaded first
      const [y, q, w] = onGpu as [tf.Tensor, tf.Tensor, tf.Tensor];
      const forward = await countDispatches(() => weightedLogLoss(y, q, w));
      const both = await countDispatches(() => tf.grad((x: tf.Tensor) => weightedLogLoss(y, x, w))(q));
      tf.dispose([labels, p, weights, ...onGpu]);
      assert.equal(forward, 1);
      assert.equal(both, 2, 'the forward program and the gradient program');
    } finally {
      tf.env().set('WEBGPU_CPU_FORWARD', true);
    }
  });
});

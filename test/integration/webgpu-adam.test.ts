/**
 * The fused Adam step (model/webgpu-adam.ts) on a Vulkan device (SwiftShader unless
 * VK_ICD_FILENAMES names another): the same weights and moments as tfjs's own Adam over several
 * steps with a learning-rate change, on weights of odd sizes (one element, not a multiple of the
 * workgroup, more than one workgroup), with and without an L2 penalty's gradient added in the step;
 * its saved state has tfjs's names and resumes where it left off; three dispatches per weight where tfjs's takes fourteen; and on other backends it is tfjs's
 * Adam exactly.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { FusedAdamOptimizer, isFusedAdam } from '../../src/model/webgpu-adam.js';
import { setAdamLearningRate } from '../../src/vendor-shims/tfjs-core.js';
import { countDispatches } from '../helpers/dispatches.js';
import { useVulkanDevice } from '../helpers/swiftshader.js';

/** Largest |fused − tfjs| allowed, relative to the largest |tfjs| value of the same tensor. */
const RELATIVE_TOLERANCE = 1e-5;
const SHAPES = [[1], [7], [3, 5], [130, 9]];
const RATE = 0.05;

before(useVulkanDevice);

const values = (n: number, k: number, scale = 1) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * scale);

let run = 0;

/** Fresh weights (the same values every call) under names of their own. */
function weights(): tf.Variable[] {
  run++;
  return SHAPES.map((shape, w) =>
    tf.variable(
      tf.tensor(values(tf.util.sizeFromShape(shape), 0.7 + w, 0.5), shape),
      true,
      `adam_test_${run}_${w}`,
    ),
  );
}

/**
 * Steps from..to-1 of `optimizer` on `vars`: gradients a function of (step, weight), the rate halved
 * at step 3; `l2` adds the gradient of an L2 penalty λ·Σw² (2λ·w) to every weight's but the first.
 */
function steps(optimizer: tf.AdamOptimizer, vars: tf.Variable[], from: number, to: number, l2 = 0): void {
  for (let step = from; step < to; step++) {
    setAdamLearningRate(optimizer, step >= 3 ? RATE / 2 : RATE);
    const grads = tf.tidy(() =>
      vars.map((v, w) => {
        // Mixed signs and magnitudes, some exactly zero.
        const given = tf.tensor(
          values(v.size, 1.3 + step + w, step % 2 === 0 ? 1 : 1e-3).map((x, i) => (i % 5 === 4 ? 0 : x)),
          v.shape,
        );
        return { name: v.name, tensor: l2 > 0 && w > 0 ? tf.add(given, tf.mul(v, 2 * l2)) : given };
      }),
    );
    optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
}

/** Weights and optimizer state, by name (optimizer weights named after the weights, made comparable). */
async function stateOf(optimizer: tf.AdamOptimizer, vars: tf.Variable[]) {
  const state = new Map<string, Float32Array>();
  const plain = (name: string) => name.replace(/adam_test_\d+_/, 'w');
  for (const v of vars) state.set(plain(v.name), (await v.data()) as Float32Array);
  for (const { name, tensor } of await optimizer.getWeights()) {
    state.set(plain(name), Float32Array.from(await tensor.data()));
  }
  return state;
}

function assertClose(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>): number {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  let worst = 0;
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    const scale = Math.max(1e-30, ...want.map(Math.abs));
    const error = Math.max(...got.map((x, i) => Math.abs(x - want[i]!))) / scale;
    assert.ok(error <= RELATIVE_TOLERANCE, `${name}: relative error ${error}`);
    worst = Math.max(worst, error);
  }
  return worst;
}

/** `count` steps; `l2` > 0: the penalty's gradient in the given gradients, or set on a fused optimizer. */
async function trained(make: () => tf.AdamOptimizer, count: number, l2 = 0) {
  const vars = weights();
  const optimizer = make();
  if (isFusedAdam(optimizer))
    optimizer.setL2(
      vars.slice(1).map((v) => v.name),
      l2,
    );
  steps(optimizer, vars, 0, count, isFusedAdam(optimizer) ? 0 : l2);
  const state = await stateOf(optimizer, vars);
  optimizer.dispose();
  tf.dispose(vars);
  return state;
}

describe('fused Adam step on webgpu', () => {
  it('updates weights and moments as tfjs Adam does', async (t) => {
    await selectBackend({ requested: 'webgpu' });
    const stock = await trained(() => tf.train.adam(RATE), 6);
    const fused = await trained(() => new FusedAdamOptimizer(RATE), 6);
    const worst = assertClose(fused, stock);
    t.diagnostic(`max relative error over ${stock.size} tensors after 6 steps: ${worst.toExponential(2)}`);
  });

  it("adds an L2 penalty's gradient in the step as tfjs Adam does with it in the gradients", async (t) => {
    await selectBackend({ requested: 'webgpu' });
    const l2 = 0.05;
    const stock = await trained(() => tf.train.adam(RATE), 6, l2);
    const fused = await trained(() => new FusedAdamOptimizer(RATE), 6, l2);
    const worst = assertClose(fused, stock);
    t.diagnostic(`with λ = ${l2}: max relative error ${worst.toExponential(2)}`);
  });

  it('saves its state under tfjs names and resumes from it as tfjs Adam does', async () => {
    await selectBackend({ requested: 'webgpu' });
    // Two steps, state saved, a new optimizer from it, three more (tfjs restores the bias-correction
    // powers with pow(), not its running product, so a resumed run is compared with a resumed one).
    const resumedRun = async (make: () => tf.AdamOptimizer) => {
      const vars = weights();
      const first = make();
      steps(first, vars, 0, 2);
      const saved = (await first.getWeights()).map(({ name, tensor }) => ({
        name,
        tensor: tf.clone(tensor),
      }));
      first.dispose();
      const resumed = make();
      await resumed.setWeights(saved);
      steps(resumed, vars, 2, 5);
      const state = await stateOf(resumed, vars);
      resumed.dispose();
      tf.dispose(vars);
      return state;
    };
    const stock = await resumedRun(() => tf.train.adam(RATE));
    const fused = await resumedRun(() => new FusedAdamOptimizer(RATE));
    assert.ok([...stock.keys()].includes('w0/m') && [...stock.keys()].includes('iter'));
    assertClose(fused, stock);
  });

  it('dispatches three programs per weight (tfjs Adam fourteen ops)', async (t) => {
    await selectBackend({ requested: 'webgpu' });
    // Small tensors would otherwise run on the CPU depending on their size.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    try {
      const count = async (make: () => tf.AdamOptimizer) => {
        const vars = weights();
        const optimizer = make();
        steps(optimizer, vars, 0, 1); // creates the moments
        const grads = vars.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
        const n = await countDispatches(() => {
          optimizer.applyGradients(grads);
          return [];
        });
        tf.dispose([...vars, ...grads.map((g) => g.tensor)]);
        optimizer.dispose();
        return n;
      };
      const stock = await count(() => tf.train.adam(RATE));
      const fused = await count(() => new FusedAdamOptimizer(RATE));
      t.diagnostic(`dispatches per step for ${SHAPES.length} weights: tfjs Adam ${stock}, fused ${fused}`);
      // Per weight, plus the two bias-correction powers (one multiply each).
      assert.equal(fused, 3 * SHAPES.length + 2);
      assert.equal(stock, 14 * SHAPES.length + 4);
    } finally {
      tf.env().set('WEBGPU_CPU_FORWARD', true);
    }
  });

  it('leaves no tensor behind', async () => {
    await selectBackend({ requested: 'webgpu' });
    const vars = weights();
    const optimizer = new FusedAdamOptimizer(RATE);
    steps(optimizer, vars, 0, 1);
    const before = tf.memory().numTensors;
    steps(optimizer, vars, 1, 4);
    assert.equal(tf.memory().numTensors, before);
    optimizer.dispose();
    tf.dispose(vars);
  });

  it('is tfjs Adam exactly on the cpu backend', async () => {
    await selectBackend({ requested: 'cpu' });
    const stock = await trained(() => tf.train.adam(RATE), 6);
    const fused = await trained(() => new FusedAdamOptimizer(RATE), 6);
    assert.deepEqual(fused, stock);
    // With an L2 penalty: tfjs's step on the gradients plus 2λ·w, which the fused optimizer adds.
    const l2 = 0.05;
    assert.deepEqual(
      await trained(() => new FusedAdamOptimizer(RATE), 6, l2),
      await trained(() => tf.train.adam(RATE), 6, l2),
    );
  });
});

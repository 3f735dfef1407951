/**
 * The training loss op (model/weighted-log-loss.ts) on the cpu backend: the value and the gradient
 * w.r.t. the predictions that autodiff gives for tf.losses.logLoss weighted and averaged.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { LOSS_EPSILON, weightedLogLoss } from '../../src/model/weighted-log-loss.js';
import { lossInputs } from '../helpers/loss-inputs.js';

before(async () => {
  await tf.setBackend('cpu');
});

const reference = (labels: tf.Tensor, p: tf.Tensor, weights: tf.Tensor) =>
  tf.mean(tf.mul(tf.losses.logLoss(labels, p, undefined, LOSS_EPSILON, tf.Reduction.NONE), weights));

describe('weightedLogLoss (cpu)', () => {
  for (const n of [1, 7, 300]) {
    it(`gives tf.losses.logLoss's weighted mean and its gradient, ${n} examples`, () => {
      const { labels, p, weights } = lossInputs(n);
      const value = weightedLogLoss(labels, p, weights).dataSync()[0]!;
      const expected = reference(labels, p, weights).dataSync()[0]!;
      assert.ok(Math.abs(value - expected) <= 1e-6 * Math.abs(expected), `${value} vs ${expected}`);
      const grad = (f: typeof reference) =>
        tf
          .grad((q: tf.Tensor) => f(labels, q, weights))(p)
          .dataSync();
      const [got, want] = [grad(weightedLogLoss), grad(reference)];
      const scale = Math.max(...want.map(Math.abs));
      const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i]!)));
      assert.ok(worst <= 1e-6 * scale, `gradient: max difference ${worst} (scale ${scale})`);
      tf.dispose([labels, p, weights]);
    });
  }

  it('refuses inputs of different shapes, naming them', () => {
    const { labels, p, weights } = lossInputs(4);
    assert.throws(() => weightedLogLoss(labels, p, tf.ones([4])), /weights 4 must have one shape/);
    tf.dispose([labels, p, weights]);
  });
});

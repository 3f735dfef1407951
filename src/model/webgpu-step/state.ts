/// <reference types="@webgpu/types" />
/**
 * The training step's weights and Adam state in tfjs's terms: the flat parameter buffer read from and
 * written back into the model's layers, Adam's moments as tfjs's AdamOptimizer saves them (`iter`,
 * then `name/m` and `name/v` in trainable-weight order), so checkpoints resume on any backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { GpuKit } from './gpu.js';
import type { ModelPlan } from './layout.js';

/** A named tensor as tfjs optimizers save their state. */
export type NamedTensor = { name: string; tensor: tf.Tensor };

/** The model's weights as one flat array in the plan's layout. */
export async function readModelWeights(plan: ModelPlan): Promise<Float32Array> {
  const values = new Float32Array(plan.layout.size);
  for (const slot of plan.slots) {
    const data = await slot.layer.getWeights()[slot.index]!.data();
    if (data.length !== slot.size)
      throw new Error(
        `${slot.layer.name} weight ${slot.index}: ${data.length} values, the plan has ${slot.size}`,
      );
    values.set(data as Float32Array, slot.offset);
  }
  return values;
}

/** Sets the model's layers to the weights in `values` (the plan's layout). */
export function writeModelWeights(plan: ModelPlan, values: Float32Array): void {
  const byLayer = new Map<tf.layers.Layer, tf.Tensor[]>();
  for (const slot of plan.slots) {
    const current = byLayer.get(slot.layer) ?? slot.layer.getWeights();
    const replaced = [...current];
    replaced[slot.index] = tf.tensor(
      values.subarray(slot.offset, slot.offset + slot.size),
      current[slot.index]!.shape,
    );
    byLayer.set(slot.layer, replaced);
  }
  for (const [layer, weights] of byLayer) {
    const own = layer.getWeights();
    layer.setWeights(weights);
    for (const w of weights) if (!own.includes(w)) w.dispose();
  }
}

/** The model's trainable weights in order, each with its place in the layout. */
function trainableSlots(model: tf.LayersModel, plan: ModelPlan) {
  return model.trainableWeights.map((w) => {
    const slot = plan.slots.find((s) => s.layer.weights[s.index] === w);
    if (slot === undefined) throw new Error(`trainable weight ${w.name} has no place in the step's layout`);
    return { name: w.name, slot, shape: w.shape as number[] };
  });
}

/** Adam's state as tfjs's AdamOptimizer saves it, from the moment buffers. */
export async function saveAdamState(
  kit: GpuKit,
  model: tf.LayersModel,
  plan: ModelPlan,
  moments: [GPUBuffer, GPUBuffer],
  iterations: number,
): Promise<NamedTensor[]> {
  const m = await kit.read(moments[0], plan.layout.size);
  const v = await kit.read(moments[1], plan.layout.size);
  const ordered = trainableSlots(model, plan);
  const moment = (values: Float32Array, suffix: string) =>
    ordered.map(({ name, slot, shape }) => ({
      name: `${name}/${suffix}`,
      tensor: tf.tensor(values.slice(slot.offset, slot.offset + slot.size), shape),
    }));
  return [{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }, ...moment(m, 'm'), ...moment(v, 'v')];
}

/** Writes Adam's state saved by `saveAdamState` or by tfjs's Adam into the moment buffers; returns iter. */
export async function loadAdamState(
  kit: GpuKit,
  model: tf.LayersModel,
  plan: ModelPlan,
  moments: [GPUBuffer, GPUBuffer],
  saved: readonly NamedTensor[],
): Promise<number> {
  const iter = saved.find((w) => w.name === 'iter');
  const rest = saved.filter((w) => w.name !== 'iter');
  const ordered = trainableSlots(model, plan);
  if (iter === undefined || rest.length !== 2 * ordered.length)
    throw new Error(
      `the optimizer state has ${iter === undefined ? 'no iter and ' : ''}${rest.length} moments; the model needs ${2 * ordered.length}`,
    );
  for (const [which, buffer] of moments.entries()) {
    const values = new Float32Array(plan.layout.size);
    for (const [k, { slot }] of ordered.entries()) {
      const saved = rest[which * ordered.length + k]!;
      const data = await saved.tensor.data();
      if (data.length !== slot.size)
        throw new Error(`optimizer state ${saved.name}: ${data.length} values, expected ${slot.size}`);
      values.set(data as Float32Array, slot.offset);
    }
    kit.device.queue.writeBuffer(buffer, 0, values);
  }
  return (await iter.tensor.data())[0]!;
}

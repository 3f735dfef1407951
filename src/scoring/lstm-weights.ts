/**
 * The trainer's tfjs model (src/model/lstm.ts) taken apart into plain arrays for the LSTM step model:
 * the five embedding tables, every LSTM layer's kernels and bias with its activations, and the dense
 * head. Everything the step math relies on is checked here,
 * so a model of another shape is refused with the reason instead of scoring garbage:
 *
 *   5 Embeddings (CATEGORICAL_INPUTS order, rows = the encoder's cardinalities) + numeric input
 *   (encoder.numericSize wide) → Concatenate in that order → LSTM (→ Dropout) … → Dense(1).
 *
 * tfjs's LSTM cell: z = x·kernel + h·recurrentKernel + bias, split in four along the last axis in the
 * gate order i, f, c, o; i, f, o = recurrentActivation(z_i,f,o) (tfjs's default is hardSigmoid),
 * c' = f·c + i·activation(z_c), h' = o·activation(c'). Dropout is the identity at inference.
 */
import type * as tf from '@tensorflow/tfjs';
import { CATEGORICAL_INPUTS, type FeatureEncoder } from '../features/index.js';
import {
  STEP_FEATURES_LAYER as CONCAT_LAYER,
  NUMERIC_INPUT_LAYER,
  embeddingLayerName as embeddingLayer,
} from '../model/layer-names.js';
import { IncompatibleModelError } from './model.js';

/** Activations the step math implements (tfjs-layers' serialized names). */
export const ACTIVATIONS = ['tanh', 'sigmoid', 'hardSigmoid', 'linear', 'relu'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export interface LstmLayerWeights {
  inputSize: number;
  units: number;
  /** [inputSize, 4·units] row-major (layer 0's input: the embeddings in order, then the numeric features). */
  kernel: Float64Array;
  /** [units, 4·units] row-major. */
  recurrent: Float64Array;
  /** [4·units] (zeros when the layer has no bias). */
  bias: Float64Array;
  activation: ActivationName;
  recurrentActivation: ActivationName;
}

export interface LstmWeights {
  layers: LstmLayerWeights[];
  /** Per categorical input (CATEGORICAL_INPUTS order): the embedding table [cardinality, dim] and its dim. */
  embeddings: { dim: number; table: Float32Array }[];
  numericSize: number;
  head: { kernel: Float64Array; bias: number; activation: ActivationName };
}

type AnyLayer = tf.layers.Layer;

function activationOf(layer: AnyLayer, key: string, fail: (why: string) => never): ActivationName {
  const name = (layer.getConfig() as Record<string, unknown>)[key];
  if (!ACTIVATIONS.includes(name as ActivationName)) {
    fail(
      `layer ${layer.name} has ${key} ${JSON.stringify(name)}; the step model implements ${ACTIVATIONS.join(', ')}`,
    );
  }
  return name as ActivationName;
}

function values(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

function shapeIs(t: tf.Tensor | undefined, shape: number[]): boolean {
  return t !== undefined && t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
}

/** The single layer consuming `layer`'s output (the model is one chain after the concatenation). */
function nextLayer(layer: AnyLayer, fail: (why: string) => never): AnyLayer | undefined {
  const consumers = layer.outboundNodes.map((n) => n.outboundLayer);
  if (consumers.length > 1) fail(`layer ${layer.name} feeds ${consumers.length} layers; expected a chain`);
  return consumers[0];
}

/**
 * Extracts the step model's weights from the trainer's model and checks it against `encoder`.
 * Throws IncompatibleModelError (naming `version` and the reason) for any other architecture.
 * Reads weights only: the caller still owns (and disposes) `model`.
 */
export function extractLstmWeights(
  version: string,
  model: tf.LayersModel,
  encoder: FeatureEncoder,
): LstmWeights {
  const fail = (why: string): never => {
    throw new IncompatibleModelError(`model ${version} is not a servable LSTM: ${why}`);
  };
  const layer = (name: string): AnyLayer => {
    try {
      return model.getLayer(name);
    } catch {
      return fail(`it has no layer ${name}`);
    }
  };

  const numericInput = layer(NUMERIC_INPUT_LAYER);
  const numericWidth = numericInput.batchInputShape?.at(-1);
  if (numericWidth !== encoder.numericSize) {
    fail(
      `its numeric input is ${numericWidth} wide but the encoder produces ${encoder.numericSize} features`,
    );
  }
  const embeddings = CATEGORICAL_INPUTS.map((name) => {
    const l = layer(embeddingLayer(name));
    if (l.getClassName() !== 'Embedding') fail(`layer ${l.name} is a ${l.getClassName()}, not an Embedding`);
    const [table] = l.getWeights();
    const rows = encoder.cardinalities[name];
    if (table === undefined || table.shape.length !== 2 || table.shape[0] !== rows) {
      fail(`embedding ${l.name} has shape [${table?.shape.join(', ')}], the encoder needs ${rows} rows`);
    }
    return { dim: table!.shape[1]!, table: Float32Array.from(table!.dataSync()) };
  });

  const concat = layer(CONCAT_LAYER);
  const fed = concat.inboundNodes[0]?.inboundLayers.map((l) => l.name) ?? [];
  const expected = [...CATEGORICAL_INPUTS.map(embeddingLayer), NUMERIC_INPUT_LAYER];
  if (concat.getClassName() !== 'Concatenate' || fed.join() !== expected.join()) {
    fail(
      `layer ${CONCAT_LAYER} must concatenate ${expected.join(', ')} in this order (got ${fed.join(', ')})`,
    );
  }
  const stepWidth = embeddings.reduce((s, e) => s + e.dim, 0) + encoder.numericSize;

  const layers: LstmLayerWeights[] = [];
  let head: LstmWeights['head'] | undefined;
  let width = stepWidth;
  const returnsSequences: boolean[] = [];
  for (let l = nextLayer(concat, fail); l !== undefined; l = nextLayer(l, fail)) {
    if (head !== undefined) fail(`layer ${l.name} follows the dense head`);
    const kind = l.getClassName();
    const config = l.getConfig() as Record<string, unknown>;
    if (kind === 'Dropout') continue;
    if (kind === 'LSTM') {
      const units = config['units'] as number;
      const G = 4 * units;
      if (config['goBackwards'] === true || config['stateful'] === true) {
        fail(`LSTM ${l.name} is goBackwards or stateful`);
      }
      const [kernel, recurrent, bias] = l.getWeights();
      if (!shapeIs(kernel, [width, G]) || !shapeIs(recurrent, [units, G])) {
        fail(
          `LSTM ${l.name} kernels are [${kernel?.shape.join(', ')}] and [${recurrent?.shape.join(', ')}], expected [${width}, ${G}] and [${units}, ${G}]`,
        );
      }
      if (config['useBias'] !== false && !shapeIs(bias, [G])) fail(`LSTM ${l.name} bias is not [${G}]`);
      const k = values(kernel!);
      const entry: LstmLayerWeights = {
        inputSize: width,
        units,
        kernel: k,
        recurrent: values(recurrent!),
        bias: config['useBias'] === false ? new Float64Array(G) : values(bias!),
        activation: activationOf(l, 'activation', fail),
        recurrentActivation: activationOf(l, 'recurrentActivation', fail),
      };
      returnsSequences.push(config['returnSequences'] === true);
      layers.push(entry);
      width = units;
      continue;
    }
    if (kind === 'Dense') {
      const units = config['units'] as number;
      if (units !== 1) fail(`the head ${l.name} has ${units} units; the step model serves one binary output`);
      const [kernel, bias] = l.getWeights();
      if (!shapeIs(kernel, [width, 1])) fail(`the head ${l.name} kernel is not [${width}, 1]`);
      const activation = activationOf(l, 'activation', fail);
      if (activation !== 'sigmoid')
        fail(`the head ${l.name} has activation ${activation}; a probability needs sigmoid`);
      head = {
        kernel: values(kernel!),
        bias: config['useBias'] === false ? 0 : values(bias!)[0]!,
        activation,
      };
      continue;
    }
    fail(`layer ${l.name} is a ${kind}; expected LSTM, Dropout or Dense after ${CONCAT_LAYER}`);
  }
  if (layers.length === 0) fail('it has no LSTM layer');
  if (head === undefined) fail('it has no dense head');
  // Every LSTM but the last feeds the next one its whole sequence; the last hands the head its final h.
  returnsSequences.forEach((sequences, i) => {
    if (sequences !== i < layers.length - 1) {
      fail(
        `LSTM layer ${i} has returnSequences ${sequences}; only the layers before the last LSTM return sequences`,
      );
    }
  });
  if (model.outputs.length !== 1) fail(`it has ${model.outputs.length} outputs`);
  for (const w of [
    ...layers.flatMap((x) => [x.kernel, x.recurrent, x.bias]),
    head!.kernel,
    ...embeddings.map((e) => e.table),
  ]) {
    if (!w.every(Number.isFinite)) fail('a weight is not finite');
  }
  return { layers, embeddings, numericSize: encoder.numericSize, head: head! };
}

/**
 * Which models the webgpu training step runs, and where each of their weights lives in its one flat
 * parameter buffer. A model is the product's (lstm.ts: embeddings of the categorical ids and the
 * numeric features → LSTM layers, each optionally followed by Dropout → Dense(1, sigmoid)) or any
 * model of that shape without embeddings (bench/train's LSTM + Dense); anything else is refused with
 * the reason, and training runs through tfjs as before.
 *
 * Layout: the embedding tables first (so the L2 penalty covers one range), then per LSTM layer its
 * kernel [in, 4u] directly followed by its bias [4u] (one [in + 1, 4u] matrix: the bias is the row
 * of an implicit ones column), then its recurrent kernel [u, 4u]; last the head's kernel [u] and bias.
 */
import type * as tf from '@tensorflow/tfjs';
import { CATEGORICAL_INPUTS } from '../../features/index.js';
import { NUMERIC_INPUT_LAYER, STEP_FEATURES_LAYER, embeddingLayerName } from '../layer-names.js';

export interface TableLayout {
  rows: number;
  dim: number;
  /** First float of the table in the parameter buffer. */
  offset: number;
  /** First column of its embedding in layer 0's input. */
  column: number;
}

export interface LayerLayout {
  units: number;
  inputSize: number;
  /** Kernel [inputSize, 4u], then the bias [4u]. */
  kernel: number;
  recurrent: number;
  /** Recurrent activation: hardSigmoid (tfjs-layers' default) or sigmoid. */
  hard: boolean;
  /** Dropout rate after the layer (0: none). */
  dropout: number;
}

export interface ParamLayout {
  tables: TableLayout[];
  /** Categorical ids per step in the encoded data (0 without tables). */
  idCount: number;
  numeric: number;
  /** Σ table dims: layer 0's input columns before the numeric ones. */
  embeddedSize: number;
  inputSize: number;
  layers: LayerLayout[];
  head: { weight: number; bias: number };
  tablesEnd: number;
  /** Floats in the parameter buffer. */
  size: number;
}

/** A block of the parameter buffer and the model weight it holds. */
export interface WeightSlot {
  layer: tf.layers.Layer;
  /** Index in layer.getWeights(). */
  index: number;
  offset: number;
  size: number;
}

export interface ModelPlan {
  layout: ParamLayout;
  slots: WeightSlot[];
}

const configOf = (layer: tf.layers.Layer) => layer.getConfig() as Record<string, unknown>;

/** The model's plan, or why the webgpu step cannot run it. */
export function planModel(model: tf.LayersModel, numericSize: number): ModelPlan | { unsupported: string } {
  const embeddings = CATEGORICAL_INPUTS.map((name) =>
    model.layers.find((l) => l.name === embeddingLayerName(name) && l.getClassName() === 'Embedding'),
  );
  const present = embeddings.filter((l) => l !== undefined);
  if (present.length !== 0 && present.length !== embeddings.length)
    return { unsupported: 'the model embeds some categorical inputs but not all' };
  if (present.length > 0) {
    // Layer 0's input columns are the embeddings in CATEGORICAL_INPUTS order, then the numeric input.
    const fed = model.layers
      .find((l) => l.name === STEP_FEATURES_LAYER)
      ?.inboundNodes[0]?.inboundLayers.map((l) => l.name);
    const expected = [...CATEGORICAL_INPUTS.map(embeddingLayerName), NUMERIC_INPUT_LAYER];
    if (fed?.join() !== expected.join())
      return {
        unsupported: `${STEP_FEATURES_LAYER} does not concatenate ${expected.join(', ')} in this order`,
      };
  }
  const known = new Set(['InputLayer', 'Embedding', 'Concatenate', 'LSTM', 'Dropout', 'Dense']);
  const other = model.layers.find((l) => !known.has(l.getClassName()));
  if (other !== undefined) return { unsupported: `layer ${other.name} (${other.getClassName()})` };
  const lstms = model.layers.filter((l) => l.getClassName() === 'LSTM');
  const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
  if (lstms.length === 0) return { unsupported: 'no LSTM layer' };
  if (dense.length !== 1 || model.layers.at(-1) !== dense[0])
    return { unsupported: 'the model does not end in its only Dense layer' };

  const slots: WeightSlot[] = [];
  let offset = 0;
  const take = (layer: tf.layers.Layer, index: number, size: number) => {
    slots.push({ layer, index, offset, size });
    offset += size;
    return offset - size;
  };
  let column = 0;
  const tables: TableLayout[] = [];
  for (const layer of present) {
    const c = configOf(layer!);
    const rows = c['inputDim'] as number;
    const dim = c['outputDim'] as number;
    tables.push({ rows, dim, offset: take(layer!, 0, rows * dim), column });
    column += dim;
  }
  const tablesEnd = offset;
  const inputSize = column + numericSize;

  const layers: LayerLayout[] = [];
  let previous = inputSize;
  for (const [i, layer] of lstms.entries()) {
    const c = configOf(layer);
    const units = c['units'] as number;
    const last = i === lstms.length - 1;
    const problem =
      c['activation'] !== 'tanh'
        ? 'activation is not tanh'
        : !['hardSigmoid', 'sigmoid'].includes(c['recurrentActivation'] as string)
          ? `recurrent activation ${String(c['recurrentActivation'])}`
          : c['useBias'] !== true
            ? 'no bias'
            : c['returnSequences'] !== !last
              ? 'only the last LSTM layer may return its last step alone'
              : c['goBackwards'] === true || c['stateful'] === true
                ? 'backwards or stateful'
                : (c['dropout'] as number) > 0 || (c['recurrentDropout'] as number) > 0
                  ? "the LSTM's own dropout"
                  : undefined;
    if (problem !== undefined) return { unsupported: `${layer.name}: ${problem}` };
    const shapes = layer.getWeights().map((w) => w.shape);
    if (shapes[0]?.[0] !== previous)
      return { unsupported: `${layer.name}: input size ${shapes[0]?.[0]}, expected ${previous}` };
    const kernel = take(layer, 0, previous * 4 * units);
    take(layer, 2, 4 * units);
    const recurrent = take(layer, 1, units * 4 * units);
    const next = model.layers[model.layers.indexOf(layer) + 1];
    const dropout = next?.getClassName() === 'Dropout' ? (configOf(next)['rate'] as number) : 0;
    layers.push({
      units,
      inputSize: previous,
      kernel,
      recurrent,
      hard: c['recurrentActivation'] === 'hardSigmoid',
      dropout,
    });
    previous = units;
  }
  const head = dense[0]!;
  const hc = configOf(head);
  if (hc['units'] !== 1 || hc['activation'] !== 'sigmoid' || hc['useBias'] !== true)
    return { unsupported: `${head.name}: not one sigmoid unit with a bias` };
  const weight = take(head, 0, previous);
  const bias = take(head, 1, 1);
  return {
    layout: {
      tables,
      idCount: tables.length,
      numeric: numericSize,
      embeddedSize: column,
      inputSize,
      layers,
      head: { weight, bias },
      tablesEnd,
      size: offset,
    },
    slots,
  };
}

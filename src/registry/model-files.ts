/**
 * Model files on the local file system. tfjs's `file://` handler ships with tfjs-node only, so the
 * model is saved through tf.io.withSaveHandler into the same layout tfjs-node writes (model.json
 * with the topology and a weights manifest, plus weights.bin), which tfjs-node, the browser loaders
 * and tf.io.fromMemory can all read. A model directory also holds encoder.json (the fitted feature
 * encoder): a model is useless without the exact encoding it was trained on.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FeatureEncoder } from '../features/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { MODEL_FILES } from './model-dir.js';

const { model: MODEL_FILE, weights: WEIGHTS_FILE, encoder: ENCODER_FILE } = MODEL_FILES;

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

/** Writes model.json + weights.bin into `dir` (each file atomically). */
export async function saveModelFiles(model: tf.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData =
        artifacts.weightData === undefined
          ? new ArrayBuffer(0)
          : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeFileAtomic(join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      await writeFileAtomic(join(dir, MODEL_FILE), json(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weightData.byteLength,
        },
      };
    }),
  );
}

/** Reads a model saved by saveModelFiles (or tfjs-node's file:// handler). */
export async function loadModelFiles(dir: string): Promise<tf.LayersModel> {
  const modelJson = JSON.parse(await readFile(join(dir, MODEL_FILE), 'utf8')) as tf.io.ModelJSON;
  const manifest = modelJson.weightsManifest ?? [];
  const weightSpecs = manifest.flatMap((group) => group.weights);
  const buffers = await Promise.all(
    manifest
      .flatMap((group) => group.paths)
      .map(async (p) => {
        const bytes = await readFile(join(dir, p));
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }),
  );
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs,
      weightData: tf.io.CompositeArrayBuffer.join(buffers),
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
    }),
  );
}

export async function saveEncoder(encoder: FeatureEncoder, dir: string): Promise<void> {
  await writeFileAtomic(join(dir, ENCODER_FILE), json(encoder.toJSON()));
}

export async function loadEncoder(dir: string): Promise<FeatureEncoder> {
  return FeatureEncoder.fromJSON(JSON.parse(await readFile(join(dir, ENCODER_FILE), 'utf8')));
}

/** A trained model and the encoder it needs, from a model (candidate or registry) directory. */
export async function loadModel(dir: string): Promise<{ model: tf.LayersModel; encoder: FeatureEncoder }> {
  const [model, encoder] = await Promise.all([loadModelFiles(dir), loadEncoder(dir)]);
  return { model, encoder };
}

import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../../src/config/schema.js';
import { FeatureEncoder } from '../../src/features/index.js';
import { createGenerator } from '../../src/generator/index.js';
import { buildModel } from '../../src/model/lstm.js';
import { MODEL_FILES, type RegistryOptions, createModelRegistry } from '../../src/registry/index.js';
import { saveEncoder, saveModelFiles } from '../../src/registry/model-files.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { lstmStepModelFrom } from '../../src/scoring/lstm-model.js';
import type { LstmState } from '../../src/scoring/lstm-state.js';
import type { StepModel } from '../../src/scoring/model.js';
import { tinyTrainerConfig } from './trainer.js';

export interface ModelFixtureOptions {
  /** Initializer seed (different seeds, different models). */
  seed?: number;
  /** Trainer features/model config (default: tinyTrainerConfig's). */
  features?: TrainerConfig['features'];
  model?: TrainerConfig['model'];
  /**
   * Multiplies every initialized weight: fresh initializers give near-constant probabilities; scaled
   * ones make every input and the gate saturation (hardSigmoid's clipped range) matter.
   */
  scale?: number;
}

/** Generated events to fit the encoder's device/referrer vocabularies on. */
function fitEvents(seed: number): ShopEvent[][] {
  const byCookie = new Map<string, ShopEvent[]>();
  for (const item of createGenerator({ seed, maxEvents: 3_000, cookies: 200 })) {
    if (item.kind !== 'event') continue;
    const list = byCookie.get(item.event.cookie_id) ?? [];
    list.push(item.event);
    byCookie.set(item.event.cookie_id, list);
  }
  return [...byCookie.values()];
}

/**
 * The trainer's LSTM (src/model/lstm.ts buildModel, seeded initializers) with an encoder fitted on
 * generated events: a real model of the trainer's architecture without the minutes of training.
 */
export function initializedModel(options: ModelFixtureOptions = {}): {
  model: tf.LayersModel;
  encoder: FeatureEncoder;
} {
  // Keeps a backend chosen by the caller (the benchmarks pick wasm, as the scorer does); otherwise the
  // cpu backend, whose setBackend completes synchronously.
  tf.env().set('PROD', true);
  if (tf.engine().backendName == null) void tf.setBackend('cpu');
  const base = tinyTrainerConfig();
  const seed = options.seed ?? 1;
  const features = options.features ?? base.features;
  const encoder = FeatureEncoder.fit(fitEvents(seed), { ...features, hashSeed: seed });
  const model = buildModel(encoder, { ...(options.model ?? base.model), seed });
  const scale = options.scale ?? 1;
  if (scale !== 1) {
    const scaled = model.getWeights().map((w) => tf.mul(w, scale));
    model.setWeights(scaled);
    tf.dispose(scaled);
  }
  return { model, encoder };
}

/** The scorer's LSTM step model over a freshly initialized model (the tfjs model is disposed). */
export function initializedStepModel(
  version: string,
  options: ModelFixtureOptions = {},
): StepModel<LstmState> {
  const { model, encoder } = initializedModel(options);
  try {
    return lstmStepModelFrom(version, model, encoder);
  } finally {
    model.dispose();
  }
}

/**
 * Saves an initialized model as registry version `version` under `modelsDir`, the way the trainer's
 * files reach the registry: model.json + weights.bin and encoder.json (src/registry/model-files.ts), manifest.json
 * naming the label, metrics.json, into a candidate directory that the registry then registers.
 * Returns the version directory.
 */
export async function writeModelVersion(
  modelsDir: string,
  version: string,
  options: ModelFixtureOptions = {},
  registryOptions: RegistryOptions = {},
): Promise<string> {
  const { model, encoder } = initializedModel(options);
  await mkdir(modelsDir, { recursive: true });
  const candidate = await mkdtemp(join(modelsDir, '.candidate-'));
  try {
    await saveModelFiles(model, candidate);
  } finally {
    model.dispose();
  }
  await saveEncoder(encoder, candidate);
  const labels = tinyTrainerConfig().labels;
  await writeFile(join(candidate, 'manifest.json'), JSON.stringify({ version, parameters: { labels } }));
  await writeFile(join(candidate, 'metrics.json'), '{}\n');
  return createModelRegistry(modelsDir, registryOptions).register(candidate, version);
}

/**
 * Steps every session through `model` the way the scorer core does: round r advances every session
 * that has an r-th event, in ONE batched step (so a batch mixes sessions of every length). Returns
 * p after each event per session, and each session's final state.
 */
export function stepSessions<State>(
  model: StepModel<State>,
  sessions: readonly (readonly ShopEvent[])[],
): { p: number[][]; states: State[] } {
  const states = sessions.map(() => model.initialState());
  const p = sessions.map(() => [] as number[]);
  const rounds = Math.max(...sessions.map((s) => s.length));
  for (let r = 0; r < rounds; r++) {
    const rows = sessions.flatMap((events, i) => (r < events.length ? [i] : []));
    const { states: next, probabilities } = model.step(
      rows.map((i) => ({
        state: states[i]!,
        event: sessions[i]![r]!,
        previous: sessions[i]![r - 1],
        sessionStart: sessions[i]![0]!.event_time,
      })),
    );
    rows.forEach((i, k) => {
      states[i] = next[k]!;
      p[i]!.push(probabilities[k]![0]!);
    });
  }
  return { p, states };
}

/** A minimal candidate directory `<base>/candidates/<name>` (the files the registry requires; test ROC-AUC `auc`). */
export async function writeCandidateFiles(base: string, name: string, auc: number): Promise<string> {
  const dir = join(base, 'candidates', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MODEL_FILES.model), '{}');
  await writeFile(join(dir, MODEL_FILES.encoder), '{}');
  await writeFile(join(dir, MODEL_FILES.metrics), JSON.stringify({ test: { rocAuc: auc } }));
  return dir;
}

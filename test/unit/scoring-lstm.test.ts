/**
 * The LSTM step model against the trainer's full-sequence prediction (predictSessions), its tensor
 * hygiene inside the scorer core, and the refusal of corrupt or incompatible model versions.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { FeatureEncoder } from '../../src/features/index.js';
import { createGenerator } from '../../src/generator/index.js';
import { selectBackend } from '../../src/model/backend.js';
import { predictSessions } from '../../src/model/batches.js';
import { loadModel } from '../../src/registry/model-files.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { ScorerCore } from '../../src/scoring/core.js';
import { lstmModelFactory, lstmStepModelFrom } from '../../src/scoring/lstm-model.js';
import type { LstmState } from '../../src/scoring/lstm-state.js';
import { IncompatibleModelError, type StepModel, checkModel } from '../../src/scoring/model.js';
import { createRegistryModelSource } from '../../src/scoring/registry-source.js';
import { DEFAULT_SESSION_RULES } from '../../src/sessionizer/index.js';
import {
  initializedModel,
  initializedStepModel,
  stepSessions,
  writeModelVersion,
} from '../helpers/models.js';
import { generatedSessions } from '../helpers/sessions.js';
import { FOREIGN_EVENT_TYPES, FOREIGN_ROLES, renameEvents } from '../helpers/taxonomy.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const TOLERANCE = 1e-5;
const base = tinyTrainerConfig();
/** Two stacked layers and sessionState features: every code path of the step math. */
const fixture = {
  seed: 11,
  scale: 3,
  features: { ...base.features, maxSteps: 12, sessionState: true },
  model: { ...base.model, lstmUnits: [10, 6] },
};

before(async () => {
  await tf.setBackend('cpu');
  tf.env().set('PROD', true);
});

const stepAll = (model: StepModel<LstmState>, sessions: readonly (readonly ShopEvent[])[]) =>
  stepSessions(model, sessions).p;

/** Largest |incremental − full-sequence| over the given (session, prefix length) pairs. */
async function maxDeviation(
  model: tf.LayersModel,
  encoder: FeatureEncoder,
  sessions: readonly (readonly ShopEvent[])[],
  incremental: number[][],
  prefixes: [number, number][],
): Promise<{ max: number; at: string }> {
  const full = await predictSessions(
    model,
    encoder,
    prefixes.map(([s, n]) => ({ events: sessions[s]!.slice(0, n) })),
    256,
  );
  let max = 0;
  let at = '';
  prefixes.forEach(([s, n], k) => {
    const d = Math.abs(full[k]! - incremental[s]![n - 1]!);
    if (!(d <= max)) {
      max = d;
      at = `session ${s}, prefix ${n}: step ${incremental[s]![n - 1]} vs full ${full[k]}`;
    }
  });
  return { max, at };
}

/** (session, length) of every prefix of up to `maxSteps` events. */
function prefixesUpTo(sessions: readonly (readonly ShopEvent[])[], maxSteps: number): [number, number][] {
  return sessions.flatMap((events, s) =>
    Array.from({ length: Math.min(events.length, maxSteps) }, (_, n) => [s, n + 1] as [number, number]),
  );
}

describe('LSTM step model', () => {
  it('serves a renamed shop with the roles its encoder stores, exactly as the original names', async () => {
    const { model, encoder } = initializedModel(fixture);
    const spec = encoder.toJSON();
    const renamedSpec = { ...spec, eventTypes: spec.eventTypes.map((t) => FOREIGN_EVENT_TYPES[t] ?? t) };
    const theirs = FeatureEncoder.fromJSON({ ...renamedSpec, roles: FOREIGN_ROLES });
    const sessions = generatedSessions({ seed: 23, cookies: 60, durationMs: 86_400_000, botCookies: 0 })
      .sessions.map((s) => s.events)
      .slice(0, 120);
    assert.ok(
      sessions.some((events) => events.some((e) => e.event_type === 'remove_from_cart')),
      'cart removals exercised',
    );
    const renamed = sessions.map(renameEvents);
    const ours = stepAll(lstmStepModelFrom('ours', model, encoder), sessions);
    assert.deepEqual(stepAll(lstmStepModelFrom('theirs', model, theirs), renamed), ours);
    const { max } = await maxDeviation(model, theirs, renamed, ours, prefixesUpTo(renamed, theirs.maxSteps));
    assert.ok(max <= TOLERANCE, `the trainer's full-sequence prediction agrees (${max})`);
    const roleless = FeatureEncoder.fromJSON(renamedSpec);
    assert.notDeepEqual(
      stepAll(lstmStepModelFrom('roleless', model, roleless), renamed),
      ours,
      'without the roles the cart features go quiet',
    );
    model.dispose();
  });

  it('equals the trainer’s full-sequence prediction for every prefix up to maxSteps (padded, masked, mixed-length batches) within 1e-5', async (t) => {
    const { model, encoder } = initializedModel(fixture);
    const step = lstmStepModelFrom('v1', model, encoder);
    const sessions = generatedSessions({ seed: 21, cookies: 150, durationMs: 86_400_000, botCookies: 0 })
      .sessions.map((s) => s.events)
      .slice(0, 400);
    const incremental = stepAll(step, sessions);
    const prefixes = prefixesUpTo(sessions, encoder.maxSteps);
    const short = sessions.filter((e) => e.length < encoder.maxSteps).length;
    assert.ok(short > 50 && sessions.length - short > 10, `both short (${short}) and long sessions`);
    const spread = new Set(incremental.flat().map((p) => p.toFixed(3))).size;
    assert.ok(spread > 100, `the model's probabilities depend on the input (${spread} distinct values)`);
    const { max, at } = await maxDeviation(model, encoder, sessions, incremental, prefixes);
    t.diagnostic(
      `max |step − full| = ${max.toExponential(2)} over ${prefixes.length} prefixes of ${sessions.length} sessions`,
    );
    assert.ok(max <= TOLERANCE, `max deviation ${max} over ${prefixes.length} prefixes (${at})`);
    model.dispose();
  });

  it('beyond maxSteps keeps stepping: equals the trainer’s network run over the whole session, not its last maxSteps events', async (t) => {
    const { model, encoder } = initializedModel(fixture);
    const step = lstmStepModelFrom('v1', model, encoder);
    const sessions = generatedSessions({ seed: 22, cookies: 120, durationMs: 86_400_000, botCookies: 1 })
      .sessions.map((s) => s.events.slice(0, 60))
      .filter((events) => events.length > encoder.maxSteps);
    assert.ok(sessions.length >= 10, `long sessions (${sessions.length})`);
    const incremental = stepAll(step, sessions);
    const prefixes: [number, number][] = sessions.flatMap((events, s) =>
      Array.from(
        { length: events.length - encoder.maxSteps },
        (_, k) => [s, encoder.maxSteps + k + 1] as [number, number],
      ),
    );
    const unbounded = FeatureEncoder.fromJSON({ ...encoder.toJSON(), maxSteps: 1_000 });
    const whole = await maxDeviation(model, unbounded, sessions, incremental, prefixes);
    const windowed = await maxDeviation(model, encoder, sessions, incremental, prefixes);
    t.diagnostic(
      `${prefixes.length} prefixes past maxSteps: max |step − whole session| = ${whole.max.toExponential(2)}, max |step − last maxSteps| = ${windowed.max.toFixed(4)}`,
    );
    assert.ok(whole.max <= TOLERANCE, `whole-session deviation ${whole.max} (${whole.at})`);
    assert.ok(windowed.max > TOLERANCE, 'the trainer’s last-maxSteps window differs (the documented limit)');
    model.dispose();
  });

  it('with other activations (a saved model whose LSTM uses sigmoid gates) still equals the trainer’s prediction', async (t) => {
    const models = await mkdtemp(join(tmpdir(), 'lstm-sigmoid-'));
    const dir = await writeModelVersion(models, 'sig', fixture);
    const file = join(dir, 'model.json');
    const json = JSON.parse(await readFile(file, 'utf8'));
    for (const layer of json.modelTopology.config.layers) {
      if (layer.class_name === 'LSTM') layer.config.recurrent_activation = 'sigmoid';
    }
    await writeFile(file, JSON.stringify(json));
    const { model, encoder } = await loadModel(dir);
    const step = (await lstmModelFactory(dir)) as StepModel<LstmState>;
    const sessions = generatedSessions({ seed: 24, cookies: 60, durationMs: 86_400_000, botCookies: 0 })
      .sessions.map((s) => s.events)
      .slice(0, 120);
    const incremental = stepAll(step, sessions);
    const prefixes = prefixesUpTo(sessions, encoder.maxSteps);
    const { max, at } = await maxDeviation(model, encoder, sessions, incremental, prefixes);
    t.diagnostic(`max |step − full| = ${max.toExponential(2)} over ${prefixes.length} prefixes`);
    assert.ok(max <= TOLERANCE, `max deviation ${max} (${at})`);
    model.dispose();
    step.dispose();
    await rm(models, { recursive: true, force: true });
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`a row’s result does not depend on the rest of its batch (bit-identical alone and batched, ${backend} backend)`, async () => {
      await selectBackend({ requested: backend });
      try {
        const { model, encoder } = initializedModel(fixture);
        const step = lstmStepModelFrom('v1', model, encoder);
        model.dispose();
        const sessions = generatedSessions({ seed: 23, cookies: 40, durationMs: 86_400_000, botCookies: 0 })
          .sessions.map((s) => s.events)
          .slice(0, 60);
        const batched = stepAll(step, sessions);
        sessions.forEach((events, i) => {
          assert.deepEqual(stepAll(step, [events])[0], batched[i], `session ${i}`);
        });
        step.dispose();
      } finally {
        await tf.setBackend('cpu');
      }
    });
  }
});

describe('LstmState as the encoder’s item store', () => {
  it('keeps items in a flat array while few and in a Map beyond, with the same answers', () => {
    const state = initializedStepModel('v1').initialState();
    const items = Array.from({ length: 40 }, (_, i) => `item-${i}`);
    items.forEach((item, i) => {
      assert.equal(state.get(item), undefined, `${item} not met yet`);
      state.set(item, { cartedAt: i, removed: i % 2 === 0 });
      items
        .slice(0, i + 1)
        .forEach((met, j) => assert.equal(state.get(met)?.cartedAt, j, `${met} after ${i + 1} items`));
    });
    assert.deepEqual(
      [...state.entries()].map(([item, s]) => [item, s.cartedAt]),
      items.map((item, i) => [item, i]),
    );
  });
});

function* generatedBatches(events: number) {
  let offset = 0;
  let batch: { offset: number; event: ShopEvent }[] = [];
  for (const item of createGenerator({ seed: 31, maxEvents: events, cookies: 3_000 })) {
    if (item.kind !== 'event') continue;
    batch.push({ offset: offset++, event: item.event });
    if (batch.length === 2_000) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

describe('LSTM step model in the scorer core', () => {
  it('scores 100,000 events, swaps the model and is back to the tensor count it started with', async () => {
    const models = await mkdtemp(join(tmpdir(), 'lstm-tensors-'));
    await writeModelVersion(models, 'v1', { seed: 1 });
    await writeModelVersion(models, 'v2', { seed: 2 });
    const source = createRegistryModelSource(models, lstmModelFactory);
    const before = tf.memory().numTensors;
    const v1 = await source.load('v1');
    const serving = tf.memory().numTensors; // the served model holds its weight matrices, nothing else
    assert.ok(serving > before, 'the model holds its weights as tensors');
    const core = new ScorerCore({
      rules: DEFAULT_SESSION_RULES,
      maxOpenSessions: 100_000,
      maxBufferedEvents: 20,
      rebuildWindowMs: 3_600_000,
      emit: { policy: 'every', delta: 0.05, threshold: 0.5 },
      positiveClass: 'purchase',
      model: v1,
    });
    const counts: number[] = [];
    let scored = 0;
    let batches = 0;
    for (const batch of generatedBatches(100_000)) {
      scored += core.process(batches % 4, batch, true).scored;
      if (++batches % 10 === 0) counts.push(tf.memory().numTensors);
    }
    const { previous, recomputed } = core.swapModel(await source.load('v2'));
    previous.dispose();
    assert.ok(scored > 95_000, `scored ${scored} events`);
    assert.ok(recomputed > 1_000, `recomputed ${recomputed} open sessions under v2`);
    assert.deepEqual(
      new Set(counts),
      new Set([serving]),
      `tensor counts while scoring: ${counts.join(', ')}`,
    );
    assert.equal(tf.memory().numTensors, serving, 'after the swap: v2’s weights only');
    core.model.dispose();
    assert.equal(
      tf.memory().numTensors,
      before,
      'loading, scoring, swapping and disposing left no tensor behind',
    );
    await rm(models, { recursive: true, force: true });
  });
});

describe('lstmModelFactory refuses corrupt and incompatible versions', () => {
  let models: string;
  const fresh = async (version: string) => writeModelVersion(models, version, { seed: 3 });
  const refusal = async (dir: string) => {
    const error = await lstmModelFactory(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(
      error instanceof IncompatibleModelError,
      `refused with IncompatibleModelError: ${String(error)}`,
    );
    return (error as Error).message;
  };

  before(async () => {
    models = await mkdtemp(join(tmpdir(), 'lstm-refuse-'));
  });

  it('loads a good version: its classes come from the manifest, the probe step passes', async () => {
    const model = await lstmModelFactory(await fresh('good'));
    assert.deepEqual(model.classes, ['purchase']);
    assert.equal(checkModel(model, 'purchase'), 0);
    assert.equal(model.version, 'good');
  });

  it('truncated weights.bin', async () => {
    const dir = await fresh('truncated');
    await truncate(join(dir, 'weights.bin'), 100);
    assert.match(await refusal(dir), /model truncated: cannot load model\.json \+ weights/);
  });

  it('missing weights.bin', async () => {
    const dir = await fresh('noweights');
    await rm(join(dir, 'weights.bin'));
    assert.match(await refusal(dir), /model noweights: cannot load model\.json \+ weights: .*weights\.bin/);
  });

  it('an encoder spec of a newer version', async () => {
    const dir = await fresh('newer');
    const spec = JSON.parse(await readFile(join(dir, 'encoder.json'), 'utf8'));
    await writeFile(join(dir, 'encoder.json'), JSON.stringify({ ...spec, version: 99 }));
    assert.match(await refusal(dir), /model newer: encoder\.json: .*version 99 is newer/);
  });

  it('an encoder whose vocabulary does not match the embedding (shape mismatch)', async () => {
    const dir = await fresh('shape');
    const spec = JSON.parse(await readFile(join(dir, 'encoder.json'), 'utf8'));
    await writeFile(
      join(dir, 'encoder.json'),
      JSON.stringify({ ...spec, itemBuckets: spec.itemBuckets + 5 }),
    );
    assert.match(
      await refusal(dir),
      /model shape is not a servable LSTM: embedding item_embedding has shape \[\d+, \d+\], the encoder needs \d+ rows/,
    );
  });

  it('an encoder with other numeric features than the network was built for', async () => {
    const dir = await fresh('numeric');
    const spec = JSON.parse(await readFile(join(dir, 'encoder.json'), 'utf8'));
    const { numericFeatures: _, ...rest } = spec;
    await writeFile(
      join(dir, 'encoder.json'),
      JSON.stringify({
        ...rest,
        sessionState: !spec.sessionState,
        numericFeatures: spec.sessionState ? spec.numericFeatures.slice(0, 8) : undefined,
      }),
    );
    assert.match(await refusal(dir), /its numeric input is \d+ wide but the encoder produces \d+ features/);
  });

  it('a head that does not output a probability', async () => {
    const dir = await fresh('logits');
    const file = join(dir, 'model.json');
    const json = JSON.parse(await readFile(file, 'utf8'));
    for (const layer of json.modelTopology.config.layers) {
      if (layer.class_name === 'Dense') layer.config.activation = 'linear';
    }
    await writeFile(file, JSON.stringify(json));
    assert.match(
      await refusal(dir),
      /the head purchase_probability has activation linear; a probability needs sigmoid/,
    );
  });

  it('a manifest without a binary label', async () => {
    const dir = await fresh('nolabel');
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ parameters: {} }));
    assert.match(await refusal(dir), /model nolabel: manifest\.json has no binary label target/);
  });
});

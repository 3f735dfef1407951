/**
 * The live path on a shop that is not ours: a model trained on the generator's second taxonomy
 * (shop2's names, noise events, roles from config), written as the trainer writes a candidate,
 * registered, loaded by the scorer's model factory and fed shop2's events through the real scorer
 * core, emits for every event the trainer's full-sequence prediction of that session so far (within
 * 1e-5), with the roles the model was trained with. The Kafka plumbing around the core is covered by
 * test/integration/scorer-output.test.ts; this pins what it carries.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { TrainerConfig } from '../../src/config/schema.js';
import { FeatureEncoder } from '../../src/features/index.js';
import { OUR_ROLES, SHOP2_ROLES } from '../../src/generator/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { selectBackend } from '../../src/model/backend.js';
import { predictSessions } from '../../src/model/batches.js';
import { runTraining } from '../../src/model/training-run.js';
import { saveRunAsCandidate } from '../../src/registry/candidate.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { loadModel } from '../../src/registry/model-files.js';
import type { SessionPrediction, SessionTimeline, ShopEvent } from '../../src/schemas/types.js';
import { ScorerCore } from '../../src/scoring/core.js';
import { lstmModelFactory, lstmStepModelFrom } from '../../src/scoring/lstm-model.js';
import { resolveSessionRules } from '../../src/sessionizer/index.js';
import { stepSessions } from '../helpers/models.js';
import { generatedSessions } from '../helpers/sessions.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const TOLERANCE = 1e-5;
const DAY = 86_400_000;
const BATCH = 250;

describe('scoring a foreign shop (shop2 taxonomy)', () => {
  let sessions: SessionTimeline[];
  let versionDir: string;

  before(async () => {
    const backend = await selectBackend({ requested: 'cpu' });
    sessions = generatedSessions({
      seed: 31,
      cookies: 120,
      durationMs: 2 * DAY,
      botCookies: 0,
      taxonomy: 'shop2',
    }).sessions;
    const config = {
      ...tinyTrainerConfig({
        features: { maxSteps: 24, sessionState: true },
        evaluation: { bootstrapResamples: 20 },
      }),
      roles: SHOP2_ROLES as TrainerConfig['roles'],
    };
    const run = await runTraining({ sessions, config, logger: createMemoryLogger('error') });
    assert.ok(run.report);
    const modelsDir = await mkdtemp(join(tmpdir(), 'foreign-scoring-'));
    const { version, dir } = await saveRunAsCandidate({
      run: { ...run, report: run.report },
      config,
      backend,
      dataRange: { from: new Date(0).toISOString(), to: new Date(3 * DAY).toISOString() },
      dir: join(modelsDir, 'candidate'),
    });
    run.model.dispose();
    versionDir = await createModelRegistry(modelsDir).register(dir, version);
  });

  it('emits the trainer’s full-sequence prediction for every event, roles applied', async (t) => {
    const step = await lstmModelFactory(versionDir);
    const { model, encoder } = await loadModel(versionDir);
    assert.deepEqual(encoder.toJSON().roles, SHOP2_ROLES, 'the model carries the roles it was trained with');

    // The events as a partition would carry them: all cookies interleaved in event-time order.
    const events = sessions.flatMap((s) => s.events).sort((a, b) => a.event_time - b.event_time);
    const byId = new Map(events.map((e) => [e.event_id, e]));
    const core = new ScorerCore({
      rules: resolveSessionRules({ graceMs: 60_000 }),
      maxOpenSessions: 10_000,
      maxBufferedEvents: 200,
      rebuildWindowMs: DAY,
      emit: { policy: 'every', delta: 0.1, threshold: 0.5 },
      positiveClass: step.classes[0]!,
      model: step,
    });
    const predictions: SessionPrediction[] = [];
    for (let i = 0; i < events.length; i += BATCH) {
      const batch = events.slice(i, i + BATCH).map((event, k) => ({ offset: i + k, event }));
      predictions.push(...core.process(0, batch, true).predictions);
    }
    assert.equal(predictions.length, events.length, 'a prediction per event');

    // Each prediction against the trainer's prediction for its session's events so far.
    const soFar = new Map<string, ShopEvent[]>();
    const prefixes: { events: ShopEvent[]; p: number }[] = [];
    for (const p of predictions) {
      const list = [...(soFar.get(p.session_id) ?? []), byId.get(p.event_id)!];
      soFar.set(p.session_id, list);
      assert.equal(p.events_in_session, list.length);
      if (list.length <= encoder.maxSteps)
        prefixes.push({ events: list, p: p.probabilities[step.classes[0]!]! });
    }
    const full = await predictSessions(model, encoder, prefixes, 256);
    let max = 0;
    prefixes.forEach(({ p }, k) => {
      max = Math.max(max, Math.abs(p - full[k]!));
    });
    const shop2Types = new Set(events.map((e) => e.event_type));
    t.diagnostic(
      `max |scorer − trainer| = ${max.toExponential(2)} over ${prefixes.length} prefixes of ${soFar.size} sessions; ${shop2Types.size} event types`,
    );
    for (const role of Object.values(SHOP2_ROLES))
      assert.ok(shop2Types.has(role[0]!), `${role[0]} exercised`);
    assert.ok(prefixes.length > 0.9 * predictions.length, 'most predictions compared');
    assert.ok(max <= TOLERANCE, `max deviation ${max}`);
    const spread = new Set(prefixes.map(({ p }) => p.toFixed(3))).size;
    assert.ok(spread > 50, `the probabilities depend on the events (${spread} distinct values)`);

    // Served with our default names' roles instead, the same model says something else.
    const sample = [...soFar.values()].slice(0, 200);
    const withRoles = stepSessions(lstmStepModelFrom('shop2', model, encoder), sample).p;
    const withoutRoles = FeatureEncoder.fromJSON({ ...encoder.toJSON(), roles: OUR_ROLES });
    assert.notDeepEqual(stepSessions(lstmStepModelFrom('ours', model, withoutRoles), sample).p, withRoles);
    model.dispose();
    step.dispose();
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StepEvent } from '../../src/features/index.js';
import type { ShopEvent } from '../../src/schemas/types.js';
import { type BatchItem, ScorerCore } from '../../src/scoring/core.js';
import { IncompatibleModelError, type StepInput, type StepModel } from '../../src/scoring/model.js';
import { resolveSessionRules } from '../../src/sessionizer/index.js';
import { shopEvent } from '../helpers/events.js';
import { initializedStepModel } from '../helpers/models.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1);
const rules = resolveSessionRules({ graceMs: 2 * MIN });

function ev(cookie: string, id: string, minutes: number, type = 'page_view'): ShopEvent {
  return shopEvent({ cookie_id: cookie, event_id: id, event_type: type, event_time: T0 + minutes * MIN });
}

/** What the session keeps of an event (the StepEvent fields). */
function stepFields(e: ShopEvent): StepEvent {
  const { event_id, event_type, event_time, item_id, category_id, price, device, referrer } = e;
  return { event_id, event_type, event_time, item_id, category_id, price, device, referrer };
}

/** A fake recurrent model: the state is the list of event ids seen; it records every step call. */
function recordingModel(version = 'fake', classes = ['purchase']) {
  const calls: StepInput<string[]>[][] = [];
  let disposed = false;
  const model: StepModel<string[]> & { calls: typeof calls; readonly disposed: boolean } = {
    version,
    classes,
    calls,
    get disposed() {
      return disposed;
    },
    initialState: () => [],
    step(inputs) {
      calls.push(inputs.map((i) => ({ ...i })));
      const states = inputs.map((i) => [...i.state, i.event.event_id]);
      return { states, probabilities: states.map((s) => classes.map(() => Math.min(1, s.length / 10))) };
    },
    dispose() {
      disposed = true;
    },
  };
  return model;
}

function core(model: StepModel, overrides: Partial<ConstructorParameters<typeof ScorerCore>[0]> = {}) {
  return new ScorerCore({
    rules,
    maxOpenSessions: 1000,
    maxBufferedEvents: 50,
    rebuildWindowMs: 60 * MIN,
    emit: { policy: 'every', delta: 0.1, threshold: 0.5 },
    positiveClass: 'purchase',
    model,
    now: () => 42,
    ...overrides,
  });
}

const items = (events: ShopEvent[], from = 0): BatchItem[] =>
  events.map((event, i) => ({ offset: from + i, event }));

describe('scorer core', () => {
  it('calls model.step once per batch position, all sessions batched together', () => {
    const model = recordingModel();
    const c = core(model);
    // a has 3 events in the batch, b 1, c 2 → 3 rounds of sizes 3, 2, 1 (after the probe of checkModel).
    const batch = [
      ev('a', 'a1', 0),
      ev('b', 'b1', 0),
      ev('a', 'a2', 1),
      ev('c', 'c1', 1),
      ev('a', 'a3', 2),
      ev('c', 'c2', 2),
    ];
    model.calls.length = 0;
    const out = c.process(0, items(batch), true);
    assert.equal(out.rounds, 3);
    assert.equal(model.calls.length, 3, 'one step call per round');
    assert.deepEqual(
      model.calls.map((call) => call.map((i) => i.event.event_id).sort()),
      [['a1', 'b1', 'c1'], ['a2', 'c2'], ['a3']],
    );
    assert.deepEqual(
      model.calls[1]!.map((i) => [i.event.event_id, i.previous?.event_id, i.state]).sort(),
      [
        ['a2', 'a1', ['a1']],
        ['c2', 'c1', ['c1']],
      ],
      'each round continues from the state the previous round returned, with the previous event',
    );
    assert.deepEqual(
      out.predictions.map((p) => [p.event_id, p.events_in_session, p.probabilities['purchase']]),
      [
        ['a1', 1, 0.1],
        ['b1', 1, 0.1],
        ['a2', 2, 0.2],
        ['c1', 1, 0.1],
        ['a3', 3, 0.3],
        ['c2', 2, 0.2],
      ],
      'predictions come out in offset order',
    );
    // The next batch advances each session by one step from where it stopped (no re-run of the sequence).
    model.calls.length = 0;
    c.process(0, items([ev('a', 'a4', 3)], 6), true);
    assert.deepEqual(model.calls, [
      [
        {
          state: ['a1', 'a2', 'a3'],
          event: ev('a', 'a4', 3),
          previous: stepFields(ev('a', 'a3', 2)),
          sessionStart: T0,
        },
      ],
    ]);
  });

  it('steps a cookie split into two sessions inside one batch as two sessions', () => {
    const model = recordingModel();
    const c = core(model);
    const out = c.process(0, items([ev('a', 'a1', 0), ev('a', 'a2', 1), ev('a', 'a3', 40)]), true);
    assert.equal(out.rounds, 2);
    const [first, second, third] = out.predictions;
    assert.equal(first!.session_id, second!.session_id);
    assert.notEqual(third!.session_id, first!.session_id);
    assert.equal(third!.events_in_session, 1);
    assert.deepEqual(
      third!.probabilities,
      { purchase: 0.1 },
      'the new session starts from the initial state',
    );
  });

  it('builds SessionPrediction records with the model version, event time and scored_at', () => {
    const c = core(initializedStepModel('v7'));
    const [p] = c.process(0, items([ev('a', 'a1', 5, 'add_to_cart')]), true).predictions;
    assert.equal(p!.model_version, 'v7');
    assert.equal(p!.cookie_id, 'a');
    assert.equal(p!.event_time, T0 + 5 * MIN);
    assert.equal(p!.scored_at, 42);
    assert.deepEqual(Object.keys(p!.probabilities), ['purchase']);
    assert.ok(p!.probabilities['purchase']! > 0 && p!.probabilities['purchase']! < 1, 'a probability');
  });

  it('counts duplicates and late events and does not step them', () => {
    const model = recordingModel();
    const c = core(model);
    model.calls.length = 0;
    const out = c.process(0, items([ev('a', 'a1', 10), ev('a', 'a1', 10), ev('b', 'b1', 5)]), true);
    assert.deepEqual([out.scored, out.duplicates, out.late, out.lateByMs], [1, 1, 1, [3 * MIN]]);
    assert.equal(model.calls.length, 1);
  });

  it('rebuild mode advances state and emission memory without returning predictions', () => {
    const emitting = core(initializedStepModel('v1'), {
      emit: { policy: 'delta', delta: 0.05, threshold: 0.5 },
    });
    const silent = core(initializedStepModel('v1'), {
      emit: { policy: 'delta', delta: 0.05, threshold: 0.5 },
    });
    const events = [
      ev('a', 'a1', 0),
      ev('a', 'a2', 1, 'add_to_cart'),
      ev('a', 'a3', 2),
      ev('a', 'a4', 3, 'checkout'),
    ];
    emitting.process(0, items(events.slice(0, 3)), true);
    assert.equal(silent.process(0, items(events.slice(0, 3)), false).predictions.length, 0);
    assert.deepEqual(
      silent.process(0, items(events.slice(3), 3), true).predictions,
      emitting.process(0, items(events.slice(3), 3), true).predictions,
    );
  });

  it('hot swap recomputes open sessions from their buffered events under the new model, batched per position', () => {
    const c = core(initializedStepModel('v1'), { maxBufferedEvents: 3 });
    c.process(
      0,
      items([ev('a', 'a1', 0), ev('a', 'a2', 1), ev('b', 'b1', 1), ev('a', 'a3', 2), ev('a', 'a4', 3)]),
      true,
    );
    const next = recordingModel('v2');
    next.calls.length = 0;
    const { previous, recomputed, steps } = c.swapModel(next);
    assert.equal(previous.version, 'v1');
    assert.equal(c.model.version, 'v2');
    assert.deepEqual([recomputed, steps], [2, 4]);
    assert.deepEqual(
      next.calls
        .slice(1)
        .map((call) => call.map((i) => [i.event.event_id, i.previous?.event_id])), // [0] = the probe
      [
        [
          ['a2', undefined],
          ['b1', undefined],
        ],
        [['a3', 'a2']],
        [['a4', 'a3']],
      ],
      'only the buffered (most recent) events, one call per buffer position',
    );
    const part = c.partitionState(0)!;
    assert.deepEqual(part.sessions.get('a')!.state, ['a2', 'a3', 'a4']);
    const [p] = c.process(0, items([ev('a', 'a5', 4)], 5), true).predictions;
    assert.equal(p!.model_version, 'v2');
    assert.equal(p!.events_in_session, 5, 'the event count is not reset by a swap');
  });

  it('refuses an incompatible model and keeps serving the old one', () => {
    const c = core(initializedStepModel('v1'));
    c.process(0, items([ev('a', 'a1', 0)]), true);
    const before = c.partitionState(0)!.sessions.get('a')!.state;
    assert.throws(() => c.swapModel(recordingModel('v2', ['churn'])), IncompatibleModelError);
    const broken = recordingModel('v3');
    broken.step = () => ({ states: [], probabilities: [] });
    assert.throws(() => c.swapModel(broken), IncompatibleModelError);
    const nan = recordingModel('v4');
    nan.step = (inputs) => ({ states: inputs.map(() => []), probabilities: inputs.map(() => [Number.NaN]) });
    assert.throws(() => c.swapModel(nan), IncompatibleModelError);
    assert.equal(c.model.version, 'v1');
    assert.equal(c.partitionState(0)!.sessions.get('a')!.state, before, 'open sessions untouched');
  });

  it('a model that throws during recompute leaves the old model and states in place', () => {
    const c = core(initializedStepModel('v1'));
    c.process(0, items([ev('a', 'a1', 0), ev('a', 'a2', 1)]), true);
    const before = c.partitionState(0)!.sessions.get('a')!.state;
    const flaky = recordingModel('v2');
    let calls = 0;
    const step = flaky.step.bind(flaky);
    flaky.step = (inputs) => {
      if (++calls > 1) throw new Error('kernel failed'); // the probe passes, the recompute does not
      return step(inputs);
    };
    assert.throws(() => c.swapModel(flaky), /kernel failed/);
    assert.equal(c.model.version, 'v1');
    assert.equal(c.partitionState(0)!.sessions.get('a')!.state, before);
  });
});

/**
 * The exactly-once rebuild argument, without Kafka: a scorer that crashes at random moments (losing
 * the uncommitted batch and all in-memory state) and rebuilds from the committed rebuild point emits
 * exactly the predictions of an uninterrupted run, whatever the batch boundaries.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGenerator } from '../../src/generator/index.js';
import type { SessionPrediction, ShopEvent } from '../../src/schemas/types.js';
import { type BatchItem, ScorerCore } from '../../src/scoring/core.js';
import type { EmitPolicyName } from '../../src/scoring/emission.js';
import type { RebuildPoint } from '../../src/scoring/live-sessions.js';
import { resolveSessionRules } from '../../src/sessionizer/index.js';
import { Rng } from '../../src/util/random.js';
import { initializedStepModel } from '../helpers/models.js';

const HOUR = 3_600_000;
const rules = resolveSessionRules({});

const events: (ShopEvent | undefined)[] = [];
for (const item of createGenerator({ seed: 11, cookies: 1_500, maxEvents: 40_000, malformedRate: 0.002 })) {
  if (item.kind === 'event') events.push(item.event);
  else if (item.kind === 'malformed') events.push(undefined); // a message that does not decode
}

function newCore(policy: EmitPolicyName, windowMs: number): ScorerCore {
  return new ScorerCore({
    rules,
    maxOpenSessions: 1_000_000,
    maxBufferedEvents: 50,
    rebuildWindowMs: windowMs,
    // The scaled model's p spreads over ~0.3–0.9 (median ~0.77): both policies fire often.
    emit: { policy, delta: 0.04, threshold: 0.75 },
    positiveClass: 'purchase',
    model: initializedStepModel('v1', { scale: 3 }),
    now: () => 0,
  });
}

const slice = (from: number, to: number): BatchItem[] =>
  events.slice(from, to).map((event, i) => ({ offset: from + i, event }));
const key = (p: SessionPrediction) => JSON.stringify([p.session_id, p.events_in_session, p.probabilities]);

function uninterrupted(policy: EmitPolicyName, windowMs: number): Map<string, string> {
  const core = newCore(policy, windowMs);
  const out = new Map<string, string>();
  for (let i = 0; i < events.length; i += 1_000) {
    for (const p of core.process(0, slice(i, i + 1_000), true).predictions) out.set(p.event_id, key(p));
  }
  return out;
}

function crashing(policy: EmitPolicyName, windowMs: number, seed: number, replay = true) {
  const rng = new Rng(seed);
  let core = newCore(policy, windowMs);
  let committed = 0;
  let point: RebuildPoint = { offset: 0, maxTime: null, truncated: 0 };
  const out = new Map<string, string>();
  let emittedTwice = 0;
  let crashes = 0;
  let replayed = 0;
  let truncated = 0;
  while (committed < events.length) {
    const to = Math.min(events.length, committed + rng.int(1, 1_500));
    const predictions = core.process(0, slice(committed, to), true).predictions;
    if (rng.chance(0.15)) {
      // Crash before the transaction commits: its predictions are aborted, memory is lost.
      crashes++;
      core = newCore(policy, windowMs);
      if (!replay) {
        core.resetPartition(0, committed, null); // the negative control: no rebuild at all
        continue;
      }
      core.resetPartition(0, point.offset, point.maxTime);
      for (let from = point.offset; from < committed; ) {
        const end = Math.min(committed, from + rng.int(1, 1_500));
        assert.equal(
          core.process(0, slice(from, end), false).predictions.length,
          0,
          'a rebuild emits nothing',
        );
        replayed += end - from;
        from = end;
      }
      continue;
    }
    for (const p of predictions) {
      if (out.has(p.event_id)) emittedTwice++;
      out.set(p.event_id, key(p));
    }
    point = core.table.rebuildPoint(core.partitionState(0)!);
    truncated = Math.max(truncated, point.truncated);
    committed = to;
  }
  return { out, emittedTwice, crashes, replayed, truncated };
}

describe('scorer rebuild after a crash', () => {
  for (const policy of ['every', 'delta', 'threshold'] as const) {
    it(`emits exactly the predictions of an uninterrupted run (${policy}; bots, duplicates, out-of-order, malformed)`, (t) => {
      const expected = uninterrupted(policy, 24 * HOUR);
      const run = crashing(policy, 24 * HOUR, 5);
      assert.ok(run.crashes >= 5, `${run.crashes} crashes`);
      assert.equal(run.truncated, 0, 'every live chain was inside the rebuild window');
      assert.equal(run.emittedTwice, 0, 'no event emitted twice');
      assert.ok(expected.size > 1_000, `${expected.size} predictions`);
      assert.deepEqual(run.out, expected);
      assert.ok(run.replayed < run.crashes * events.length, 'rebuilds replay a window, not everything');
      t.diagnostic(`${run.crashes} crashes, ${run.replayed} messages replayed, ${expected.size} predictions`);
    });
  }

  it('has teeth: without the rebuild the predictions differ', () => {
    const run = crashing('every', 24 * HOUR, 5, false);
    assert.notDeepEqual(run.out, uninterrupted('every', 24 * HOUR));
  });

  it('with a window shorter than some runs of activity it reports them as truncated', () => {
    const run = crashing('every', HOUR, 5);
    assert.ok(run.truncated > 0, `truncated chains reported (${run.truncated})`);
  });
});

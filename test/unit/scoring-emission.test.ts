import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EmitPolicyName, createEmitDecision } from '../../src/scoring/emission.js';

/** Feeds one session's probabilities through a policy; returns which of them emit. */
function emitted(policy: EmitPolicyName, ps: number[], delta = 0.1, threshold = 0.5): boolean[] {
  const decide = createEmitDecision({ policy, delta, threshold });
  const memory = { lastScored: Number.NaN, lastEmitted: Number.NaN };
  return ps.map((p) => decide(memory, p));
}

describe('emission policies', () => {
  const T = true;
  const F = false;
  const cases: [string, EmitPolicyName, number[], boolean[]][] = [
    ['every: all events', 'every', [0.1, 0.1, 0.9, 0.2], [T, T, T, T]],
    ['delta: first always, then small moves are held', 'delta', [0.1, 0.15, 0.19, 0.2], [T, F, F, T]],
    [
      'delta: compares with the last EMITTED value, not the last scored',
      'delta',
      [0.5, 0.45, 0.41, 0.39],
      [T, F, F, T],
    ],
    ['delta: moves down count too', 'delta', [0.9, 0.7, 0.75, 0.62], [T, T, F, F]],
    ['delta: a move of exactly delta emits', 'delta', [0.3, 0.4, 0.5], [T, T, T]],
    [
      'threshold: first event below does not emit',
      'threshold',
      [0.2, 0.3, 0.6, 0.7, 0.4, 0.45, 0.5],
      [F, F, T, F, T, F, T],
    ],
    ['threshold: first event above emits', 'threshold', [0.8, 0.9, 0.1], [T, F, T]],
    ['threshold: exactly at the threshold is above', 'threshold', [0.49, 0.5, 0.5, 0.499], [F, T, F, T]],
  ];
  for (const [name, policy, ps, expected] of cases) {
    it(name, () => {
      assert.deepEqual(emitted(policy, ps), expected);
    });
  }

  it('keeps the last scored and last emitted values in the session memory', () => {
    const decide = createEmitDecision({ policy: 'delta', delta: 0.1, threshold: 0.5 });
    const memory = { lastScored: Number.NaN, lastEmitted: Number.NaN };
    decide(memory, 0.2);
    decide(memory, 0.25);
    assert.deepEqual(memory, { lastScored: 0.25, lastEmitted: 0.2 });
  });

  it('rejects nonsensical settings at construction', () => {
    assert.throws(() => createEmitDecision({ policy: 'delta', delta: 0, threshold: 0.5 }), RangeError);
    assert.throws(() => createEmitDecision({ policy: 'threshold', delta: 0.1, threshold: 1 }), RangeError);
    assert.throws(
      () => createEmitDecision({ policy: 'sometimes' as EmitPolicyName, delta: 0.1, threshold: 0.5 }),
      RangeError,
    );
  });
});

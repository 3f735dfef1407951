import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackoff } from '../../src/kafka/backoff.js';

describe('createBackoff', () => {
  it('doubles from the initial wait up to the cap and starts over after reset()', () => {
    const backoff = createBackoff({ initialMs: 1_000, maxMs: 5_000 });
    assert.deepEqual(
      [1, 2, 3, 4].map(() => backoff.next()),
      [1_000, 2_000, 4_000, 5_000],
    );
    backoff.reset();
    assert.equal(backoff.next(), 1_000);
  });

  it('refuses a cap below the initial wait', () => {
    assert.throws(() => createBackoff({ initialMs: 2_000, maxMs: 1_000 }), RangeError);
  });
});

import { randomInt } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Rng } from '../../src/util/random.js';

/**
 * Randomness for crash and fuzz tests that a failing run can replay: the seed comes from TEST_SEED
 * when set, else is drawn fresh, and is reported in the test's output either way
 * (`TEST_SEED=<seed> node --test …` reruns the same kill timings).
 */
export function seededRandom(t: TestContext): (lo: number, hi: number) => number {
  const fromEnv = process.env['TEST_SEED'];
  const seed = fromEnv === undefined || fromEnv === '' ? randomInt(2 ** 32) : Number(fromEnv);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`TEST_SEED must be an integer in [0, 2^32), got ${fromEnv}`);
  t.diagnostic(`random seed ${seed} (replay with TEST_SEED=${seed})`);
  const rng = new Rng(seed);
  return (lo, hi) => lo + rng.uniform() * (hi - lo);
}

/**
 * Prefix sampling: the live scorer scores a session after every event, so the model is trained on
 * partial sessions too. Each training session contributes its full observable sequence plus up to
 * `count` distinct shorter prefixes (lengths uniform in 1..n-1), drawn from a stream seeded by the
 * run seed and the session id, so a session gets the same prefixes whatever else is in the store.
 */
import { Rng, seedFor } from '../util/random.js';

/** Distinct prefix lengths in [1, length - 1], ascending; at most `count` of them. */
export function samplePrefixLengths(length: number, count: number, rng: Rng): number[] {
  const available = length - 1;
  if (available <= 0 || count <= 0) return [];
  if (count >= available) return Array.from({ length: available }, (_, i) => i + 1);
  // Floyd's algorithm: `count` distinct values of 1..available, one draw each.
  const chosen = new Set<number>();
  for (let j = available - count + 1; j <= available; j++) {
    const t = 1 + Math.floor(rng.uniform() * j);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** Prefix lengths of one session, reproducible from (seed, sessionId). */
export function sessionPrefixLengths(
  sessionId: string,
  length: number,
  count: number,
  seed: number,
): number[] {
  return samplePrefixLengths(length, count, new Rng(seedFor(seed, `prefix:${sessionId}`)));
}

/**
 * Seeded randomness for everything that must be reproducible (dataset sampling, batch order,
 * dropout seeds): the generator's sfc32 `Rng` and `hash32`, which never read Math.random.
 */
export { Rng, fmix32, hash32 } from '../generator/rng.js';
import { Rng } from '../generator/rng.js';

/** Fisher-Yates shuffle in place with `rng`. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
  return items;
}

/** A 32-bit seed for a string key (e.g. a session id) under a base seed. */
export function seedFor(base: number, key: string): number {
  let h = base >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return new Rng(h).nextUint32();
}

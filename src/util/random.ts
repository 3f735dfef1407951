/**
 * Small, fast, seeded randomness for everything that must be reproducible: the synthetic traffic
 * generator, dataset sampling, batch order, dropout seeds.
 *
 * `Rng` is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit
 * state) seeded from a 32-bit seed through splitmix32, so nearby seeds give
 * unrelated streams. Nothing reproducible may use `Math.random`: every
 * random choice goes through an `Rng`, which makes output a pure function of
 * its seed.
 *
 * The hash helpers (`fmix32`, `hash32`, `hex8`) derive stable identifiers and
 * per-entity seeds; `fmix32` is a bijection on 32-bit integers, which the
 * generator relies on for collision-free ids.
 */

import { fmix32 } from './hash.js';

export { fmix32 };

const TWO_POW_32 = 4294967296;

/** Order-sensitive hash of a few 32-bit integers (not a bijection). */
export function hash32(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = fmix32((h ^ fmix32(p >>> 0)) + 0x9e3779b9);
  }
  return h;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Eight lower-case hex digits of a uint32. */
export function hex8(n: number): string {
  return (
    (HEX_BYTE[(n >>> 24) & 255] as string) +
    (HEX_BYTE[(n >>> 16) & 255] as string) +
    (HEX_BYTE[(n >>> 8) & 255] as string) +
    (HEX_BYTE[n & 255] as string)
  );
}

/** One splitmix32 step: returns the next state and its output. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  return [next, fmix32(next)];
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = Number.NaN;

  constructor(seed: number) {
    let s = seed >>> 0;
    let out: number;
    [s, out] = splitmix32(s);
    this.a = out | 0;
    [s, out] = splitmix32(s);
    this.b = out | 0;
    [s, out] = splitmix32(s);
    this.c = out | 0;
    [s, out] = splitmix32(s);
    this.d = out | 0;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform in [min, max). */
  float(min: number, max: number): number {
    return min + (max - min) * this.uniform();
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.uniform() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  /** Normal deviate (Box-Muller, the second value is cached). */
  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = Number.NaN;
      return mean + sd * z;
    }
    const u = 1 - this.uniform(); // (0, 1]
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** Exponential deviate with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.uniform());
  }

  /** Uniformly chosen element of a non-empty array. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('choice() of an empty array');
    return items[Math.floor(this.uniform() * items.length)] as T;
  }

  /** Element chosen with probability proportional to its weight (linear scan; for short lists). */
  weightedChoice<T>(items: readonly T[], weights: readonly number[]): T {
    if (items.length === 0 || items.length !== weights.length) {
      throw new RangeError('weightedChoice() needs as many weights as items (at least one)');
    }
    let total = 0;
    for (const w of weights) total += w;
    let x = this.uniform() * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i] as number;
      if (x < 0) return items[i] as T;
    }
    return items[items.length - 1] as T;
  }
}

export function createRng(seed: number): Rng {
  return new Rng(seed);
}

/** Precomputed cumulative weights for O(log n) weighted sampling of an index (e.g. a Zipf catalogue). */
export class WeightedTable {
  private readonly cumulative: Float64Array;

  constructor(weights: ArrayLike<number>) {
    if (weights.length === 0) throw new RangeError('WeightedTable needs at least one weight');
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (!(w >= 0)) throw new RangeError(`weight ${i} is not a non-negative number`);
      total += w;
      this.cumulative[i] = total;
    }
    if (!(total > 0)) throw new RangeError('WeightedTable weights sum to zero');
  }

  get size(): number {
    return this.cumulative.length;
  }

  /** Index i with probability weights[i] / sum(weights). */
  sample(rng: Rng): number {
    const cum = this.cumulative;
    const x = rng.uniform() * (cum[cum.length - 1] as number);
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

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

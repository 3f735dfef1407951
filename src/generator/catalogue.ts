/**
 * The synthetic shop's catalogue: `itemCount` items ("i0".."i4999") spread over
 * `categoryCount` categories ("c0".."c49"), with Zipf-ish popularity. An item's
 * category and price are pure functions of its id, so every run (and every seed)
 * agrees on them.
 */
import { type Rng, WeightedTable, fmix32, hash32 } from '../util/random.js';

export const DEFAULT_ITEM_COUNT = 5_000;
export const DEFAULT_CATEGORY_COUNT = 50;
/** Zipf exponent of item popularity. */
const ZIPF_S = 1.07;

/** Category index of item `i` (deterministic, independent of the seed). */
export function categoryIndexOf(item: number, categoryCount = DEFAULT_CATEGORY_COUNT): number {
  return fmix32(item ^ 0x5bd1e995) % categoryCount;
}

/** Unit price of item `i` in currency units, two decimals, between about 3 and 400. */
export function priceOf(item: number): number {
  const u = hash32(item, 0x70726963) / 4294967296; // 'pric'
  const v = hash32(item, 0x65707269) / 4294967296;
  // Log-uniform body with a heavier tail for a few expensive items.
  const base = 3 * Math.exp(4 * u + (v > 0.9 ? 0.9 : 0));
  return Math.round(base * 100 - 1) / 100; // x.99-style prices
}

export class Catalogue {
  readonly itemIds: string[];
  readonly categoryIds: string[];
  readonly itemCategory: Int32Array;
  readonly itemPrice: Float64Array;
  /** Items of each category, most popular first. */
  readonly itemsByCategory: number[][];
  private readonly popularity: WeightedTable;
  private readonly rankToItem: Int32Array;

  constructor(
    readonly itemCount = DEFAULT_ITEM_COUNT,
    readonly categoryCount = DEFAULT_CATEGORY_COUNT,
  ) {
    if (itemCount < 1 || categoryCount < 1) throw new RangeError('catalogue needs items and categories');
    this.itemIds = Array.from({ length: itemCount }, (_, i) => `i${i}`);
    this.categoryIds = Array.from({ length: categoryCount }, (_, c) => `c${c}`);
    this.itemCategory = new Int32Array(itemCount);
    this.itemPrice = new Float64Array(itemCount);
    this.itemsByCategory = Array.from({ length: categoryCount }, () => []);
    // Popularity rank r maps to item (r * stride + 13) mod n: a bijection when gcd(stride, n) = 1.
    let stride = 7919 % itemCount || 1;
    while (gcd(stride, itemCount) !== 1) stride++;
    this.rankToItem = new Int32Array(itemCount);
    const weights = new Float64Array(itemCount);
    for (let r = 0; r < itemCount; r++) {
      const item = (r * stride + 13) % itemCount;
      this.rankToItem[r] = item;
      weights[r] = 1 / (r + 1) ** ZIPF_S;
      const category = categoryIndexOf(item, categoryCount);
      this.itemCategory[item] = category;
      this.itemPrice[item] = priceOf(item);
      this.itemsByCategory[category]?.push(item);
    }
    this.popularity = new WeightedTable(weights);
  }

  /** A catalogue-wide item drawn by popularity. */
  sampleItem(rng: Rng): number {
    return this.rankToItem[this.popularity.sample(rng)] as number;
  }

  /** An item of the given category, biased to its most popular ones (falls back to any item). */
  sampleItemInCategory(rng: Rng, category: number): number {
    const items = this.itemsByCategory[category];
    if (!items || items.length === 0) return this.sampleItem(rng);
    // Geometric-ish bias towards the head of the category list.
    const u = rng.uniform();
    const idx = Math.min(items.length - 1, Math.floor(items.length * u * u * u));
    return items[idx] as number;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

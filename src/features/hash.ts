/**
 * Stable string hashing for the feature encoder: the trainer and the live scorer (and any other
 * language that reimplements it) must map an id to the same bucket forever, so this is spelled out
 * here instead of borrowed from a library: FNV-1a (32-bit) over the UTF-8 bytes of the string,
 * starting from the FNV offset basis xor a seed, then the MurmurHash3 finaliser for avalanche
 * (FNV-1a alone clusters short ids such as "i17", "i18" in the low bits).
 */

import { fmix32 } from '../util/hash.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit hash of `text` (UTF-8 bytes) under `seed`; an unsigned integer. */
export function stableHash32(text: string, seed = 0): number {
  // ASCII (every id the generator and typical trackers produce): a char is its byte. The scorer
  // hashes item and category ids on every event, so this path has no closure and no branches.
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return utf8Hash32(text, seed);
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return fmix32(h >>> 0);
}

/** stableHash32 over any string: UTF-8 encoded on the fly. */
function utf8Hash32(text: string, seed: number): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  const byte = (b: number) => {
    h ^= b;
    h = Math.imul(h, FNV_PRIME);
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      byte(c);
    } else if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 63));
    } else {
      // A surrogate pair is one code point of four bytes; a lone surrogate is encoded as U+FFFD.
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          byte(0xf0 | (c >> 18));
          byte(0x80 | ((c >> 12) & 63));
          byte(0x80 | ((c >> 6) & 63));
          byte(0x80 | (c & 63));
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      byte(0xe0 | (c >> 12));
      byte(0x80 | ((c >> 6) & 63));
      byte(0x80 | (c & 63));
    }
  }
  return fmix32(h >>> 0);
}

/** Bucket in [0, buckets) of `text`. */
export function hashBucket(text: string, buckets: number, seed = 0): number {
  return stableHash32(text, seed) % buckets;
}

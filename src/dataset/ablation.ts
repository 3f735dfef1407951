/**
 * Order ablation: a session's events in a seeded random order. Only the CONTENT of the events is
 * permuted; the sequence of timestamps stays as it was (the i-th event of the shuffled session gets
 * the i-th original time), so gaps, elapsed time and hour stay in the range the model was trained
 * on, and what changes is which action happened when and after what. A model that ignores order
 * scores both versions alike.
 */
import type { ShopEvent } from '../schemas/types.js';
import { Rng, seedFor, shuffleInPlace } from '../util/random.js';

export function shuffleEventOrder(events: readonly ShopEvent[], seed: number, key: string): ShopEvent[] {
  const shuffled = shuffleInPlace([...events], new Rng(seedFor(seed, `shuffle:${key}`)));
  return shuffled.map((e, i) => ({ ...e, event_time: events[i]!.event_time }));
}

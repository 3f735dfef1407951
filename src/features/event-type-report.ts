/**
 * What the training log and the model card say about a shop's event types: each type seen with its
 * count, the role it plays and whether the fitted vocabulary kept it, and the share of each split's
 * events that fell into the out-of-vocabulary bucket. A high share means the model cannot tell those
 * events apart: lower trainer.features.eventTypes.minCount or raise maxSize.
 */
import type { ShopEvent } from '../schemas/types.js';
import type { FeatureEncoder } from './encoder.js';
import type { Role } from './roles.js';

export interface EventTypeReport {
  /** Every type among the stored events read, most frequent first. */
  types: { type: string; count: number; role: Role | null; inVocabulary: boolean }[];
  vocabularySize: number;
  /** Per split: the share of the events the model sees whose type is out of the vocabulary. */
  outOfVocabularyShare: Record<string, number>;
}

export function eventTypeReport(
  encoder: FeatureEncoder,
  counts: Readonly<Record<string, number>>,
  splits: Readonly<Record<string, Iterable<{ events: readonly ShopEvent[] }>>>,
): EventTypeReport {
  const outOfVocabularyShare: Record<string, number> = {};
  for (const [name, sessions] of Object.entries(splits)) {
    let events = 0;
    let unknown = 0;
    for (const s of sessions) {
      for (const e of s.events) {
        events++;
        if (!encoder.knowsEventType(e.event_type)) unknown++;
      }
    }
    outOfVocabularyShare[name] = events === 0 ? 0 : unknown / events;
  }
  return {
    types: Object.entries(counts).map(([type, count]) => ({
      type,
      count,
      role: encoder.roles.roleOf(type) ?? null,
      inVocabulary: encoder.knowsEventType(type),
    })),
    vocabularySize: encoder.eventTypeVocabulary.length,
    outOfVocabularyShare,
  };
}

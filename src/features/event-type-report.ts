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

/** Events of one split, and those whose type the encoder does not know. */
export interface OutOfVocabularyCount {
  events: number;
  unknown: number;
}

export function countOutOfVocabulary(
  encoder: FeatureEncoder,
  sessions: Iterable<{ events: readonly ShopEvent[] }>,
  into: OutOfVocabularyCount = { events: 0, unknown: 0 },
): OutOfVocabularyCount {
  for (const s of sessions) {
    for (const e of s.events) {
      into.events++;
      if (!encoder.knowsEventType(e.event_type)) into.unknown++;
    }
  }
  return into;
}

export function eventTypeReport(
  encoder: FeatureEncoder,
  counts: Readonly<Record<string, number>>,
  splits: Readonly<Record<string, Iterable<{ events: readonly ShopEvent[] }>>>,
): EventTypeReport {
  return eventTypeReportFromCounts(
    encoder,
    counts,
    Object.fromEntries(
      Object.entries(splits).map(([name, sessions]) => [name, countOutOfVocabulary(encoder, sessions)]),
    ),
  );
}

/** eventTypeReport from out-of-vocabulary counts kept while streaming the splits. */
export function eventTypeReportFromCounts(
  encoder: FeatureEncoder,
  counts: Readonly<Record<string, number>>,
  outOfVocabulary: Readonly<Record<string, OutOfVocabularyCount>>,
): EventTypeReport {
  const outOfVocabularyShare: Record<string, number> = {};
  for (const [name, { events, unknown }] of Object.entries(outOfVocabulary)) {
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

/**
 * Training dataset from stored timelines: label each session (labels.ts), keep the observable
 * prefix, split by time (split.ts), and list the examples: for training sessions the full
 * observable sequence plus sampled prefixes (prefixes.ts); for validation and test one example per
 * session, the full observable sequence, which is the point where the outcome is decided and what
 * the oracle of the synthetic generator conditions on. Deterministic given the sessions and seed
 * (input order does not matter).
 */
import type { LabelConfig } from '../config/schema.js';
import type { EventRoles } from '../features/roles.js';
import type { SessionTimeline, ShopEvent } from '../schemas/types.js';
import type { CutReason } from './labels.js';
import { DatasetScanner, type PlacedSession } from './plan.js';
import type { SplitFractions, SplitName } from './split.js';

export interface DatasetOptions {
  labels: LabelConfig;
  /** The shop's event types of each role (default: the generator's names). */
  roles?: EventRoles;
  /** Sampled prefixes per training session, besides the full sequence. */
  prefixesPerSession: number;
  split: SplitFractions;
  cookieSplit: 'mixed' | 'exclusive';
  seed: number;
}

export interface DatasetSession {
  sessionId: string;
  cookieId: string;
  startTime: number;
  /** The events the model may see (non-empty). */
  events: ShopEvent[];
  label: number;
  cut: CutReason;
  /** Number of events of the stored session (for reports). */
  storedEvents: number;
}

/** One training or evaluation sequence: the first `length` observable events of `sessions[session]`. */
export interface Example {
  session: number;
  length: number;
  /** The full observable sequence (not a sampled prefix). */
  full: boolean;
}

export interface DatasetSplit {
  name: SplitName;
  sessions: DatasetSession[];
  examples: Example[];
}

export interface SplitSummary {
  sessions: number;
  positives: number;
  positiveRate: number;
  examples: number;
  /** Start time of the first and last session (ISO), null when empty. */
  from: string | null;
  to: string | null;
}

/** The stored sessions a run's time window kept and left out (set by the trainer, which reads the store). */
export interface WindowSummary {
  from: string;
  to: string;
  kept: number;
  leftOutBefore: number;
  leftOutAfter: number;
}

export interface DatasetSummary {
  /** Absent when the caller did not say which window it read. */
  window?: WindowSummary;
  sessionsRead: number;
  /** Every stored event of the sessions read, by event type, most frequent first. */
  eventTypes: Record<string, number>;
  /** Sessions whose first event is already the target or a truncating event (nothing to see). */
  droppedEmpty: number;
  droppedForCookieSplit: number;
  cuts: Record<CutReason, number>;
  splits: Record<SplitName, SplitSummary>;
  /** Identity of (split, session id, label, observable length) of every kept session: "same data". */
  fingerprint: string;
}

export interface Dataset {
  train: DatasetSplit;
  validation: DatasetSplit;
  test: DatasetSplit;
  summary: DatasetSummary;
}

export function buildDataset(timelines: Iterable<SessionTimeline>, options: DatasetOptions): Dataset {
  const all = [...timelines];
  const scanner = new DatasetScanner(options);
  for (const s of all) scanner.add(s);
  const plan = scanner.finish();
  const tally = plan.tally();
  const kept: { session: DatasetSession; placed: PlacedSession }[] = [];
  for (const s of all) {
    const placed = plan.place(s);
    tally.add(s, placed);
    if (typeof placed === 'string') continue;
    kept.push({ placed, session: datasetSession(s, placed) });
  }
  // Canonical order (start time, session id): the result does not depend on the store's file order.
  kept.sort(
    ({ session: a }, { session: b }) =>
      a.startTime - b.startTime || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0),
  );
  const splits: Record<SplitName, DatasetSplit> = {
    train: { name: 'train', sessions: [], examples: [] },
    validation: { name: 'validation', sessions: [], examples: [] },
    test: { name: 'test', sessions: [], examples: [] },
  };
  for (const { session, placed } of kept) {
    const target = splits[placed.split];
    const index = target.sessions.length;
    target.sessions.push(session);
    for (const length of placed.prefixLengths) target.examples.push({ session: index, length, full: false });
    target.examples.push({ session: index, length: session.events.length, full: true });
  }
  return { ...splits, summary: tally.summary() };
}

/** A stored session as the dataset keeps it, once placed. */
export function datasetSession(s: SessionTimeline, placed: PlacedSession): DatasetSession {
  return {
    sessionId: s.session_id,
    cookieId: s.cookie_id,
    startTime: s.start_time,
    events: placed.observable,
    label: placed.label,
    cut: placed.cut,
    storedEvents: s.events.length,
  };
}

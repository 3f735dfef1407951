/**
 * Training dataset from stored timelines: label each session (labels.ts), keep the observable
 * prefix, split by time (split.ts), and list the examples: for training sessions the full
 * observable sequence plus sampled prefixes (prefixes.ts); for validation and test one example per
 * session, the full observable sequence, which is the point where the outcome is decided and what
 * the oracle of the synthetic generator conditions on. Deterministic given the sessions and seed
 * (input order does not matter).
 */
import { createHash } from 'node:crypto';
import type { LabelConfig } from '../config/schema.js';
import type { EventRoles } from '../features/roles.js';
import type { SessionTimeline, ShopEvent } from '../schemas/types.js';
import { type CutReason, labelSession, resolveLabels } from './labels.js';
import { sessionPrefixLengths } from './prefixes.js';
import { SPLIT_NAMES, type SplitFractions, type SplitName, timeSplit } from './split.js';

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
  /** sha256 over (session id, label, observable length) of every kept session: "same data". */
  fingerprint: string;
}

export interface Dataset {
  train: DatasetSplit;
  validation: DatasetSplit;
  test: DatasetSplit;
  summary: DatasetSummary;
}

export function buildDataset(timelines: Iterable<SessionTimeline>, options: DatasetOptions): Dataset {
  const kept: DatasetSession[] = [];
  const cuts: Record<CutReason, number> = { target: 0, truncate: 0, end: 0 };
  let sessionsRead = 0;
  let droppedEmpty = 0;
  const typeCounts = new Map<string, number>();
  const labels = resolveLabels(options.labels, options.roles);
  for (const s of timelines) {
    sessionsRead++;
    for (const e of s.events) typeCounts.set(e.event_type, (typeCounts.get(e.event_type) ?? 0) + 1);
    const { observable, label, cut } = labelSession(s, labels);
    if (observable.length === 0) {
      droppedEmpty++;
      continue;
    }
    cuts[cut]++;
    kept.push({
      sessionId: s.session_id,
      cookieId: s.cookie_id,
      startTime: s.start_time,
      events: observable,
      label,
      cut,
      storedEvents: s.events.length,
    });
  }
  // Canonical order (start time, session id): the result does not depend on the store's file order.
  kept.sort(
    (a, b) =>
      a.startTime - b.startTime || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0),
  );
  const split = timeSplit(kept, options.split, options.cookieSplit);
  const splits: Record<SplitName, DatasetSplit> = {
    train: { name: 'train', sessions: [], examples: [] },
    validation: { name: 'validation', sessions: [], examples: [] },
    test: { name: 'test', sessions: [], examples: [] },
  };
  kept.forEach((s, i) => {
    const where = split.assignment[i]!;
    if (where === 'dropped') return;
    const target = splits[where];
    const index = target.sessions.length;
    target.sessions.push(s);
    if (where === 'train') {
      for (const length of sessionPrefixLengths(
        s.sessionId,
        s.events.length,
        options.prefixesPerSession,
        options.seed,
      )) {
        target.examples.push({ session: index, length, full: false });
      }
    }
    target.examples.push({ session: index, length: s.events.length, full: true });
  });

  const hash = createHash('sha256');
  for (const name of SPLIT_NAMES) {
    for (const s of splits[name].sessions)
      hash.update(`${name}\t${s.sessionId}\t${s.label}\t${s.events.length}\n`);
  }
  const summarize = (d: DatasetSplit): SplitSummary => {
    const positives = d.sessions.reduce((n, s) => n + s.label, 0);
    const first = d.sessions[0];
    const last = d.sessions.at(-1);
    return {
      sessions: d.sessions.length,
      positives,
      positiveRate: d.sessions.length === 0 ? 0 : positives / d.sessions.length,
      examples: d.examples.length,
      from: first ? new Date(first.startTime).toISOString() : null,
      to: last ? new Date(last.startTime).toISOString() : null,
    };
  };
  return {
    ...splits,
    summary: {
      sessionsRead,
      eventTypes: Object.fromEntries(
        [...typeCounts].sort(([a, n], [b, m]) => m - n || (a < b ? -1 : a > b ? 1 : 0)),
      ),
      droppedEmpty,
      droppedForCookieSplit: split.droppedForCookie,
      cuts,
      splits: {
        train: summarize(splits.train),
        validation: summarize(splits.validation),
        test: summarize(splits.test),
      },
      fingerprint: hash.digest('hex'),
    },
  };
}

/** Labels of a split's examples, in example order. */
export function exampleLabels(split: DatasetSplit): number[] {
  return split.examples.map((e) => split.sessions[e.session]!.label);
}

/**
 * The dataset in two streaming passes, so no pass holds the sessions: the SCAN (pass 1) keeps per
 * kept session only its start time (and, for exclusive cookies, each cookie's first start), which
 * is all the time split needs; the PLAN it yields then PLACES any session on its own (label,
 * observable prefix, split, sampled prefixes), the same on every later pass over the store, and a
 * TALLY adds the placed sessions up into the summary and fingerprint. buildDataset (dataset.ts) is
 * these three over an in-memory list, so both paths give the same split, labels and summary.
 */
import { createHash } from 'node:crypto';
import type { SessionTimeline, ShopEvent } from '../schemas/types.js';
import type { DatasetOptions, DatasetSummary, SplitSummary } from './dataset.js';
import { type CutReason, type ResolvedLabels, labelSession, resolveLabels } from './labels.js';
import { sessionPrefixLengths } from './prefixes.js';
import { SPLIT_NAMES, type SplitBoundaries, type SplitName, splitBoundaries, windowOf } from './split.js';

/** A session as the dataset sees it. */
export interface PlacedSession {
  split: SplitName;
  /** The events the model may see (non-empty). */
  observable: ShopEvent[];
  label: number;
  cut: CutReason;
  /** Sampled prefix lengths (training sessions only; empty elsewhere). */
  prefixLengths: number[];
}

/** Why a stored session is not in the dataset. */
export type LeftOut = 'empty' | 'dropped_for_cookie';

export class DatasetScanner {
  private readonly labels: ResolvedLabels;
  private startTimes = new Float64Array(1024);
  private kept = 0;
  private sessionsRead = 0;
  private droppedEmpty = 0;
  private readonly cuts: Record<CutReason, number> = { target: 0, truncate: 0, end: 0 };
  private readonly typeCounts = new Map<string, number>();
  /** Earliest start of each cookie's kept sessions (exclusive cookie split only). */
  private readonly cookieFirst: Map<string, number> | null;

  constructor(private readonly options: DatasetOptions) {
    this.labels = resolveLabels(options.labels, options.roles);
    this.cookieFirst = options.cookieSplit === 'exclusive' ? new Map() : null;
  }

  add(s: SessionTimeline): void {
    this.sessionsRead++;
    for (const e of s.events) this.typeCounts.set(e.event_type, (this.typeCounts.get(e.event_type) ?? 0) + 1);
    const { observable, cut } = labelSession(s, this.labels);
    if (observable.length === 0) {
      this.droppedEmpty++;
      return;
    }
    this.cuts[cut]++;
    if (this.kept === this.startTimes.length) {
      const grown = new Float64Array(this.startTimes.length * 2);
      grown.set(this.startTimes);
      this.startTimes = grown;
    }
    this.startTimes[this.kept++] = s.start_time;
    if (this.cookieFirst) {
      const first = this.cookieFirst.get(s.cookie_id);
      if (first === undefined || s.start_time < first) this.cookieFirst.set(s.cookie_id, s.start_time);
    }
  }

  finish(): DatasetPlan {
    const sorted = this.startTimes.slice(0, this.kept).sort();
    const boundaries = splitBoundaries(sorted, this.options.split);
    this.startTimes = new Float64Array(0);
    return new DatasetPlan(this.options, this.labels, boundaries, this.cookieFirst, {
      sessionsRead: this.sessionsRead,
      eventTypes: Object.fromEntries(
        [...this.typeCounts].sort(([a, n], [b, m]) => m - n || (a < b ? -1 : a > b ? 1 : 0)),
      ),
      droppedEmpty: this.droppedEmpty,
      cuts: { ...this.cuts },
    });
  }
}

type ScanCounts = Pick<DatasetSummary, 'sessionsRead' | 'eventTypes' | 'droppedEmpty' | 'cuts'>;

export class DatasetPlan {
  constructor(
    private readonly options: DatasetOptions,
    private readonly labels: ResolvedLabels,
    readonly boundaries: SplitBoundaries,
    private readonly cookieFirst: ReadonlyMap<string, number> | null,
    readonly scanned: ScanCounts,
  ) {}

  /** Where a session goes; a function of the session alone (and what the scan saw). */
  place(s: SessionTimeline): PlacedSession | LeftOut {
    const { observable, label, cut } = labelSession(s, this.labels);
    if (observable.length === 0) return 'empty';
    const split = windowOf(this.boundaries, s.start_time);
    // A cookie belongs to the window of its first session; its sessions in a later window are dropped.
    const first = this.cookieFirst?.get(s.cookie_id);
    if (first !== undefined && windowOf(this.boundaries, first) !== split) return 'dropped_for_cookie';
    const prefixLengths =
      split === 'train'
        ? sessionPrefixLengths(
            s.session_id,
            observable.length,
            this.options.prefixesPerSession,
            this.options.seed,
          )
        : [];
    return { split, observable, label, cut, prefixLengths };
  }

  tally(): DatasetTally {
    return new DatasetTally(this.scanned);
  }
}

const TWO_POW_128 = 1n << 128n;

/**
 * Adds placed sessions up into the summary. The fingerprint is a sum modulo 2^128 of a hash per
 * (split, session id, label, observable length): the same for the same data whatever the order the
 * sessions are read in, without keeping them to sort.
 */
export class DatasetTally {
  private droppedForCookieSplit = 0;
  private fingerprintSum = 0n;
  private readonly splits = Object.fromEntries(
    SPLIT_NAMES.map((name) => [
      name,
      {
        sessions: 0,
        positives: 0,
        examples: 0,
        from: Number.POSITIVE_INFINITY,
        to: Number.NEGATIVE_INFINITY,
      },
    ]),
  ) as Record<SplitName, { sessions: number; positives: number; examples: number; from: number; to: number }>;

  constructor(private readonly scanned: ScanCounts) {}

  add(s: SessionTimeline, placed: PlacedSession | LeftOut): void {
    if (placed === 'empty') return;
    if (placed === 'dropped_for_cookie') {
      this.droppedForCookieSplit++;
      return;
    }
    const t = this.splits[placed.split];
    t.sessions++;
    t.positives += placed.label;
    t.examples += 1 + placed.prefixLengths.length;
    t.from = Math.min(t.from, s.start_time);
    t.to = Math.max(t.to, s.start_time);
    const digest = createHash('sha256')
      .update(`${placed.split}\t${s.session_id}\t${placed.label}\t${placed.observable.length}\n`)
      .digest('hex');
    this.fingerprintSum = (this.fingerprintSum + BigInt(`0x${digest.slice(0, 32)}`)) % TWO_POW_128;
  }

  summary(): DatasetSummary {
    const summarize = (name: SplitName): SplitSummary => {
      const t = this.splits[name];
      const empty = t.sessions === 0;
      return {
        sessions: t.sessions,
        positives: t.positives,
        positiveRate: empty ? 0 : t.positives / t.sessions,
        examples: t.examples,
        from: empty ? null : new Date(t.from).toISOString(),
        to: empty ? null : new Date(t.to).toISOString(),
      };
    };
    const counts = SPLIT_NAMES.map((name) => this.splits[name].sessions).join(',');
    return {
      sessionsRead: this.scanned.sessionsRead,
      eventTypes: this.scanned.eventTypes,
      droppedEmpty: this.scanned.droppedEmpty,
      droppedForCookieSplit: this.droppedForCookieSplit,
      cuts: this.scanned.cuts,
      splits: { train: summarize('train'), validation: summarize('validation'), test: summarize('test') },
      fingerprint: createHash('sha256')
        .update(`${counts}\t${this.fingerprintSum.toString(16)}`)
        .digest('hex'),
    };
  }
}

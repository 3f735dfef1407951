/** Public shapes of the synthetic traffic generator's output. */
import type { ShopEvent } from '../schemas/types.js';
import type { SessionContext } from './behaviour.js';
import type { TaxonomyName } from './taxonomy.js';

export const MALFORMED_CLASSES = [
  'invalid_json',
  'missing_cookie_id',
  'non_numeric_event_time',
  'wrong_magic_byte',
  'truncated_avro',
] as const;
export type MalformedClass = (typeof MALFORMED_CLASSES)[number];

/** A well-formed tracker event. */
export interface EventItem {
  kind: 'event';
  event: ShopEvent;
  /** The shop's own session id (taxonomies with a session id column only), as in its oracle's `sessionKey`. */
  session?: string;
}

/**
 * A raw message a broken producer would send. For the JSON classes `json` is the
 * exact payload; for the binary classes (`wrong_magic_byte`, `truncated_avro`)
 * the sink builds the bytes, typically by encoding `event` and corrupting it.
 */
export interface MalformedItem {
  kind: 'malformed';
  malformedClass: MalformedClass;
  /** Kafka key (the cookie id of the event it was derived from). */
  key: string;
  json?: string;
  /** The event the message was derived from (binary classes only). */
  event?: ShopEvent;
}

/** How a generated session ended. */
export type SessionOutcome = 'purchase' | 'abandon' | 'checkout_abandon' | 'idle_split' | 'bot';

/**
 * Ground truth for one generated session (not an event; sinks write it to a side
 * file). `purchaseProbability` is the exact probability the generator used to
 * draw `purchased`, given the first `decisionIndex` events of the session
 * (`eventIds` lists all of them, in event-time order, duplicates excluded).
 */
export interface SessionEndItem {
  kind: 'session_end';
  cookie_id: string;
  sessionKey: string;
  firstEventTime: number;
  lastEventTime: number;
  /** Event time of the last pre-decision event. */
  decisionTime: number;
  /** Number of events before the purchase decision (the prefix the oracle conditions on). */
  decisionIndex: number;
  purchaseProbability: number;
  purchased: boolean;
  outcome: SessionOutcome;
  bot: boolean;
  context: SessionContext;
  eventIds: string[];
}

export type GeneratedItem = EventItem | MalformedItem | SessionEndItem;

export interface GeneratorOptions {
  /** 32-bit seed (default 1). Same options give the same item sequence. */
  seed?: number;
  /** Number of distinct (human) cookies (default 5,000). */
  cookies?: number;
  /** Event-time origin in epoch ms (default 2026-11-01T00:00:00Z; the wall clock is never read). */
  startTime?: number;
  /** Event-time span in which sessions start (default 1 day); started sessions run to their end. */
  durationMs?: number;
  /** Fraction of events emitted 1-5 s late relative to event time (default 0.02). */
  outOfOrderRate?: number;
  /** Fraction of events emitted a second time, 0-3 s later, with the same event_id (default 0.01). */
  duplicateRate?: number;
  /** Number of bot cookies, each one long burst of thousands of views (default 2). */
  botCookies?: number;
  /** Per-event probability of an extra malformed message (default 0). */
  malformedRate?: number;
  /** Stop after this many event items (duplicates included; default unlimited). */
  maxEvents?: number;
  /** Also yield `session_end` oracle items (default false). */
  emitOracle?: boolean;
  /** Mean gap between a cookie's sessions beyond the 31-minute minimum (default 6 h). */
  meanSessionGapMs?: number;
  /** Catalogue size (default 5,000 items in 50 categories). */
  items?: number;
  categories?: number;
  /** The shop's event names (default `ours`; see taxonomy.ts). The shopping process is the same. */
  taxonomy?: TaxonomyName;
}

export type ResolvedGeneratorOptions = Required<GeneratorOptions>;

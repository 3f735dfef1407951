/**
 * Event-time sessions for one Kafka partition (pure: no I/O, no clock, no Kafka).
 *
 * Usage (ingest, one instance per assigned partition):
 *   const z = restored ?? new Sessionizer(sessionRulesFromConfig(config.sessions));
 *   for each event: switch (z.push(event).outcome) { 'accepted' | 'duplicate' | 'late' → dead letter }
 *   write z.drainClosed() downstream; periodically drain, then encodeSnapshot(z.snapshot()) to disk.
 * Batch import: push everything, then z.flushAll('end_of_input') and drainClosed().
 *
 * See sessionizer.ts for the exact semantics (watermark, finality, duplicates, close order).
 */
export {
  DEFAULT_SESSION_RULES,
  resolveSessionRules,
  sessionBoundary,
  sessionIdFor,
  sessionRulesFromConfig,
  type SessionBoundary,
  type SessionRules,
  type SessionSoFar,
} from './rules.js';
export { Sessionizer, type PushResult, type SessionizerCounters } from './sessionizer.js';
export {
  SNAPSHOT_VERSION,
  SnapshotError,
  decodeSnapshot,
  encodeSnapshot,
  restoreSessionizer,
  validateSnapshot,
  type CookieSnapshot,
  type SessionizerSnapshot,
} from './state.js';

import type { DeadLetterReason } from '../kafka/dead-letter.js';

/** The dead-letter reason (and metric label) of an event later than the sessionizer's grace period. */
export const LATE_REASON = 'late_event';

/** Why a late event goes to the dead-letter topic: its session may already be stored. */
export function lateEventReason(lateByMs: number, graceMs: number): DeadLetterReason {
  return {
    reason: LATE_REASON,
    field: 'event_time',
    message: `event_time is ${lateByMs} ms behind the partition watermark (grace ${graceMs} ms); the session it belonged to may already be stored`,
  };
}

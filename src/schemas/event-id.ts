/**
 * Content-derived event ids, for events that arrive without one (export rows, trackers that send no
 * event_id). The id is a hash of the event's fields, so the same event sent twice gets the same id and
 * the usual event_id dedupe drops the copy; the file, line or arrival order never enter it.
 *
 * What it cannot catch: two copies that differ in any field (a re-sent event with a new timestamp, a
 * price reformatted by the sender) get different ids; and two genuinely distinct events that agree on
 * every field (a double click in the same millisecond) collapse into one.
 */
import { createHash } from 'node:crypto';
import type { ShopEvent } from './types.js';

/** The prefix marks derived ids apart from ids a sender chose. */
export const CONTENT_EVENT_ID_PREFIX = 'cid_';

/**
 * `cid_` + 24 hex of sha256 over the event's fields (extras sorted by key) in a fixed order. Takes the
 * normalized event (event_time in epoch ms, numbers as numbers), so spellings of the same value that
 * normalize alike give the same id.
 */
export function contentEventId(event: Omit<ShopEvent, 'event_id'> & { event_id?: string }): string {
  const extras = Object.keys(event.extras)
    .sort()
    .map((k) => [k, event.extras[k]]);
  const canonical = JSON.stringify([
    event.cookie_id,
    event.event_type,
    event.event_time,
    event.item_id,
    event.category_id,
    event.price,
    event.quantity,
    event.page_type,
    event.device,
    event.referrer,
    extras,
  ]);
  return CONTENT_EVENT_ID_PREFIX + createHash('sha256').update(canonical).digest('hex').slice(0, 24);
}

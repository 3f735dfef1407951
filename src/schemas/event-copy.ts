/** The one way to copy a ShopEvent. */
import type { ShopEvent } from './types.js';

/**
 * A plain copy of the event's contract fields, in Avro schema order, so every path (Avro, JSON, generated)
 * hands downstream code one object shape and JSON.stringify one key order. `extras` replaces the event's
 * extras (e.g. with sorted keys for byte-stable JSON); the event's own object is shared otherwise.
 */
export function copyEvent(e: ShopEvent, extras: Record<string, string> = e.extras): ShopEvent {
  return {
    cookie_id: e.cookie_id,
    event_id: e.event_id,
    event_type: e.event_type,
    event_time: e.event_time,
    item_id: e.item_id,
    category_id: e.category_id,
    price: e.price,
    quantity: e.quantity,
    page_type: e.page_type,
    device: e.device,
    referrer: e.referrer,
    extras,
  };
}

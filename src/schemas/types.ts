/** TypeScript shapes of the Avro contract in this folder (*.avsc). */

/** One tracker event. `event_time` is epoch milliseconds in event time. */
export interface ShopEvent {
  cookie_id: string;
  event_id: string;
  event_type: string;
  event_time: number;
  item_id: string | null;
  category_id: string | null;
  price: number | null;
  quantity: number | null;
  page_type: string | null;
  device: string | null;
  referrer: string | null;
  extras: Record<string, string>;
}

export interface SessionPrediction {
  cookie_id: string;
  session_id: string;
  model_version: string;
  event_id: string;
  event_time: number;
  scored_at: number;
  events_in_session: number;
  probabilities: Record<string, number>;
}

/**
 * Why a session closed. `evicted`: the partition held more open sessions than
 * sessions.maxOpenPerPartition, and this one was the least recently active (its events are stored,
 * not dropped; a later event of the cookie starts a new session).
 */
export type CloseReason = 'gap' | 'max_duration' | 'max_events' | 'end_of_input' | 'evicted';

export interface SessionTimeline {
  session_id: string;
  cookie_id: string;
  start_time: number;
  end_time: number;
  close_reason: CloseReason;
  event_count: number;
  events: ShopEvent[];
}

/** Event types the generator emits and the encoder knows; the contract accepts any non-empty string. */
export const KNOWN_EVENT_TYPES = [
  'page_view',
  'search',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout',
  'purchase',
] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

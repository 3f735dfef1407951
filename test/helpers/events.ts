import type { SessionTimeline, ShopEvent } from '../../src/schemas/types.js';

export const T0 = Date.UTC(2026, 10, 2, 18, 0, 0); // Monday 18:00 UTC

let counter = 0;

/** A ShopEvent with defaults (cookie c1, desktop, direct). */
export function ev(type: string, time: number, fields: Partial<ShopEvent> = {}): ShopEvent {
  return {
    cookie_id: 'c1',
    event_id: `e${++counter}`,
    event_type: type,
    event_time: time,
    item_id: null,
    category_id: null,
    price: null,
    quantity: null,
    page_type: null,
    device: 'desktop',
    referrer: 'direct',
    extras: {},
    ...fields,
  };
}

/** A stored session of the given event types, one every `stepMs`. */
export function session(
  id: string,
  start: number,
  types: string[],
  options: { cookie?: string; stepMs?: number } = {},
): SessionTimeline {
  const stepMs = options.stepMs ?? 30_000;
  const cookie = options.cookie ?? `ck-${id}`;
  const events = types.map((t, i) =>
    ev(t, start + i * stepMs, { cookie_id: cookie, item_id: t === 'page_view' ? null : `i${i % 3}` }),
  );
  return {
    session_id: id,
    cookie_id: cookie,
    start_time: start,
    end_time: start + (types.length - 1) * stepMs,
    close_reason: 'gap',
    event_count: events.length,
    events,
  };
}

/** A ShopEvent with every optional field empty (null, extras {}); `fields` set the rest. */
export function shopEvent(
  fields: Pick<ShopEvent, 'cookie_id' | 'event_id' | 'event_type' | 'event_time'> & Partial<ShopEvent>,
): ShopEvent {
  return {
    item_id: null,
    category_id: null,
    price: null,
    quantity: null,
    page_type: null,
    device: null,
    referrer: null,
    extras: {},
    ...fields,
  };
}

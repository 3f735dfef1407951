/** Serialisation helpers for generated items (the Kafka/file sinks live elsewhere). */
import { copyEvent } from '../schemas/event-copy.js';
import type { ShopEvent } from '../schemas/types.js';
import type { GeneratedItem } from './types.js';

/** The event with its fields in Avro-schema order and its extras keys sorted, so JSON is byte-stable. */
export function canonicalEvent(e: ShopEvent): ShopEvent {
  const extras: Record<string, string> = {};
  for (const k of Object.keys(e.extras).sort()) extras[k] = e.extras[k] as string;
  return copyEvent(e, extras);
}

/**
 * One NDJSON line (no trailing newline): the event's stable JSON for event items,
 * the record for session_end items, the raw payload for JSON malformed items.
 * Throws for the binary malformed classes, whose bytes the sink must build.
 */
export function toNdjsonLine(item: GeneratedItem | ShopEvent): string {
  if (!('kind' in item)) return JSON.stringify(canonicalEvent(item));
  switch (item.kind) {
    case 'event': {
      if (item.session === undefined) return JSON.stringify(canonicalEvent(item.event));
      const { cookie_id, ...rest } = canonicalEvent(item.event);
      return JSON.stringify({ cookie_id, session_id: item.session, ...rest });
    }
    case 'session_end':
      return JSON.stringify(item);
    case 'malformed':
      if (item.json === undefined)
        throw new TypeError(`malformed class ${item.malformedClass} has no JSON form`);
      return item.json;
  }
}

/** Bytes on the wire for generated items: the codec for events, deliberate corruption for malformed ones. */
import { encodeEvent, encodeEventJson } from '../schemas/index.js';
import type { EventItem, MalformedItem } from './types.js';

export type WireEncoding = 'avro' | 'json';

export function eventBytes(item: EventItem, encoding: WireEncoding): Buffer {
  return encoding === 'avro' ? encodeEvent(item.event) : encodeEventJson(item.event);
}

/** The raw message a broken producer would send for this malformed item. */
export function malformedBytes(item: MalformedItem): Buffer {
  if (item.json !== undefined) return Buffer.from(item.json, 'utf8');
  const good = encodeEvent(item.event!);
  if (item.malformedClass === 'wrong_magic_byte') {
    const copy = Buffer.from(good);
    copy[0] = 0x07;
    return copy;
  }
  // truncated_avro: the header and part of the payload, as if the producer died mid-write.
  return good.subarray(0, Math.max(6, Math.floor(good.length / 2)));
}

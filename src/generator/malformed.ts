/** Builds the malformed raw messages a broken producer would send, derived from a good event. */
import type { ShopEvent } from '../schemas/types.js';
import type { Rng } from '../util/random.js';
import { canonicalEvent } from './sink.js';
import { MALFORMED_CLASSES, type MalformedItem } from './types.js';

export function makeMalformed(rng: Rng, event: ShopEvent): MalformedItem {
  const malformedClass = rng.choice(MALFORMED_CLASSES);
  const key = event.cookie_id;
  switch (malformedClass) {
    case 'invalid_json': {
      const json = JSON.stringify(canonicalEvent(event));
      // A cut-off line or a trailing comma: neither parses.
      const broken = rng.chance(0.5) ? json.slice(0, rng.int(1, json.length - 2)) : json.slice(0, -1) + ',}';
      return { kind: 'malformed', malformedClass, key, json: broken };
    }
    case 'missing_cookie_id': {
      const { cookie_id: _dropped, ...rest } = canonicalEvent(event);
      return { kind: 'malformed', malformedClass, key, json: JSON.stringify(rest) };
    }
    case 'non_numeric_event_time': {
      const e = canonicalEvent(event);
      const time = rng.chance(0.5) ? new Date(event.event_time).toISOString() : 'yesterday';
      return { kind: 'malformed', malformedClass, key, json: JSON.stringify({ ...e, event_time: time }) };
    }
    default:
      return { kind: 'malformed', malformedClass, key, event: canonicalEvent(event) };
  }
}

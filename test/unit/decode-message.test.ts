import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, eventDecoderFor } from '../../src/kafka/decode-message.js';
import { encodeEvent } from '../../src/schemas/index.js';
import { formatDuration } from '../../src/util/duration.js';
import { shopEvent } from '../helpers/events.js';
import { testConfig } from '../helpers/kafka.js';

const DAY = 86_400_000;
const STAMP = Date.UTC(2026, 10, 20, 12, 0);
const at = (eventTime: number, timestamp: number | string = STAMP) => ({
  value: encodeEvent(
    shopEvent({ cookie_id: 'c', event_id: 'e', event_type: 'page_view', event_time: eventTime }),
  ),
  timestamp: String(timestamp),
});

describe('decodeMessage: event_time against the Kafka timestamp', () => {
  const decoder = eventDecoderFor(testConfig);
  const table: { name: string; message: ReturnType<typeof at>; skew: number | null; ok: boolean }[] = [
    { name: 'in the past', message: at(STAMP - 30 * DAY), skew: DAY, ok: true },
    { name: 'exactly at the limit', message: at(STAMP + DAY), skew: DAY, ok: true },
    { name: 'one ms beyond the limit', message: at(STAMP + DAY + 1), skew: DAY, ok: false },
    {
      name: 'seconds mistaken for ms would be far past, ms for µs far future',
      message: at(STAMP * 1.5),
      skew: DAY,
      ok: false,
    },
    { name: 'check off', message: at(STAMP + 3_000 * DAY), skew: null, ok: true },
    {
      name: 'no usable timestamp: nothing to compare with',
      message: at(STAMP + 3_000 * DAY, -1),
      skew: DAY,
      ok: true,
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const r = decodeMessage(decoder, c.message, c.skew);
      assert.equal(r.ok, c.ok, JSON.stringify(r));
      if (!r.ok) {
        assert.equal(r.rejection.reason, 'invalid_field');
        assert.equal(r.rejection.field, 'event_time');
        assert.match(
          r.rejection.message,
          /ahead of the message's Kafka timestamp .* \(limit sessions\.maxFutureSkew 1d\)/,
        );
      }
    });
  }
  it('other rejections pass through unchanged', () => {
    const r = decodeMessage(decoder, { value: Buffer.from('{'), timestamp: String(STAMP) }, DAY);
    assert.ok(!r.ok && r.rejection.reason === 'invalid_json', JSON.stringify(r));
  });
  it('formats durations in the largest unit', () => {
    assert.deepEqual([250, 1_500, 90_000, 5_400_000, 3 * DAY].map(formatDuration), [
      '250ms',
      '1.5s',
      '1.5m',
      '1.5h',
      '3d',
    ]);
  });
});

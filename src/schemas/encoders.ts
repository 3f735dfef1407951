/**
 * Encoders of the contract's values (Confluent-framed Avro, or JSON for events), and the strict decoders
 * of the values this system writes itself (predictions, timelines): those throw on bad input instead of
 * returning a rejection, because a bad one is a bug or corruption, not a tracker's mistake.
 */
import type { Type } from 'avsc';
import { SCHEMA_IDS, sessionPredictionType, sessionTimelineType, shopEventType } from './avro.js';
import { copyEvent } from './event-copy.js';
import { HEADER_BYTES, unframe, writeHeader } from './framing.js';
import { describeError, describeValue } from './rejections.js';
import type { CloseReason, SessionPrediction, SessionTimeline, ShopEvent } from './types.js';

let scratch = Buffer.allocUnsafe(64 * 1024);

function invalidValue(type: Type, value: unknown, what: string, err: unknown): Error {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], v: unknown, t: Type) => {
      if (problems.length < 5) {
        let expected = t.toString();
        if (expected.length > 80) expected = `${expected.slice(0, 80)}…`;
        problems.push(
          `${path.length > 0 ? path.join('.') : '(value)'} must be ${expected}, got ${describeValue(v)}`,
        );
      }
    },
  });
  const detail = problems.length > 0 ? problems.join('; ') : describeError(err);
  return new TypeError(`cannot encode ${what}: ${detail}`, { cause: err });
}

/** Avro-encodes `value` and prefixes the Confluent header, with one copy out of a shared scratch buffer. */
function encodeFramed(type: Type, schemaId: number, value: unknown, what: string): Buffer {
  let end: number;
  try {
    end = type.encode(value, scratch, HEADER_BYTES);
    if (end < 0) {
      // avsc returns minus the number of missing bytes
      scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
      end = type.encode(value, scratch, HEADER_BYTES);
    }
  } catch (err) {
    throw invalidValue(type, value, what, err);
  }
  writeHeader(scratch, schemaId);
  const out = Buffer.allocUnsafe(end);
  scratch.copy(out, 0, 0, end);
  return out;
}

function decodeFramed(type: Type, schemaId: number, what: string, buf: Buffer | null | undefined): unknown {
  const framed = unframe(buf);
  if (!framed.ok) throw new Error(`cannot decode ${what}: ${framed.rejection.message}`);
  if (framed.schemaId !== schemaId) {
    throw new Error(`cannot decode ${what}: expected schema id ${schemaId}, got ${framed.schemaId}`);
  }
  const b = buf as Buffer;
  let decoded: { value: unknown; offset: number };
  try {
    decoded = type.decode(b, HEADER_BYTES);
  } catch (err) {
    throw new Error(`cannot decode ${what}: invalid Avro body: ${describeError(err)}`, { cause: err });
  }
  if (decoded.offset < 0) {
    throw new Error(`cannot decode ${what}: Avro body (${b.length - HEADER_BYTES} bytes) is truncated`);
  }
  if (decoded.offset !== b.length) {
    throw new Error(`cannot decode ${what}: ${b.length - decoded.offset} trailing byte(s) after the record`);
  }
  return decoded.value;
}

/** Confluent-framed Avro, schema id 2. Throws a TypeError naming the offending field on an invalid event. */
export function encodeEvent(event: ShopEvent): Buffer {
  return encodeFramed(shopEventType, SCHEMA_IDS.shopEvent, event, 'ShopEvent');
}

/** UTF-8 JSON object with exactly the contract's fields. */
export function encodeEventJson(event: ShopEvent): Buffer {
  return Buffer.from(JSON.stringify(copyEvent(event)), 'utf8');
}

/** Confluent-framed Avro, schema id 10. */
export function encodePrediction(prediction: SessionPrediction): Buffer {
  return encodeFramed(sessionPredictionType, SCHEMA_IDS.sessionPrediction, prediction, 'SessionPrediction');
}

/** Inverse of encodePrediction; throws an Error naming the problem on bad input. */
export function decodePrediction(buf: Buffer): SessionPrediction {
  const r = decodeFramed(
    sessionPredictionType,
    SCHEMA_IDS.sessionPrediction,
    'SessionPrediction',
    buf,
  ) as SessionPrediction;
  return {
    cookie_id: r.cookie_id,
    session_id: r.session_id,
    model_version: r.model_version,
    event_id: r.event_id,
    event_time: r.event_time,
    scored_at: r.scored_at,
    events_in_session: r.events_in_session,
    probabilities: r.probabilities,
  };
}

const CLOSE_REASONS: ReadonlySet<string> = new Set<CloseReason>([
  'gap',
  'max_duration',
  'max_events',
  'end_of_input',
  'evicted',
]);

/** Confluent-framed Avro, schema id 20. */
export function encodeTimeline(timeline: SessionTimeline): Buffer {
  return encodeFramed(sessionTimelineType, SCHEMA_IDS.sessionTimeline, timeline, 'SessionTimeline');
}

/** Inverse of encodeTimeline; throws an Error naming the problem on bad input (incl. an unknown close_reason). */
export function decodeTimeline(buf: Buffer): SessionTimeline {
  const r = decodeFramed(
    sessionTimelineType,
    SCHEMA_IDS.sessionTimeline,
    'SessionTimeline',
    buf,
  ) as SessionTimeline;
  if (!CLOSE_REASONS.has(r.close_reason)) {
    throw new Error(
      `cannot decode SessionTimeline: close_reason must be one of ${[...CLOSE_REASONS].join(', ')}, got ${describeValue(r.close_reason)}`,
    );
  }
  return {
    session_id: r.session_id,
    cookie_id: r.cookie_id,
    start_time: r.start_time,
    end_time: r.end_time,
    close_reason: r.close_reason,
    event_count: r.event_count,
    events: r.events.map((e) => copyEvent(e)),
  };
}

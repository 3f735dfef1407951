/**
 * Confluent wire format: magic byte 0x00, 4-byte big-endian schema id, then the Avro binary body.
 */
import { type Rejection, describeByte, reject } from './rejections.js';

export const MAGIC_BYTE = 0x00;
/** magic byte + schema id */
export const HEADER_BYTES = 5;
const MAX_SCHEMA_ID = 0xffff_ffff;

export type UnframeResult =
  | { ok: true; schemaId: number; payload: Buffer }
  | { ok: false; rejection: Rejection };

function checkSchemaId(schemaId: number): void {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) {
    throw new RangeError(`schema id must be an integer in 0..${MAX_SCHEMA_ID}, got ${schemaId}`);
  }
}

/** Writes the 5-byte Confluent header at the start of `buf`. */
export function writeHeader(buf: Buffer, schemaId: number): void {
  checkSchemaId(schemaId);
  buf[0] = MAGIC_BYTE;
  buf.writeUInt32BE(schemaId, 1);
}

/** Prefixes an Avro body with the Confluent header (copies once). */
export function frame(schemaId: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  writeHeader(out, schemaId);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Splits a Confluent-framed value into schema id and Avro body (a view, not a copy). */
export function unframe(buf: Buffer | null | undefined): UnframeResult {
  if (buf == null || buf.length === 0) {
    return { ok: false, rejection: reject('empty_message', 'value is empty (null or zero bytes)') };
  }
  const first = buf[0]!;
  if (first !== MAGIC_BYTE) {
    return {
      ok: false,
      rejection: reject(
        'wrong_magic_byte',
        `expected magic byte 0x00 of the Confluent Avro wire format, got ${describeByte(first)}`,
      ),
    };
  }
  if (buf.length < HEADER_BYTES) {
    return { ok: false, rejection: truncatedHeader(buf.length) };
  }
  return { ok: true, schemaId: buf.readUInt32BE(1), payload: buf.subarray(HEADER_BYTES) };
}

export function truncatedHeader(length: number): Rejection {
  return reject(
    'truncated_payload',
    `Confluent Avro header needs ${HEADER_BYTES} bytes (0x00 + 4-byte schema id), got only ${length}`,
  );
}

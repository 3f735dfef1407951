import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, deflateRaw as deflateRawCb } from 'node:zlib';
import avro from 'avsc';
import type { Type } from 'avsc';
import { IntentstreamError } from '../errors.js';

const deflateRaw = promisify(deflateRawCb);
const MAGIC = Buffer.from('Obj\u0001', 'latin1');
const BLOCK_BYTES = 4 * 1024 * 1024;
const longType = avro.Type.forSchema('long');
const metaType = avro.Type.forSchema({ type: 'map', values: 'bytes' });
/**
 * Our own header metadata (Avro readers ignore keys outside the reserved `avro.` prefix): the record
 * count, and a CRC-32 over the rest of the header and every block as stored. Deflate blocks carry no
 * checksum and a file cut at a block boundary is still a valid container, so without these a
 * truncated or bit-flipped file could decode into fewer or wrong records without an error.
 */
const META_COUNT = 'intentstream.records';
const META_CRC = 'intentstream.crc32';

export class ContainerIntegrityError extends IntentstreamError {
  override name = 'ContainerIntegrityError';
}

export interface ContainerOptions {
  syncMarker?: Buffer;
  codec?: 'null' | 'deflate';
  /** zlib level for deflate (1 = fastest; the default keeps most of level 6's ratio at a third of the cost). */
  level?: number;
}

/**
 * Encodes records as one Avro object container file (in memory), readable by
 * any Avro tool (fastavro, avro-tools, Spark, DuckDB).
 *
 * Written by hand rather than through avsc's BlockEncoder stream: records are
 * encoded straight into one growing block buffer (no per-record allocation or
 * re-encode on overflow), and deflate runs on libuv's thread pool, so
 * compression overlaps with the consumer on the other core.
 */
export async function encodeContainer(
  type: Type,
  records: readonly unknown[],
  options: ContainerOptions = {},
): Promise<Buffer> {
  const { syncMarker = randomBytes(16), codec = 'deflate', level = 1 } = options;
  const schema = Buffer.from(JSON.stringify(type.schema({ exportAttrs: true })));
  const blocks: Promise<Buffer>[] = [];
  let buf = Buffer.allocUnsafe(BLOCK_BYTES);
  let pos = 0;
  let count = 0;
  const finishBlock = () => {
    if (count === 0) return;
    const raw = Buffer.from(buf.subarray(0, pos));
    const n = count;
    blocks.push(
      (codec === 'deflate' ? deflateRaw(raw, { level }) : Promise.resolve(raw)).then((data) =>
        Buffer.concat([longType.toBuffer(n), longType.toBuffer(data.length), data, syncMarker]),
      ),
    );
    pos = 0;
    count = 0;
  };
  for (const record of records) {
    let end = type.encode(record, buf, pos);
    if (end < 0) {
      // Not enough room: close this block; a record larger than a block gets a buffer of its own size.
      finishBlock();
      if (-end > buf.length) buf = Buffer.allocUnsafe(-end);
      end = type.encode(record, buf, 0);
    }
    pos = end;
    count++;
  }
  finishBlock();
  const body = Buffer.concat(await Promise.all(blocks));
  const meta: Record<string, Buffer> = {
    'avro.schema': schema,
    'avro.codec': Buffer.from(codec),
    [META_COUNT]: Buffer.from(String(records.length)),
  };
  meta[META_CRC] = Buffer.from(String(checksum(meta, syncMarker, body)));
  return Buffer.concat([MAGIC, metaType.toBuffer(meta), syncMarker, body]);
}

/** CRC-32 over every header entry but the checksum itself (keys sorted), the sync marker and the blocks. */
function checksum(meta: Record<string, Buffer>, syncMarker: Buffer, body: Buffer): number {
  let crc = 0;
  for (const key of Object.keys(meta).sort()) {
    if (key === META_CRC) continue;
    crc = crc32(meta[key]!, crc32(key, crc));
  }
  return crc32(body, crc32(syncMarker, crc));
}

/** Checks our header metadata where present (files from other writers have none); returns the record count. */
function verifyIntegrity(bytes: Buffer): number | undefined {
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ContainerIntegrityError('not an Avro object container file (bad magic bytes)');
  }
  let meta: Record<string, Buffer>;
  let offset: number;
  try {
    const decoded = metaType.decode(bytes, MAGIC.length) as { value: Record<string, Buffer>; offset: number };
    if (decoded.offset < 0) throw new Error('the header is cut short');
    ({ value: meta, offset } = decoded);
  } catch (error) {
    throw new ContainerIntegrityError(`unreadable container header: ${(error as Error).message}`);
  }
  const crc = meta[META_CRC]?.toString();
  if (crc !== undefined) {
    const actual = checksum(meta, bytes.subarray(offset, offset + 16), bytes.subarray(offset + 16));
    if (String(actual) !== crc) {
      throw new ContainerIntegrityError(
        `checksum mismatch (header says ${crc}, content gives ${actual}): the file was truncated or altered`,
      );
    }
  }
  const count = meta[META_COUNT]?.toString();
  return count === undefined ? undefined : Number(count);
}

/**
 * Decodes an Avro object container file held in memory, resolving to `readerType` if given. Files
 * this module wrote are checked first (checksum, record count): ContainerIntegrityError when not intact.
 */
export async function decodeContainer<T>(bytes: Buffer, readerType?: Type): Promise<T[]> {
  const expected = verifyIntegrity(bytes);
  const decoder = new avro.streams.BlockDecoder(readerType ? { readerSchema: readerType } : {});
  const out: T[] = [];
  decoder.on('data', (record: T) => out.push(record));
  const finished = new Promise<void>((resolve, reject) => {
    decoder.once('end', resolve);
    decoder.once('error', reject);
  });
  decoder.end(bytes);
  await finished;
  if (expected !== undefined && out.length !== expected) {
    throw new ContainerIntegrityError(`holds ${out.length} records, its header says ${expected}`);
  }
  return out;
}

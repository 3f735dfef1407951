import { randomBytes } from 'node:crypto';
import avro from 'avsc';
import type { Type } from 'avsc';

/**
 * Encodes records as one Avro object container file (in memory), readable by
 * any Avro tool (fastavro, avro-tools, Spark, DuckDB). Deflate-compressed.
 */
export async function encodeContainer(
  type: Type,
  records: readonly unknown[],
  options: { syncMarker?: Buffer; codec?: 'null' | 'deflate' } = {},
): Promise<Buffer> {
  const { syncMarker = randomBytes(16), codec = 'deflate' } = options;
  const encoder = new avro.streams.BlockEncoder(type, { syncMarker, codec, blockSize: 256 * 1024 });
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise<void>((resolve, reject) => {
    encoder.once('end', resolve);
    encoder.once('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await finished;
  return Buffer.concat(chunks);
}

/** Decodes an Avro object container file held in memory, resolving to `readerType` if given. */
export async function decodeContainer<T>(bytes: Buffer, readerType?: Type): Promise<T[]> {
  const decoder = new avro.streams.BlockDecoder(readerType ? { readerSchema: readerType } : {});
  const out: T[] = [];
  decoder.on('data', (record: T) => out.push(record));
  const finished = new Promise<void>((resolve, reject) => {
    decoder.once('end', resolve);
    decoder.once('error', reject);
  });
  decoder.end(bytes);
  await finished;
  return out;
}

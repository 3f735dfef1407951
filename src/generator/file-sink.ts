/**
 * File sinks for generated traffic: NDJSON lines or an Avro object container file, plus the oracle
 * side file. Same items and seed → identical bytes (the container's sync marker is derived from the
 * seed, not drawn at random).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import avro from 'avsc';
import { shopEventType } from '../schemas/index.js';
import { hash32 } from '../util/random.js';
import { toNdjsonLine } from './sink.js';
import type { GeneratedItem } from './types.js';

export type FileFormat = 'ndjson' | 'avro';

export interface FileSinkOptions {
  /** A file path, or "-" for stdout. */
  path: string;
  format: FileFormat;
  /** Seeds the Avro sync marker. */
  seed: number;
  /** Receives session_end items as NDJSON lines (skipped when absent). */
  oracle?: NodeJS.WritableStream;
  /** Called once per event written. */
  tick?: () => void;
  /** Polled before each item; true stops writing (the file is still closed properly). */
  stopped?: () => boolean;
}

/** The file format from an explicit choice or the path's extension. */
export function fileFormatOf(path: string, format?: FileFormat): FileFormat {
  return format ?? (path.endsWith('.avro') ? 'avro' : 'ndjson');
}

/**
 * Writes the items' events; malformed items with a JSON form go to NDJSON files as they are (an Avro
 * container cannot hold them and skips them).
 */
export async function writeItemsToFile(
  items: Iterable<GeneratedItem>,
  options: FileSinkOptions,
): Promise<void> {
  const { path, format, seed, oracle, tick, stopped } = options;
  const sink: NodeJS.WritableStream = path === '-' ? process.stdout : createWriteStream(path);
  const marker = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) marker.writeUInt32BE(hash32(seed * 4 + i), i * 4);
  const encoder =
    format === 'avro'
      ? new avro.streams.BlockEncoder(shopEventType, { syncMarker: marker, codec: 'null' })
      : undefined;
  if (encoder) encoder.pipe(sink);
  const write = async (chunk: string) => {
    if (!sink.write(chunk)) await once(sink, 'drain');
  };
  for (const item of items) {
    if (stopped?.()) break;
    if (item.kind === 'session_end') {
      oracle?.write(`${toNdjsonLine(item)}\n`);
      continue;
    }
    if (encoder) {
      if (item.kind === 'event' && !encoder.write(item.event)) await once(encoder, 'drain');
    } else if (item.kind === 'event' || item.json !== undefined) {
      await write(`${toNdjsonLine(item)}\n`);
    }
    if (item.kind === 'event') tick?.();
  }
  if (encoder) {
    encoder.end();
    await once(sink, 'finish');
  } else if (sink !== process.stdout) {
    (sink as NodeJS.WritableStream & { end(): void }).end();
    await once(sink, 'finish');
  }
}

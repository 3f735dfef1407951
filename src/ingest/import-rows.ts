/**
 * The rows of an import's inputs: NDJSON lines or CSV records, each with its file, line, raw text and a
 * column reader, or the reason it cannot be read at all. Streams: nothing beyond the current record is
 * held.
 */
import { type Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { describeValue } from '../schemas/rejections.js';
import { parseCsv, readLines } from './import-text.js';
import { ImportError, type ImportInput, type ImportRejectReason } from './import-types.js';

export interface Row {
  file: ImportInput;
  line: number;
  raw: string;
  /** Reads a source column; undefined when absent (or an empty CSV cell). */
  get: (column: string) => unknown;
  /** A row that cannot be read at all. */
  error?: { reason: ImportRejectReason; message: string };
}

function getPath(o: Record<string, unknown>, column: string): unknown {
  if (Object.hasOwn(o, column)) return o[column];
  if (!column.includes('.')) return undefined;
  let v: unknown = o;
  for (const part of column.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

async function* textOf(input: ImportInput): AsyncGenerator<string> {
  const raw = input.open();
  const stream: Readable = input.gzip
    ? pipeline(raw, createGunzip(), () => {
        // errors surface through the iteration below
      })
    : raw;
  stream.setEncoding('utf8');
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      if (first && chunk.length > 0) {
        first = false;
        yield chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
      } else {
        yield chunk;
      }
    }
  } catch (err) {
    throw new ImportError(`cannot read ${input.path}: ${(err as Error).message}`);
  } finally {
    raw.destroy();
  }
}

export async function* ndjsonRows(input: ImportInput, maxRecordChars: number): AsyncGenerator<Row> {
  for await (const { line, text } of readLines(textOf(input), maxRecordChars)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      yield {
        file: input,
        line,
        raw: text,
        get: () => undefined,
        error: { reason: 'invalid_json', message: `line is not valid JSON: ${(err as Error).message}` },
      };
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      yield {
        file: input,
        line,
        raw: text,
        get: () => undefined,
        error: {
          reason: 'not_an_object',
          message: `expected a JSON object (one event per line), got ${describeValue(parsed)}`,
        },
      };
      continue;
    }
    const o = parsed as Record<string, unknown>;
    yield { file: input, line, raw: text, get: (c) => getPath(o, c) };
  }
}

export async function* csvRows(
  input: ImportInput,
  options: { delimiter?: string; maxRecordChars: number; required: readonly string[] },
): AsyncGenerator<Row> {
  let header: Map<string, number> | undefined;
  let width = 0;
  for await (const rec of parseCsv(textOf(input), options)) {
    if (header === undefined) {
      header = new Map();
      width = rec.fields.length;
      rec.fields.forEach((name, i) => {
        const n = name.trim();
        if (!header!.has(n)) header!.set(n, i);
      });
      const missing = options.required.filter((c) => !header!.has(c));
      if (missing.length > 0) {
        throw new ImportError(
          `${input.path}: column(s) ${missing.map((c) => JSON.stringify(c)).join(', ')} not in the CSV header (line ${rec.line}: ${[...header.keys()].map((c) => JSON.stringify(c)).join(', ')}); check the field map, the extras and the delimiter`,
          ['map', 'extras', 'delimiter'],
        );
      }
      continue;
    }
    const fields = rec.fields;
    const cols = header;
    let error: Row['error'];
    if (rec.error !== undefined) error = { reason: 'invalid_csv', message: rec.error };
    else if (fields.length !== width) {
      error = {
        reason: 'invalid_csv',
        message: `record has ${fields.length} field(s) but the header has ${width}`,
      };
    }
    const get = (c: string): unknown => {
      const i = cols.get(c);
      const v = i === undefined ? undefined : fields[i];
      return v === '' ? undefined : v;
    };
    yield error
      ? { file: input, line: rec.line, raw: rec.raw, get, error }
      : { file: input, line: rec.line, raw: rec.raw, get };
  }
  if (header === undefined) throw new ImportError(`${input.path}: empty CSV file (no header)`);
}

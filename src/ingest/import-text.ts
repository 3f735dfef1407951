/**
 * Streaming readers for `intentstream import`: text chunks → NDJSON lines or CSV records, each with the
 * 1-based line number on which it starts and its raw text (for the rejects file). Nothing beyond the
 * current record is held in memory; a record longer than `maxRecordChars` (an unbalanced quote, a file
 * without line breaks) is a fatal TextFormatError rather than an unbounded buffer.
 */
import { IntentstreamError } from '../errors.js';

export const DEFAULT_MAX_RECORD_CHARS = 4 * 1024 * 1024;

/** A fatal, unrecoverable problem with the input text (the import stops). */
export class TextFormatError extends IntentstreamError {
  override name = 'TextFormatError';
}

export interface TextLine {
  /** 1-based line number. */
  line: number;
  /** The line without its terminator (\n or \r\n). */
  text: string;
}

/** Splits text chunks into lines; blank (whitespace-only) lines are skipped but counted. */
export async function* readLines(
  chunks: AsyncIterable<string>,
  maxRecordChars = DEFAULT_MAX_RECORD_CHARS,
): AsyncGenerator<TextLine> {
  let rest = '';
  let n = 0;
  const out = (text: string): TextLine | undefined => {
    n++;
    const t = text.endsWith('\r') ? text.slice(0, -1) : text;
    return t.trim() === '' ? undefined : { line: n, text: t };
  };
  for await (const chunk of chunks) {
    let start = 0;
    let i = chunk.indexOf('\n');
    const batch: TextLine[] = [];
    while (i !== -1) {
      const l = out(rest + chunk.slice(start, i));
      rest = '';
      if (l) batch.push(l);
      start = i + 1;
      i = chunk.indexOf('\n', start);
    }
    rest += chunk.slice(start);
    if (rest.length > maxRecordChars) {
      throw new TextFormatError(`line ${n + 1} is longer than ${maxRecordChars} characters`);
    }
    yield* batch;
  }
  if (rest.length > 0) {
    const l = out(rest);
    if (l) yield l;
  }
}

export interface CsvRecord {
  /** 1-based line on which the record starts (a quoted field may span lines). */
  line: number;
  fields: string[];
  /** The record's text without its terminator. */
  raw: string;
  /** Set when the record is malformed; `fields` are then a best effort. */
  error?: string;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

/**
 * RFC 4180 CSV: `delimiter`-separated fields, optional double quotes (a quoted field may hold the
 * delimiter, line breaks and `""` for a quote), records ended by \n, \r\n or \r. Blank and
 * whitespace-only lines are skipped (but counted). A quote inside an unquoted field is kept literally.
 * Text after a closing quote (`"a"b`) or a quote left open at the end of the input marks the record
 * with `error`. A leading BOM is not handled here (strip it before).
 */
export async function* parseCsv(
  chunks: AsyncIterable<string>,
  options: { delimiter?: string; maxRecordChars?: number } = {},
): AsyncGenerator<CsvRecord> {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new TypeError('the CSV delimiter must be one character other than a quote or a line break');
  }
  const DELIM = delimiter.charCodeAt(0);
  const maxRecordChars = options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;

  let state = FIELD_START;
  let fields: string[] = [];
  let field = '';
  let rawBefore = ''; // raw text of the current record from earlier chunks
  let inRecord = false;
  let recordLine = 1;
  let line = 1;
  let afterCR = false; // the previous character was a CR (a following LF does not start another line)
  let error: string | undefined;

  for await (const chunk of chunks) {
    const batch: CsvRecord[] = [];
    let rawStart = 0; // start of the current record's raw text in this chunk
    let seg = 0; // start of the current run of literal field characters in this chunk

    const emit = (end: number) => {
      const raw = rawBefore + chunk.slice(rawStart, end);
      if (!(fields.length === 1 && raw.trim() === '')) {
        batch.push(
          error === undefined ? { line: recordLine, fields, raw } : { line: recordLine, fields, raw, error },
        );
      }
      fields = [];
      rawBefore = '';
      inRecord = false;
      error = undefined;
      state = FIELD_START;
    };

    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      const newline = c === LF || c === CR;
      const counted = newline && !(c === LF && afterCR);
      afterCR = c === CR;
      if (!inRecord) {
        if (newline) {
          if (counted) line++;
          continue; // blank line, or the LF of a CRLF
        }
        inRecord = true;
        recordLine = line;
        rawStart = i;
      }
      switch (state) {
        case FIELD_START:
          if (c === QUOTE) {
            state = QUOTED;
            seg = i + 1;
          } else if (c === DELIM) {
            fields.push('');
          } else if (newline) {
            fields.push('');
            emit(i);
          } else {
            state = UNQUOTED;
            seg = i;
          }
          break;
        case UNQUOTED:
          if (c === DELIM || newline) {
            fields.push(field + chunk.slice(seg, i));
            field = '';
            if (newline) emit(i);
            else state = FIELD_START;
          }
          break;
        case QUOTED:
          if (c === QUOTE) {
            field += chunk.slice(seg, i);
            state = QUOTE_IN_QUOTED;
          }
          break;
        case QUOTE_IN_QUOTED:
          if (c === QUOTE) {
            field += '"';
            seg = i + 1;
            state = QUOTED;
          } else if (c === DELIM || newline) {
            fields.push(field);
            field = '';
            if (newline) emit(i);
            else state = FIELD_START;
          } else {
            error ??= `unexpected text after the closing quote of field ${fields.length + 1}`;
            state = UNQUOTED;
            seg = i;
          }
          break;
      }
      if (counted) line++;
    }
    if (inRecord) {
      rawBefore += chunk.slice(rawStart);
      if (state === UNQUOTED || state === QUOTED) field += chunk.slice(seg);
      if (rawBefore.length > maxRecordChars) {
        throw new TextFormatError(
          `the CSV record starting on line ${recordLine} is longer than ${maxRecordChars} characters${
            state === QUOTED ? ' (probably an unbalanced quote)' : ''
          }`,
        );
      }
    }
    yield* batch;
  }
  if (inRecord) {
    if (state === QUOTED)
      error ??= `quoted field ${fields.length + 1} is not closed before the end of the file`;
    fields.push(state === FIELD_START ? '' : field);
    const raw = rawBefore;
    if (!(fields.length === 1 && raw.trim() === '')) {
      yield error === undefined
        ? { line: recordLine, fields, raw }
        : { line: recordLine, fields, raw, error };
    }
  }
}

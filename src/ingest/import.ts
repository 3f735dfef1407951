/**
 * Batch import of a historical export (CSV or NDJSON, optionally gzipped) into the timeline store,
 * through the same validation (`normalizeEvent`, as for live JSON input) and the same `Sessionizer`
 * as live ingest.
 *
 * rows → plain object (column mapping, time format, event-type map, extras) → normalizeEvent →
 * Sessionizer.push → closed sessions buffered → written as store segments of at most `chunkSessions`
 * sessions / `chunkEvents` events, named segmentName(source, 0, chunkIndex). At the end of the input
 * flushAll('end_of_input') closes what is still open.
 *
 * Idempotent: the same files with the same options give the same event ids, sessions, segment names and
 * chunks, so re-running an import overwrites its files; after a complete run, files of the same source that
 * this run did not write (a previous run produced more chunks or other days) are removed.
 *
 * Several inputs are read one after the other as ONE stream (a split export): a session may span files,
 * and rows of a later file older than the watermark are late.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import { type Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Logger } from '../log/logger.js';
import { normalizeEvent } from '../schemas/event-codec.js';
import { type RejectReason, describeValue } from '../schemas/rejections.js';
import type { CloseReason, SessionTimeline } from '../schemas/types.js';
import { type SessionRules, Sessionizer } from '../sessions/index.js';
import { type TimelineStore, parseSegmentName, segmentName } from '../store/index.js';
import type { Progress } from '../util/progress.js';
import { DEFAULT_MAX_RECORD_CHARS, TextFormatError, parseCsv, readLines } from './import-text.js';

export type ImportFormat = 'csv' | 'ndjson';
export type TimeFormat = 'epoch_ms' | 'epoch_s' | 'iso' | 'auto';
export const TIME_FORMATS: readonly TimeFormat[] = ['epoch_ms', 'epoch_s', 'iso', 'auto'];

/** The ShopEvent fields a source column can be mapped to. */
export const EVENT_FIELDS = [
  'cookie_id',
  'event_id',
  'event_type',
  'event_time',
  'item_id',
  'category_id',
  'price',
  'quantity',
  'page_type',
  'device',
  'referrer',
  'extras',
] as const;
export type EventField = (typeof EVENT_FIELDS)[number];
export type FieldMap = Partial<Record<EventField, string>>;

/** Why a row was not imported: the live reasons, plus `late` (older than the watermark) and `invalid_csv`. */
export type ImportRejectReason = RejectReason | 'late' | 'invalid_csv';

/** One line of the rejects file. */
export interface RejectedRow {
  file: string;
  line: number;
  reason: ImportRejectReason;
  field?: string;
  message: string;
  /** The row's text as it is in the file (a CSV record may span lines). */
  raw: string;
}

/** Fatal problems with the inputs or options (the CLI exits 1 with the message). */
export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

export interface ImportInput {
  /** As given on the command line; shown in the summary, logs and rejects. */
  path: string;
  /** Base name, part of derived event ids. */
  name: string;
  format: ImportFormat;
  /** Raw bytes of the file; gunzipped by runImport when `gzip`. */
  open(): Readable;
  gzip: boolean;
}

/** An input for a file: gzip from a `.gz` suffix, format from the extension unless given. */
export function fileInput(path: string, format?: ImportFormat): ImportInput {
  const gzip = /\.gz$/i.test(path);
  const f = format ?? formatFromPath(path);
  if (f === undefined) {
    throw new ImportError(
      `cannot tell the format of ${path} from its extension (.csv, .tsv, .ndjson, .jsonl, .json, optionally .gz): pass --format csv|ndjson`,
    );
  }
  return { path, name: basename(path), format: f, gzip, open: () => createReadStream(path) };
}

export function formatFromPath(path: string): ImportFormat | undefined {
  const p = path.toLowerCase().replace(/\.gz$/, '');
  if (p.endsWith('.csv') || p.endsWith('.tsv')) return 'csv';
  if (p.endsWith('.ndjson') || p.endsWith('.jsonl') || p.endsWith('.json')) return 'ndjson';
  return undefined;
}

/** The file name without directory, .gz and format extension, safe for a segment name. */
export function sanitizedStem(path: string): string {
  const stem = basename(path)
    .replace(/\.gz$/i, '')
    .replace(/\.(csv|tsv|ndjson|jsonl|json)$/i, '');
  const safe = stem.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._-]+/, '');
  return (safe || 'input').slice(0, 80);
}

/**
 * Segment source name of an import: `import-<stem>` for one file; for several,
 * `import-<stem of the first>-x<count>-<8 hex of the list of base names>` so that a different
 * set of files does not overwrite (or remove) this one's segments.
 */
export function importSourceName(paths: readonly string[]): string {
  const first = paths[0];
  if (first === undefined) throw new ImportError('no input files');
  if (paths.length === 1) return `import-${sanitizedStem(first)}`;
  const h = createHash('sha1')
    .update(paths.map((p) => basename(p)).join('\n'))
    .digest('hex')
    .slice(0, 8);
  return `import-${sanitizedStem(first)}-x${paths.length}-${h}`;
}

/** Parses `a=b,c=d` into pairs; `what` names the option in errors. */
function parsePairs(spec: string, what: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (key === '' || value === '') {
      throw new ImportError(
        `${what}: expected name=value pairs separated by commas, got ${JSON.stringify(part)}`,
      );
    }
    pairs.push([key, value]);
  }
  return pairs;
}

/** `--map cookie_id=user_id,event_time=ts`: OUR field = THEIR column. */
export function parseFieldMap(spec: string): FieldMap {
  const map: FieldMap = {};
  for (const [ours, theirs] of parsePairs(spec, '--map')) {
    if (!(EVENT_FIELDS as readonly string[]).includes(ours)) {
      throw new ImportError(
        `--map: ${JSON.stringify(ours)} is not an event field (the left side names ours: ${EVENT_FIELDS.join(', ')})`,
      );
    }
    if (map[ours as EventField] !== undefined) throw new ImportError(`--map: ${ours} is mapped twice`);
    map[ours as EventField] = theirs;
  }
  return map;
}

/** `--event-type-map view=page_view,cart=add_to_cart`: THEIR value = OUR event type. */
export function parseEventTypeMap(spec: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [theirs, ours] of parsePairs(spec, '--event-type-map')) {
    if (Object.hasOwn(map, theirs)) throw new ImportError(`--event-type-map: ${theirs} is mapped twice`);
    map[theirs] = ours;
  }
  return map;
}

export function parseTimeFormat(value: string): TimeFormat {
  if ((TIME_FORMATS as readonly string[]).includes(value)) return value as TimeFormat;
  throw new ImportError(
    `--time-format must be one of ${TIME_FORMATS.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/**
 * Derived event id of a row without one: `imp_` + 20 hex of sha1(file base name, line, row text).
 * The same file gives the same ids on every import; the row text keeps files of the same name apart.
 */
export function derivedEventId(fileName: string, line: number, raw: string): string {
  return `imp_${createHash('sha1').update(`${fileName}\n${line}\n${raw}`).digest('hex').slice(0, 20)}`;
}

const NUMERIC = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*$/;
const SECONDS_BELOW = 1e11;

/** event_time per --time-format; a rejection message when the value does not fit the format. */
function convertTime(v: unknown, format: TimeFormat): { value: unknown } | { error: string } {
  if (v === undefined || v === null) return { value: v };
  const numeric = typeof v === 'number' ? Number.isFinite(v) : typeof v === 'string' && NUMERIC.test(v);
  if (numeric) {
    const n = Number(v);
    if (format === 'iso') {
      return { error: `event_time must be an ISO-8601 string (--time-format iso), got ${describeValue(v)}` };
    }
    const seconds = format === 'epoch_s' || (format === 'auto' && Math.abs(n) < SECONDS_BELOW);
    return { value: seconds ? Math.round(n * 1000) : n };
  }
  if (typeof v === 'string' && (format === 'epoch_ms' || format === 'epoch_s')) {
    const unit = format === 'epoch_s' ? 'seconds' : 'milliseconds';
    return {
      error: `event_time must be a number of epoch ${unit} (--time-format ${format}), got ${describeValue(v)}`,
    };
  }
  return { value: v }; // ISO strings (parsed by normalizeEvent) and anything it rejects
}

export interface ImportOptions {
  inputs: readonly ImportInput[];
  store: TimelineStore;
  /** Session rules (graceMs is the import's --grace). */
  rules: Partial<SessionRules>;
  logger: Logger;
  /** Segment source name, e.g. importSourceName(paths). */
  source: string;
  map?: FieldMap;
  timeFormat?: TimeFormat;
  eventTypeMap?: Readonly<Record<string, string>>;
  /** Source columns copied into `extras` (key = column name). */
  extras?: readonly string[];
  /** CSV delimiter (default ','). */
  delimiter?: string;
  /** Receives every rejected row (await it: it may apply backpressure). */
  onReject?: (row: RejectedRow) => void | Promise<void>;
  /** The run is not ok when more than this fraction of rows is rejected (default 0.1). */
  maxRejectsRatio?: number;
  /** Sessions per segment chunk (default 50,000). */
  chunkSessions?: number;
  /** Events per segment chunk (default 250,000; bounds the memory of buffered sessions). */
  chunkEvents?: number;
  /** Stop with an ImportError when this many first rows are all rejected (default 1,000; 0 = never). */
  failFastRows?: number;
  /** Rows are ticked here. */
  progress?: Pick<Progress, 'tick'>;
  /** How many rejections are logged as warnings before only counting (default 10). */
  logRejects?: number;
  maxRecordChars?: number;
}

export interface ImportSummary {
  /** false when more than maxRejectsRatio of the rows were rejected (the valid rows were still imported). */
  ok: boolean;
  inputs: { file: string; format: ImportFormat; gzip: boolean; rows: number }[];
  rows: number;
  accepted: number;
  duplicates: number;
  late: number;
  rejected: number;
  rejectedByReason: Partial<Record<ImportRejectReason, number>>;
  rejectedRatio: number;
  maxRejectsRatio: number;
  sessions: number;
  sessionsByCloseReason: Record<CloseReason, number>;
  events: number;
  store: string;
  source: string;
  chunks: number;
  filesWritten: number;
  staleFilesRemoved: number;
  days: string[];
  firstEventTime: string | null;
  lastEventTime: string | null;
}

interface Row {
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

async function* ndjsonRows(input: ImportInput, maxRecordChars: number): AsyncGenerator<Row> {
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

async function* csvRows(
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
          `${input.path}: column(s) ${missing.map((c) => JSON.stringify(c)).join(', ')} not in the CSV header (line ${rec.line}: ${[...header.keys()].map((c) => JSON.stringify(c)).join(', ')}); check --map, --extras and --delimiter`,
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

const ZERO_REASONS = (): Record<CloseReason, number> => ({
  evicted: 0,
  gap: 0,
  max_duration: 0,
  max_events: 0,
  end_of_input: 0,
});

/** Imports the inputs; resolves to the summary (`ok: false` when too many rows were rejected). */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const {
    inputs,
    store,
    logger,
    source,
    map = {},
    timeFormat = 'auto',
    eventTypeMap = {},
    extras = [],
    onReject,
    maxRejectsRatio = 0.1,
    chunkSessions = 50_000,
    chunkEvents = 250_000,
    failFastRows = 1_000,
    progress,
    logRejects = 10,
    maxRecordChars = DEFAULT_MAX_RECORD_CHARS,
  } = options;
  if (inputs.length === 0) throw new ImportError('no input files');
  if (!(chunkSessions >= 1) || !(chunkEvents >= 1)) throw new RangeError('chunk sizes must be at least 1');
  if (!(maxRejectsRatio >= 0 && maxRejectsRatio <= 1)) {
    throw new ImportError(`--max-rejects-ratio must be between 0 and 1, got ${maxRejectsRatio}`);
  }
  const parsedSource = parseSegmentName(`${segmentName(source, 0, 0)}.avro`);
  if (parsedSource?.source !== source || source.includes('/')) {
    throw new ImportError(`invalid segment source name ${JSON.stringify(source)}`);
  }

  const z = new Sessionizer(options.rules);
  const column = (f: EventField) => map[f] ?? f;
  const eventIdMapped = map.event_id !== undefined;
  const requiredCsvColumns = [
    ...new Set([
      column('cookie_id'),
      column('event_type'),
      column('event_time'),
      ...(Object.values(map) as string[]),
      ...extras,
    ]),
  ];

  const counts = { rows: 0, accepted: 0, duplicates: 0, late: 0, rejected: 0 };
  const rejectedByReason: Partial<Record<ImportRejectReason, number>> = {};
  const sessionsByCloseReason = ZERO_REASONS();
  const perInput: ImportSummary['inputs'] = [];
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  let buffer: SessionTimeline[] = [];
  let bufferedEvents = 0;
  let chunk = 0;
  let sessions = 0;
  let events = 0;
  const days = new Set<string>();
  const written = new Set<string>(); // paths from store.writeSegment

  const writeChunk = async (list: SessionTimeline[]) => {
    const name = segmentName(source, 0, chunk++);
    const paths = await store.writeSegment(name, list);
    for (const p of paths) written.add(p);
    for (const s of list) {
      sessionsByCloseReason[s.close_reason]++;
      events += s.event_count;
    }
    sessions += list.length;
    logger.debug('import chunk written', { segment: name, sessions: list.length, files: paths.length });
  };
  const flush = async () => {
    const list = buffer;
    buffer = [];
    bufferedEvents = 0;
    await writeChunk(list);
  };
  /** Buffers closed sessions; a chunk is written as soon as it is full (so chunking is deterministic). */
  const collect = async (final: boolean) => {
    for (const s of z.drainClosed()) {
      buffer.push(s);
      bufferedEvents += s.event_count;
      if (buffer.length >= chunkSessions || bufferedEvents >= chunkEvents) await flush();
    }
    if (final && buffer.length > 0) await flush();
  };

  const rejectRow = async (row: Row, reason: ImportRejectReason, message: string, field?: string) => {
    counts.rejected++;
    rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + 1;
    const r: RejectedRow =
      field === undefined
        ? { file: row.file.path, line: row.line, reason, message, raw: row.raw }
        : { file: row.file.path, line: row.line, reason, field, message, raw: row.raw };
    if (counts.rejected <= logRejects) {
      logger.warn('rejected row', { file: r.file, line: r.line, reason, field, detail: message });
      if (counts.rejected === logRejects)
        logger.warn('further rejected rows are only counted (see --rejects)');
    }
    if (onReject) await onReject(r);
  };

  const importRow = async (row: Row) => {
    counts.rows++;
    if (row.error) return rejectRow(row, row.error.reason, row.error.message);
    const obj: Record<string, unknown> = {};
    for (const f of EVENT_FIELDS) {
      const v = row.get(column(f));
      if (v !== undefined) obj[f] = v;
    }
    if ((obj.event_id === undefined || obj.event_id === '') && !eventIdMapped) {
      obj.event_id = derivedEventId(row.file.name, row.line, row.raw);
    }
    const t = convertTime(obj.event_time, timeFormat);
    if ('error' in t) return rejectRow(row, 'invalid_field', t.error, 'event_time');
    obj.event_time = t.value;
    if (typeof obj.event_type === 'string' && Object.hasOwn(eventTypeMap, obj.event_type)) {
      obj.event_type = eventTypeMap[obj.event_type];
    }
    for (const f of ['price', 'quantity'] as const) {
      const v = obj[f];
      if (typeof v === 'string' && NUMERIC.test(v)) obj[f] = Number(v);
    }
    let ex = obj.extras;
    if (typeof ex === 'string' && ex.trimStart().startsWith('{')) {
      try {
        ex = JSON.parse(ex);
      } catch {
        // left as a string: normalizeEvent rejects it with the usual message
      }
    }
    if (extras.length > 0) {
      if (ex === undefined || ex === null) ex = {};
      if (typeof ex === 'object' && !Array.isArray(ex)) {
        const merged: Record<string, unknown> = { ...(ex as Record<string, unknown>) };
        for (const c of extras) {
          const v = row.get(c);
          if (v !== undefined && v !== '') merged[c] = v;
        }
        ex = merged;
      } // else normalizeEvent rejects it
    }
    if (ex !== undefined) obj.extras = ex;

    const r = normalizeEvent(obj);
    if (!r.ok) return rejectRow(row, r.rejection.reason, r.rejection.message, r.rejection.field);
    const pushed = z.push(r.event);
    if (pushed.outcome === 'duplicate') {
      counts.duplicates++;
      return;
    }
    if (pushed.outcome === 'late') {
      counts.late++;
      return rejectRow(
        row,
        'late',
        `event_time ${new Date(r.event.event_time).toISOString()} is ${pushed.lateByMs} ms older than the watermark (latest event time so far minus the grace of ${z.rules.graceMs} ms): raise --grace or sort the export by time`,
        'event_time',
      );
    }
    counts.accepted++;
    if (r.event.event_time < minTime) minTime = r.event.event_time;
    if (r.event.event_time > maxTime) maxTime = r.event.event_time;
    if (z.undrainedSessions > 0) await collect(false);
  };

  for (const input of inputs) {
    const before = counts.rows;
    const rows =
      input.format === 'csv'
        ? csvRows(input, { delimiter: options.delimiter, maxRecordChars, required: requiredCsvColumns })
        : ndjsonRows(input, maxRecordChars);
    let ticks = 0;
    try {
      for await (const row of rows) {
        await importRow(row);
        if (++ticks === 1000) {
          progress?.tick(ticks);
          ticks = 0;
        }
        if (failFastRows > 0 && counts.rows === failFastRows && counts.rejected === counts.rows) {
          const top = Object.entries(rejectedByReason).sort((a, b) => b[1] - a[1])[0];
          throw new ImportError(
            `the first ${failFastRows} rows were all rejected (mostly ${top?.[0]}); check --map, --time-format and the format. Nothing was written`,
          );
        }
      }
    } catch (err) {
      if (err instanceof TextFormatError) throw new ImportError(`${input.path}: ${err.message}`);
      throw err;
    }
    if (ticks > 0) progress?.tick(ticks);
    perInput.push({ file: input.path, format: input.format, gzip: input.gzip, rows: counts.rows - before });
  }

  z.flushAll('end_of_input');
  await collect(true);

  // Files of this source that this run did not write are left over from an earlier, different run.
  const staleFilesRemoved = (
    await store.removeSegmentsExcept(written, ({ file }) => {
      const seg = parseSegmentName(file);
      return seg?.source === source && seg.partition === 0;
    })
  ).length;
  for (const segment of await store.listSegments()) if (written.has(segment.path)) days.add(segment.day);

  const rejectedRatio = counts.rows === 0 ? 0 : counts.rejected / counts.rows;
  return {
    ok: rejectedRatio <= maxRejectsRatio,
    inputs: perInput,
    ...counts,
    rejectedByReason,
    rejectedRatio: Math.round(rejectedRatio * 1e6) / 1e6,
    maxRejectsRatio,
    sessions,
    sessionsByCloseReason,
    events,
    store: store.dir,
    source,
    chunks: chunk,
    filesWritten: written.size,
    staleFilesRemoved,
    days: [...days].sort(),
    firstEventTime: Number.isFinite(minTime) ? new Date(minTime).toISOString() : null,
    lastEventTime: Number.isFinite(maxTime) ? new Date(maxTime).toISOString() : null,
  };
}

/** An NDJSON rejects file with backpressure; `close()` flushes it. */
export function createRejectsFile(path: string): {
  write: (row: RejectedRow) => Promise<void>;
  close: () => Promise<void>;
} {
  const out = createWriteStream(path);
  let failed: Error | undefined;
  out.on('error', (err) => {
    failed = err;
  });
  return {
    async write(row) {
      if (failed) throw new ImportError(`cannot write the rejects file ${path}: ${failed.message}`);
      if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
    },
    async close() {
      if (failed) throw new ImportError(`cannot write the rejects file ${path}: ${failed.message}`);
      out.end();
      await once(out, 'finish');
    },
  };
}

/**
 * Batch import of a historical export (CSV or NDJSON, optionally gzipped) into the timeline store,
 * through the same validation (`normalizeEvent`, as for live JSON input) and the same `Sessionizer`
 * as live ingest.
 *
 * Two passes. 1) rows → plain object (field map, time spelling, event-type map, extras) →
 * normalizeEvent → a content-derived event_id when the row has none → an external sort by event time
 * (bounded memory: sorted runs spilled to temp files, then a k-way merge; see import-sort.ts). Rows
 * that cannot be read are rejected here, and the maps are checked against what the export holds, so a
 * reversed or unknown map stops the import before anything is written. 2) the sorted events →
 * Sessionizer.push → closed sessions buffered → written as store segments of at most `chunkSessions`
 * sessions / `chunkEvents` events, named segmentName(source, 0, chunkIndex); at the end
 * flushAll('end_of_input') closes what is still open. With `sortByTime: false` (an export already in
 * time order) pass 1 feeds pass 2 directly and rows older than the watermark are rejected as late.
 *
 * Sessions: the inactivity gap, max duration and max events apply as in live ingest. When a session id
 * column is mapped, a change of the export's session id for a cookie also starts a new session: events
 * of different export sessions never share one of ours (each export session is sessionized apart, so
 * one of theirs may still be cut by the gap rule).
 *
 * Idempotent: the same files with the same options give the same event ids, sessions, segment names and
 * chunks, so re-running an import overwrites its files; after a complete run, files of the same source that
 * this run did not write (a previous run produced more chunks or other days) are removed.
 *
 * Several inputs are read as ONE stream (a split export): a session may span files.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../log/logger.js';
import { contentEventId } from '../schemas/event-id.js';
import { isNumericString, normalizeEvent } from '../schemas/event-json.js';
import type { CloseReason, SessionTimeline, ShopEvent } from '../schemas/types.js';
import { type SessionRules, Sessionizer, sessionIdFor } from '../sessionizer/index.js';
import { type TimelineStore, parseSegmentName, segmentName } from '../store/index.js';
import type { Progress } from '../util/progress.js';
import { checkEventTypeMap, checkFieldMap, countType, theirsToOurs } from './import-maps.js';
import { type Row, csvRows, ndjsonRows } from './import-rows.js';
import { type ExternalSorterOptions, createExternalSorter } from './import-sort.js';
import { DEFAULT_MAX_RECORD_CHARS, TextFormatError } from './import-text.js';
import { type TimeFormat, createTimeParser } from './import-time.js';
import {
  EVENT_FIELDS,
  type EventField,
  type EventTypeMapping,
  type FieldMap,
  ImportError,
  type ImportFormat,
  type ImportInput,
  type ImportRejectReason,
  type RejectedRow,
} from './import-types.js';

export {
  EVENT_FIELDS,
  type EventField,
  type EventTypeMapping,
  type FieldMap,
  type ImportOptionName,
  ImportError,
  type ImportFormat,
  type ImportInput,
  type ImportRejectReason,
  MAPPABLE_FIELDS,
  type MappableField,
  type RejectedRow,
} from './import-types.js';
export { TIME_FORMATS, type TimeFormat, parseTimeFormatSpec } from './import-time.js';

/** An input for a file: gzip from a `.gz` suffix, format from the extension unless given. */
export function fileInput(path: string, format?: ImportFormat): ImportInput {
  const gzip = /\.gz$/i.test(path);
  const f = format ?? formatFromPath(path);
  if (f === undefined) {
    throw new ImportError(
      `cannot tell the format of ${path} from its extension (.csv, .tsv, .ndjson, .jsonl, .json, optionally .gz): give the format (csv or ndjson)`,
      ['format'],
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

export interface ImportOptions {
  inputs: readonly ImportInput[];
  store: TimelineStore;
  /** Session rules (graceMs bounds how far rows may be out of order when `sortByTime` is false). */
  rules: Partial<SessionRules>;
  logger: Logger;
  /** Segment source name, e.g. importSourceName(paths). */
  source: string;
  /** OUR field = THEIR column; `session_id` names the export's session id column. */
  map?: FieldMap;
  timeFormat?: TimeFormat;
  /** OUR event type = THEIR event type (several of theirs may map to one of ours); others are kept. */
  eventTypeMap?: readonly EventTypeMapping[];
  /** Source columns copied into `extras` (key = column name). */
  extras?: readonly string[];
  /** CSV delimiter (default ','). */
  delimiter?: string;
  /** Sort the rows by event time before sessionizing (default true); false streams them as they come. */
  sortByTime?: boolean;
  /** Memory bound and temp folder of the sort. */
  sort?: ExternalSorterOptions;
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
  /** Whether rows were sorted by event time, and how many sorted runs went to temp files. */
  sortedByTime: boolean;
  spilledRuns: number;
  /** Event types of the valid rows (after the event-type map) with their counts, most frequent first. */
  eventTypes: Record<string, number>;
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

/** Joins a cookie and its export session id into the sessionizer's key (a cookie id holds no NUL). */
const SESSION_KEY_SEPARATOR = '\u0000';

/** An event on its way to the sessionizer, with where it came from and its export session id. */
interface Staged {
  event: ShopEvent;
  session: string | undefined;
  file: number;
  line: number;
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
    eventTypeMap = [],
    extras = [],
    sortByTime = true,
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
    throw new ImportError(`the max rejects ratio must be between 0 and 1, got ${maxRejectsRatio}`);
  }
  const parsedSource = parseSegmentName(`${segmentName(source, 0, 0)}.avro`);
  if (parsedSource?.source !== source || source.includes('/')) {
    throw new ImportError(`invalid segment source name ${JSON.stringify(source)}`);
  }
  checkFieldMap(map);
  const typeMap = theirsToOurs(eventTypeMap);
  const parseTime = createTimeParser(timeFormat);

  const z = new Sessionizer(options.rules);
  const column = (f: EventField) => map[f] ?? f;
  const eventIdMapped = map.event_id !== undefined;
  const sessionColumn = map.session_id;
  const requiredCsvColumns = [
    ...new Set([
      column('cookie_id'),
      column('event_type'),
      column('event_time'),
      ...(Object.values(map) as string[]),
      ...extras,
    ]),
  ];
  /** Mapped columns that some row had (NDJSON rows need not all have the same keys). */
  const mappedSeen = new Set<string>();
  const mappedColumns = Object.values(map) as string[];

  const counts = { rows: 0, accepted: 0, duplicates: 0, late: 0, rejected: 0 };
  const rejectedByReason: Partial<Record<ImportRejectReason, number>> = {};
  const sessionsByCloseReason = ZERO_REASONS();
  const perInput: ImportSummary['inputs'] = [];
  const theirTypes = new Map<string, number>();
  const ourTypes = new Map<string, number>();
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
  /** Back from the sessionizer's key (cookie + export session id) to the cookie, with its session id. */
  const restoreCookie = (s: SessionTimeline): SessionTimeline => {
    const cut = s.cookie_id.indexOf(SESSION_KEY_SEPARATOR);
    if (cut < 0) return s;
    const cookie = s.cookie_id.slice(0, cut);
    const list = s.events.map((e) => ({ ...e, cookie_id: cookie }));
    return {
      ...s,
      session_id: sessionIdFor(cookie, s.start_time, list[0]!.event_id),
      cookie_id: cookie,
      events: list,
    };
  };
  /** Buffers closed sessions; a chunk is written as soon as it is full (so chunking is deterministic). */
  const collect = async (final: boolean) => {
    for (const s of z.drainClosed()) {
      buffer.push(sessionColumn === undefined ? s : restoreCookie(s));
      bufferedEvents += s.event_count;
      if (buffer.length >= chunkSessions || bufferedEvents >= chunkEvents) await flush();
    }
    if (final && buffer.length > 0) await flush();
  };

  const reject = async (r: RejectedRow) => {
    counts.rejected++;
    rejectedByReason[r.reason] = (rejectedByReason[r.reason] ?? 0) + 1;
    if (counts.rejected <= logRejects) {
      logger.warn('rejected row', {
        file: r.file,
        line: r.line,
        reason: r.reason,
        field: r.field,
        detail: r.message,
      });
      if (counts.rejected === logRejects)
        logger.warn('further rejected rows are only counted (see the rejects file)');
    }
    if (onReject) await onReject(r);
  };
  const rejectRow = (row: Row, reason: ImportRejectReason, message: string, field?: string) =>
    reject(
      field === undefined
        ? { file: row.file.path, line: row.line, reason, message, raw: row.raw }
        : { file: row.file.path, line: row.line, reason, field, message, raw: row.raw },
    );

  /** A row as a valid event, or undefined after rejecting it. */
  const toEvent = async (row: Row): Promise<Staged | undefined> => {
    if (row.error) {
      await rejectRow(row, row.error.reason, row.error.message);
      return undefined;
    }
    const obj: Record<string, unknown> = {};
    for (const f of EVENT_FIELDS) {
      const v = row.get(column(f));
      if (v !== undefined) obj[f] = v;
    }
    for (const c of mappedColumns) if (!mappedSeen.has(c) && row.get(c) !== undefined) mappedSeen.add(c);
    const derivedId = (obj.event_id === undefined || obj.event_id === '') && !eventIdMapped;
    if (derivedId) obj.event_id = 'pending'; // replaced by the content id once the fields are normal
    if (obj.event_time !== undefined && obj.event_time !== null && obj.event_time !== '') {
      const t = parseTime(obj.event_time);
      if ('error' in t) {
        await rejectRow(row, 'invalid_field', t.error, 'event_time');
        return undefined;
      }
      obj.event_time = t.value;
    }
    if (typeof obj.event_type === 'string') {
      countType(theirTypes, obj.event_type);
      const ours = typeMap.get(obj.event_type);
      if (ours !== undefined) obj.event_type = ours;
    }
    for (const f of ['price', 'quantity'] as const) {
      const v = obj[f];
      if (typeof v === 'string' && isNumericString(v)) obj[f] = Number(v);
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
    if (!r.ok) {
      await rejectRow(row, r.rejection.reason, r.rejection.message, r.rejection.field);
      return undefined;
    }
    const event = derivedId ? { ...r.event, event_id: contentEventId(r.event) } : r.event;
    countType(ourTypes, event.event_type);
    const sid = sessionColumn === undefined ? undefined : row.get(sessionColumn);
    return {
      event,
      session: sid === undefined || sid === null ? undefined : String(sid),
      file: inputs.indexOf(row.file),
      line: row.line,
    };
  };

  /** Pass 2: one event into the sessionizer, in time order (or as it came when not sorting). */
  const sessionize = async (staged: Staged, row?: Row) => {
    const e = staged.event;
    const pushed = z.push(
      sessionColumn === undefined
        ? e
        : { ...e, cookie_id: `${e.cookie_id}${SESSION_KEY_SEPARATOR}${staged.session ?? ''}` },
    );
    if (pushed.outcome === 'duplicate') {
      counts.duplicates++;
      return;
    }
    if (pushed.outcome === 'late') {
      counts.late++;
      const message = `event_time ${new Date(e.event_time).toISOString()} is ${pushed.lateByMs} ms older than the watermark (latest event time so far minus the grace of ${z.rules.graceMs} ms): raise the grace or let the importer sort the export by time`;
      const file = inputs[staged.file]?.path ?? '';
      return reject({
        file,
        line: staged.line,
        reason: 'late',
        field: 'event_time',
        message,
        raw: row?.raw ?? JSON.stringify(e),
      });
    }
    counts.accepted++;
    if (e.event_time < minTime) minTime = e.event_time;
    if (e.event_time > maxTime) maxTime = e.event_time;
    if (z.undrainedSessions > 0) await collect(false);
  };

  const sorter = sortByTime ? createExternalSorter<Staged>(options.sort) : undefined;
  try {
    for (const input of inputs) {
      const before = counts.rows;
      const rows =
        input.format === 'csv'
          ? csvRows(input, { delimiter: options.delimiter, maxRecordChars, required: requiredCsvColumns })
          : ndjsonRows(input, maxRecordChars);
      let ticks = 0;
      try {
        for await (const row of rows) {
          counts.rows++;
          const staged = await toEvent(row);
          if (staged !== undefined) {
            if (sorter) await sorter.add(staged.event.event_time, staged);
            else await sessionize(staged, row);
          }
          if (++ticks === 1000) {
            progress?.tick(ticks);
            ticks = 0;
          }
          if (failFastRows > 0 && counts.rows === failFastRows && counts.rejected === counts.rows) {
            const top = Object.entries(rejectedByReason).sort((a, b) => b[1] - a[1])[0];
            throw new ImportError(
              `the first ${failFastRows} rows were all rejected (mostly ${top?.[0]}); check the field map, the time format and the file format. Nothing was written`,
              ['map', 'timeFormat', 'format'],
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

    // The maps are checked against the whole export before the first session is written.
    if (counts.rows > 0) {
      const missing = mappedColumns.filter((c) => !mappedSeen.has(c));
      if (missing.length > 0 && counts.rows > counts.rejected) {
        const field = Object.entries(map).find(([, theirs]) => theirs === missing[0])?.[0];
        throw new ImportError(
          `the field map reads ours=theirs: ${field}=${missing[0]} names a column no row has; check the spelling or the direction`,
          ['map'],
        );
      }
      checkEventTypeMap(eventTypeMap, theirTypes);
    }
    if (sorter) {
      for await (const entry of sorter.sorted()) await sessionize(entry.value);
    }
  } finally {
    await sorter?.dispose();
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
    sortedByTime: sorter !== undefined,
    spilledRuns: sorter?.spilledRuns ?? 0,
    eventTypes: Object.fromEntries([...ourTypes].sort((a, b) => b[1] - a[1])),
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

import { IntentstreamError } from '../errors.js';
import { sessionTimelineType } from '../schemas/index.js';
import type { SessionTimeline } from '../schemas/types.js';
import { type ObjectStorage, createLocalStorage } from '../storage/index.js';
import { decodeContainer, encodeContainer } from './avro-container.js';

const DAY_MS = 86_400_000;
const DAY_DIR = /^dt=(\d{4}-\d{2}-\d{2})$/;

/** UTC day of an epoch-ms time, as the store's directory key (YYYY-MM-DD). */
export function dayOf(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/**
 * Segment file names: `<source>-p<partition>-e<epoch>.avro`. The epoch is the
 * ingest checkpoint epoch that owns the file, so files written after the last
 * checkpoint (a crash in between) can be found and removed before replay.
 */
export function segmentName(source: string, partition: number, epoch: number): string {
  return `${source}-p${partition}-e${String(epoch).padStart(10, '0')}`;
}

export function parseSegmentName(
  file: string,
): { source: string; partition: number; epoch: number } | undefined {
  const m = /^(.+)-p(\d+)-e(\d+)\.avro$/.exec(file);
  return m ? { source: m[1]!, partition: Number(m[2]), epoch: Number(m[3]) } : undefined;
}

/** avsc builds a record class per file's resolver; callers get plain objects so values compare and serialize alike. */
function plainTimeline(s: SessionTimeline): SessionTimeline {
  return { ...s, events: s.events.map((e) => ({ ...e, extras: { ...e.extras } })) };
}

/** A segment file that could not be read back whole and consistent. */
export interface CorruptSegment {
  path: string;
  reason: string;
}

export class CorruptSegmentError extends IntentstreamError {
  override name = 'CorruptSegmentError';
  constructor(readonly segment: CorruptSegment) {
    super(`corrupt timeline file ${segment.path}: ${segment.reason}`);
  }
}

export interface ReadOptions {
  /**
   * Called for a file that does not decode or whose sessions are inconsistent; the file is then
   * skipped whole (none of its sessions are yielded). Without it such a file throws
   * CorruptSegmentError, so callers that must see everything (tests, exports) never lose data silently.
   */
  onCorrupt?: (segment: CorruptSegment) => void;
}

/**
 * Why the decoded sessions of a `dt=<day>` file cannot be what the store wrote, or undefined when they
 * are consistent. Deflate blocks carry no checksum, so this catches flips that still decode.
 */
export function inconsistency(sessions: readonly SessionTimeline[], day: string): string | undefined {
  for (const [i, s] of sessions.entries()) {
    const at = `session ${i} (${String(s.session_id)})`;
    const events = s.events;
    if (!Array.isArray(events) || events.length === 0) return `${at} has no events`;
    if (s.event_count !== events.length)
      return `${at} says ${s.event_count} events but holds ${events.length}`;
    if (!Number.isFinite(s.start_time) || dayOf(s.start_time) !== day) {
      return `${at} starts at ${s.start_time}, outside the file's day ${day}`;
    }
    if (s.start_time !== events[0]!.event_time || s.end_time !== events.at(-1)!.event_time) {
      return `${at} start/end times do not match its first/last event`;
    }
    for (let j = 0; j < events.length; j++) {
      const e = events[j]!;
      if (e.cookie_id !== s.cookie_id) return `${at} event ${j} belongs to another cookie`;
      if (j > 0 && e.event_time < events[j - 1]!.event_time) return `${at} events out of time order at ${j}`;
    }
  }
  return undefined;
}

/** One stored segment file: a segment's sessions of one day. */
export interface StoredSegment {
  /** The UTC day its sessions started (YYYY-MM-DD). */
  day: string;
  /** File name: the segment name given to writeSegment plus `.avro`. */
  file: string;
  /** Where it is (a file path or an s3:// URL), as writeSegment returned it. */
  path: string;
}

export interface TimelineStore {
  /** Where the store is, for messages: its directory or `s3://bucket/prefix`. */
  readonly dir: string;
  /** Writes the sessions as one container file per day of session start; returns the paths. */
  writeSegment(name: string, sessions: readonly SessionTimeline[]): Promise<string[]>;
  /** Every segment file, oldest day first, by name within a day. */
  listSegments(): Promise<StoredSegment[]>;
  /** Removes segment files whose names match; returns the removed paths. */
  removeSegments(match: (file: string) => boolean): Promise<string[]>;
  /**
   * Removes the segment files `match` selects except those at `keep` (paths writeSegment returned), so a
   * rerun can drop what an earlier run wrote and this one did not; returns the removed paths.
   */
  removeSegmentsExcept(
    keep: ReadonlySet<string>,
    match: (segment: StoredSegment) => boolean,
  ): Promise<string[]>;
  /** Days present, oldest first (YYYY-MM-DD). */
  listDays(): Promise<string[]>;
  /** Sessions that started in [from, to) (epoch ms; either bound optional), day by day, file by file. */
  read(range?: { from?: number; to?: number }, options?: ReadOptions): AsyncIterable<SessionTimeline>;
  /** Deletes days older than `horizonDays` before `now`; returns the deleted days. */
  applyRetention(horizonDays: number, now: number): Promise<string[]>;
}

/** How many segment files a read fetches ahead of the one it decodes (parallel GETs on object storage). */
const READ_AHEAD = 4;

/**
 * The store over a directory (today's layout) or any ObjectStorage (an S3 bucket prefix): keys
 * `dt=<day>/<segment>.avro`. Every segment is written whole under its final key (temp file + rename
 * locally, one PUT on S3), so a reader never sees a partial file.
 */
export function createTimelineStore(where: string | ObjectStorage): TimelineStore {
  const storage = typeof where === 'string' ? createLocalStorage(where) : where;
  const listDays = async (): Promise<string[]> =>
    (await storage.listDirs(''))
      .map((e) => DAY_DIR.exec(e)?.[1])
      .filter((d): d is string => d !== undefined)
      .sort();
  const dayPrefix = (day: string) => `dt=${day}/`;
  const keyOf = (day: string, file: string) => `${dayPrefix(day)}${file}`;
  const segmentFiles = async (day: string) =>
    (await storage.list(dayPrefix(day)))
      .map((o) => o.key.slice(dayPrefix(day).length))
      .filter((f) => f.endsWith('.avro') && !f.startsWith('.') && !f.includes('/'))
      .sort();
  const listSegments = async (): Promise<StoredSegment[]> => {
    const segments: StoredSegment[] = [];
    for (const day of await listDays()) {
      for (const file of await segmentFiles(day))
        segments.push({ day, file, path: storage.locate(keyOf(day, file)) });
    }
    return segments;
  };
  const removeWhere = async (match: (segment: StoredSegment) => boolean): Promise<string[]> => {
    const removed = (await listSegments()).filter(match);
    await storage.delete(removed.map((s) => keyOf(s.day, s.file)));
    return removed.map((s) => s.path);
  };
  const fetchSegment = (day: string, file: string) => {
    const fetched = storage
      .get(keyOf(day, file))
      .then((object) => ({ path: storage.locate(keyOf(day, file)), bytes: object?.body }));
    // A reader that stops early leaves fetches ahead unawaited; their failure must not crash the process.
    fetched.catch(() => undefined);
    return fetched;
  };

  return {
    dir: storage.location,
    async writeSegment(name, sessions) {
      const byDay = new Map<string, SessionTimeline[]>();
      for (const s of sessions) {
        const day = dayOf(s.start_time);
        const list = byDay.get(day);
        if (list) list.push(s);
        else byDay.set(day, [s]);
      }
      const written: string[] = [];
      for (const [day, list] of [...byDay].sort(([a], [b]) => a.localeCompare(b))) {
        const key = keyOf(day, `${name}.avro`);
        await storage.put(key, await encodeContainer(sessionTimelineType, list));
        written.push(storage.locate(key));
      }
      return written;
    },
    listSegments,
    removeSegments: (match) => removeWhere((segment) => match(segment.file)),
    removeSegmentsExcept: (keep, match) =>
      removeWhere((segment) => !keep.has(segment.path) && match(segment)),
    listDays,
    async *read(range = {}, options = {}) {
      const fromDay = range.from === undefined ? undefined : dayOf(range.from);
      const toDay = range.to === undefined ? undefined : dayOf(range.to);
      for (const day of await listDays()) {
        if ((fromDay && day < fromDay) || (toDay && day > toDay)) continue;
        const files = await segmentFiles(day);
        const pending = files.slice(0, READ_AHEAD).map((file) => fetchSegment(day, file));
        for (let next = pending.length; pending.length > 0; next++) {
          const { path, bytes } = await pending.shift()!;
          if (next < files.length) pending.push(fetchSegment(day, files[next]!));
          // Removed since it was listed (retention, a rerun's cleanup): it holds nothing to read.
          if (bytes === undefined) continue;
          let sessions: SessionTimeline[];
          let reason: string | undefined;
          try {
            sessions = await decodeContainer<SessionTimeline>(bytes);
            reason = inconsistency(sessions, day);
          } catch (error) {
            sessions = [];
            reason = `does not decode as an Avro container of SessionTimeline: ${(error as Error).message}`;
          }
          if (reason !== undefined) {
            if (!options.onCorrupt) throw new CorruptSegmentError({ path, reason });
            options.onCorrupt({ path, reason });
            continue;
          }
          for (const s of sessions) {
            if (range.from !== undefined && s.start_time < range.from) continue;
            if (range.to !== undefined && s.start_time >= range.to) continue;
            yield plainTimeline(s);
          }
        }
      }
    },
    async applyRetention(horizonDays, now) {
      const cutoff = dayOf(now - horizonDays * DAY_MS);
      const deleted = (await listDays()).filter((d) => d < cutoff);
      for (const day of deleted) await storage.deletePrefix(dayPrefix(day));
      return deleted;
    },
  };
}

import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IntentstreamError } from '../errors.js';
import { sessionTimelineType } from '../schemas/index.js';
import type { SessionTimeline } from '../schemas/types.js';
import { writeFileAtomic } from '../util/atomic-file.js';
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
  /** Where it is, as writeSegment returned it. */
  path: string;
}

export interface TimelineStore {
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

export function createTimelineStore(dir: string): TimelineStore {
  const listDays = async (): Promise<string[]> => {
    const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    return entries
      .map((e) => DAY_DIR.exec(e)?.[1])
      .filter((d): d is string => d !== undefined)
      .sort();
  };
  const dayDir = (day: string) => join(dir, `dt=${day}`);
  const segmentFiles = async (day: string) =>
    (await readdir(dayDir(day))).filter((f) => f.endsWith('.avro') && !f.startsWith('.')).sort();
  const listSegments = async (): Promise<StoredSegment[]> => {
    const segments: StoredSegment[] = [];
    for (const day of await listDays()) {
      for (const file of await segmentFiles(day)) segments.push({ day, file, path: join(dayDir(day), file) });
    }
    return segments;
  };
  const removeWhere = async (match: (segment: StoredSegment) => boolean): Promise<string[]> => {
    const removed: string[] = [];
    for (const segment of await listSegments()) {
      if (!match(segment)) continue;
      await rm(segment.path, { force: true });
      removed.push(segment.path);
    }
    return removed;
  };

  return {
    dir,
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
        const path = join(dayDir(day), `${name}.avro`);
        await writeFileAtomic(path, await encodeContainer(sessionTimelineType, list));
        written.push(path);
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
        for (const file of await segmentFiles(day)) {
          const path = join(dayDir(day), file);
          const bytes = await readFile(path);
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
      for (const day of deleted) await rm(dayDir(day), { recursive: true, force: true });
      return deleted;
    },
  };
}

/**
 * External sort of imported events by event time, so an export in any order (sorted by user, by
 * file, not at all) sessionizes as if it were time-ordered, in bounded memory: events are held in
 * runs of at most `runEvents`; a full run is sorted and spilled to a temp file (NDJSON), and the
 * output is a k-way merge of the runs. Runs are merged in groups of at most `fanIn` first, so the
 * number of open files stays bounded too. Ties keep input order (the sort key is (time, sequence)).
 * When everything fits in one run nothing touches the disk.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MinHeap } from '../util/heap.js';
import { readLines } from './import-text.js';

/** One entry to sort; `value` must survive JSON. */
export interface SortEntry<T> {
  time: number;
  seq: number;
  value: T;
}

export interface ExternalSorterOptions {
  /** Entries held in memory before a run is spilled (default 200,000). */
  runEvents?: number;
  /** Runs merged at once (default 64). */
  fanIn?: number;
  /** Parent of the temp folder (default the OS temp dir). */
  tempDir?: string;
}

export interface ExternalSorter<T> {
  add(time: number, value: T): Promise<void>;
  /** The entries in (time, input order); call once, after the last add. */
  sorted(): AsyncGenerator<SortEntry<T>>;
  /** Runs written to disk so far. */
  readonly spilledRuns: number;
  /** Removes the temp files (idempotent; call in a finally). */
  dispose(): Promise<void>;
}

const byTimeThenSeq = <T>(a: SortEntry<T>, b: SortEntry<T>) => a.time - b.time || a.seq - b.seq;

export function createExternalSorter<T>(options: ExternalSorterOptions = {}): ExternalSorter<T> {
  const { runEvents = 200_000, fanIn = 64, tempDir = tmpdir() } = options;
  if (!(Number.isInteger(runEvents) && runEvents >= 1))
    throw new RangeError('runEvents must be an integer >= 1');
  if (!(Number.isInteger(fanIn) && fanIn >= 2)) throw new RangeError('fanIn must be an integer >= 2');
  let buffer: SortEntry<T>[] = [];
  let seq = 0;
  let dir: string | undefined;
  let runCount = 0;
  let runs: string[] = [];

  const newRunPath = async () => {
    dir ??= await mkdtemp(join(tempDir, 'intentstream-import-sort-'));
    return join(dir, `run-${runCount++}.ndjson`);
  };

  const writeRun = async (entries: AsyncIterable<SortEntry<T>> | Iterable<SortEntry<T>>) => {
    const path = await newRunPath();
    const out = createWriteStream(path);
    for await (const e of entries) {
      if (!out.write(`${JSON.stringify([e.time, e.seq, e.value])}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return path;
  };

  async function* readRun(path: string): AsyncGenerator<SortEntry<T>> {
    const stream = createReadStream(path, { encoding: 'utf8' });
    try {
      for await (const { text } of readLines(stream as AsyncIterable<string>, Number.POSITIVE_INFINITY)) {
        const [time, s, value] = JSON.parse(text) as [number, number, T];
        yield { time, seq: s, value };
      }
    } finally {
      stream.destroy();
    }
  }

  async function* merge(sources: AsyncGenerator<SortEntry<T>>[]): AsyncGenerator<SortEntry<T>> {
    const heap = new MinHeap<{ entry: SortEntry<T>; source: AsyncGenerator<SortEntry<T>> }>();
    const pull = async (source: AsyncGenerator<SortEntry<T>>) => {
      const next = await source.next();
      if (!next.done) heap.push(next.value.time, next.value.seq, { entry: next.value, source });
    };
    try {
      for (const s of sources) await pull(s);
      while (heap.size > 0) {
        const top = heap.pop()!;
        yield top.entry;
        await pull(top.source);
      }
    } finally {
      for (const s of sources) await s.return(undefined);
    }
  }

  const spill = async () => {
    buffer.sort(byTimeThenSeq);
    const list = buffer;
    buffer = [];
    runs.push(await writeRun(list));
  };

  return {
    get spilledRuns() {
      return runCount;
    },
    async add(time, value) {
      buffer.push({ time, seq: seq++, value });
      if (buffer.length >= runEvents) await spill();
    },
    async *sorted() {
      if (runs.length === 0) {
        buffer.sort(byTimeThenSeq);
        const list = buffer;
        buffer = [];
        yield* list;
        return;
      }
      if (buffer.length > 0) await spill();
      while (runs.length > fanIn) {
        const group = runs.slice(0, fanIn);
        runs = [...runs.slice(fanIn), await writeRun(merge(group.map(readRun)))];
        await Promise.all(group.map((p) => rm(p, { force: true })));
      }
      yield* merge(runs.map(readRun));
    },
    async dispose() {
      buffer = [];
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}

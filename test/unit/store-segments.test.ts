/**
 * The store owns its layout: callers list and remove segments through it and never see its folders.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createTimelineStore } from '../../src/store/index.js';
import { session } from '../helpers/events.js';

const DAY1 = Date.UTC(2026, 10, 3, 9, 0);
const DAY2 = DAY1 + 86_400_000;
const one = (id: string, at: number) => session(id, at, ['page_view'], { cookie: `c-${id}` });

describe('timeline store segments', () => {
  it('lists every segment file by day, oldest first, with the paths writeSegment returned', async () => {
    const store = createTimelineStore(join(mkdtempSync(join(tmpdir(), 'store-seg-')), 'store'));
    assert.deepEqual(await store.listSegments(), [], 'a store that does not exist yet lists nothing');
    const b = await store.writeSegment('b', [one('b1', DAY2), one('b0', DAY1)]);
    const a = await store.writeSegment('a', [one('a1', DAY2)]);
    const listed = await store.listSegments();
    assert.deepEqual(
      listed.map((s) => [s.day, s.file]),
      [
        ['2026-11-03', 'b.avro'],
        ['2026-11-04', 'a.avro'],
        ['2026-11-04', 'b.avro'],
      ],
    );
    assert.deepEqual(new Set(listed.map((s) => s.path)), new Set([...a, ...b]));
  });

  it('ignores files that are not segments (temp files of an interrupted write, other names)', async () => {
    const store = createTimelineStore(join(mkdtempSync(join(tmpdir(), 'store-seg-')), 'store'));
    const [path] = await store.writeSegment('s', [one('s0', DAY1)]);
    writeFileSync(join(path!, '..', '.s.avro.tmp'), 'partial');
    writeFileSync(join(path!, '..', 'notes.txt'), 'not a segment');
    assert.deepEqual(
      (await store.listSegments()).map((s) => s.file),
      ['s.avro'],
    );
  });

  it('removeSegmentsExcept keeps the given paths and what the match leaves out', async () => {
    const store = createTimelineStore(join(mkdtempSync(join(tmpdir(), 'store-seg-')), 'store'));
    const kept = await store.writeSegment('run-1', [one('k0', DAY1)]);
    const stale = await store.writeSegment('run-2', [one('x0', DAY1), one('x1', DAY2)]);
    const other = await store.writeSegment('other-1', [one('o0', DAY2)]);
    const removed = await store.removeSegmentsExcept(new Set(kept), (s) => s.file.startsWith('run-'));
    assert.deepEqual(new Set(removed), new Set(stale));
    assert.deepEqual(new Set((await store.listSegments()).map((s) => s.path)), new Set([...kept, ...other]));
    let sessions = 0;
    for await (const _ of store.read()) sessions++;
    assert.equal(sessions, 2, 'the removed files no longer read back');
  });
});

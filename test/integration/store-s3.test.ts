/**
 * The timeline store and ingest checkpoints on S3 (the real server scripts/s3 starts): the same
 * layout and guarantees as on the local directory — segments by day, listing, removal, reading by
 * range, retention, corrupt objects reported, checkpoints round-tripped and replaced whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCheckpointStore } from '../../src/ingest/checkpoint.js';
import { Sessionizer, decodeSnapshot, encodeSnapshot } from '../../src/sessionizer/index.js';
import { CorruptSegmentError, createTimelineStore, dayOf } from '../../src/store/index.js';
import { ev, session } from '../helpers/events.js';
import { storageBackends } from '../helpers/storage.js';

const DAY1 = Date.UTC(2026, 10, 3, 9, 0);
const DAY2 = DAY1 + 86_400_000;
const DAY3 = DAY2 + 86_400_000;
const one = (id: string, at: number) => session(id, at, ['page_view', 'add_to_cart'], { cookie: `c-${id}` });

const readAll = async (
  store: ReturnType<typeof createTimelineStore>,
  range?: { from?: number; to?: number },
) => {
  const ids: string[] = [];
  for await (const s of store.read(range)) ids.push(String(s.session_id));
  return ids;
};

for (const backend of storageBackends) {
  describe(`timeline store on ${backend.name}`, () => {
    it('writes one object per day, lists, reads by range and removes by name', async () => {
      const storage = backend.create();
      const store = createTimelineStore(storage);
      assert.deepEqual(await store.listSegments(), []);
      const b = await store.writeSegment('ingest-p0-e0000000002', [one('b1', DAY2), one('b0', DAY1)]);
      const a = await store.writeSegment('ingest-p1-e0000000001', [one('a1', DAY2), one('a3', DAY3)]);
      assert.equal(b.length, 2);
      assert.deepEqual(
        (await store.listSegments()).map((s) => [s.day, s.file]),
        [
          ['2026-11-03', 'ingest-p0-e0000000002.avro'],
          ['2026-11-04', 'ingest-p0-e0000000002.avro'],
          ['2026-11-04', 'ingest-p1-e0000000001.avro'],
          ['2026-11-05', 'ingest-p1-e0000000001.avro'],
        ],
      );
      assert.deepEqual(new Set((await store.listSegments()).map((s) => s.path)), new Set([...a, ...b]));
      assert.deepEqual(await store.listDays(), ['2026-11-03', '2026-11-04', '2026-11-05']);
      assert.deepEqual((await readAll(store)).sort(), ['a1', 'a3', 'b0', 'b1']);
      assert.deepEqual((await readAll(store, { from: DAY2, to: DAY3 })).sort(), ['a1', 'b1']);
      const removed = await store.removeSegments((f) => f.startsWith('ingest-p0-'));
      assert.deepEqual(new Set(removed), new Set(b));
      assert.deepEqual((await readAll(store)).sort(), ['a1', 'a3']);
      const kept = await store.removeSegmentsExcept(new Set(a.slice(0, 1)), () => true);
      assert.deepEqual(kept, a.slice(1));
      assert.deepEqual(await readAll(store), ['a1']);
    });

    it('retention deletes whole old days', async () => {
      const store = createTimelineStore(backend.create());
      await store.writeSegment('s', [one('x1', DAY1), one('x2', DAY2), one('x3', DAY3)]);
      assert.deepEqual(await store.applyRetention(1, DAY3), ['2026-11-03']);
      assert.deepEqual(await store.listDays(), ['2026-11-04', '2026-11-05']);
      assert.deepEqual((await readAll(store)).sort(), ['x2', 'x3']);
    });

    it('reports an object that does not decode, naming where it is', async () => {
      const storage = backend.create();
      const store = createTimelineStore(storage);
      await store.writeSegment('good', [one('g', DAY1)]);
      await storage.put(`dt=${dayOf(DAY1)}/bad.avro`, Buffer.from('not avro'));
      await assert.rejects(
        readAll(store),
        (e: unknown) => e instanceof CorruptSegmentError && /bad\.avro/.test(e.message),
      );
      const corrupt: string[] = [];
      const ids: string[] = [];
      for await (const s of store.read({}, { onCorrupt: (c) => corrupt.push(c.path) }))
        ids.push(String(s.session_id));
      assert.deepEqual(ids, ['g']);
      assert.equal(corrupt.length, 1);
      assert.ok(corrupt[0]!.endsWith('bad.avro'));
    });
  });

  describe(`ingest checkpoints on ${backend.name}`, () => {
    it('round-trips a checkpoint with open sessions and replaces it whole', async () => {
      const checkpoints = createCheckpointStore(backend.create());
      assert.equal(await checkpoints.load('shop.events', 0), undefined);
      const sessionizer = new Sessionizer();
      sessionizer.push(ev('page_view', DAY1, { cookie_id: 'c1', event_id: 'e1' }));
      sessionizer.push(ev('add_to_cart', DAY1 + 1_000, { cookie_id: 'c1', event_id: 'e2' }));
      const saved = {
        topic: 'shop.events',
        partition: 0,
        nextOffset: 42,
        epoch: 3,
        savedAt: DAY1,
        snapshot: sessionizer.snapshot(),
      };
      assert.ok((await checkpoints.save(saved)) > 0);
      // What the snapshot codec makes of it (defaults filled in), stored and read back unchanged.
      assert.deepEqual(await checkpoints.load('shop.events', 0), {
        ...saved,
        snapshot: decodeSnapshot(encodeSnapshot(saved.snapshot)),
      });
      await checkpoints.save({ ...saved, nextOffset: 50, epoch: 4 });
      const loaded = await checkpoints.load('shop.events', 0);
      assert.equal(loaded?.nextOffset, 50);
      assert.equal(loaded?.epoch, 4);
      assert.equal(await checkpoints.load('shop.events', 1), undefined, 'another partition has its own');
    });
  });
}

/**
 * The ObjectStorage contract on both backends, the S3 one against the real server scripts/s3 starts:
 * whole-object writes, conditional writes that let exactly one of two writers win, listings by prefix
 * and by "directory", deletes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreconditionFailedError } from '../../src/storage/index.js';
import { storageBackends } from '../helpers/storage.js';

const bytes = (s: string) => Buffer.from(s);

for (const backend of storageBackends) {
  describe(`object storage: ${backend.name}`, () => {
    it('puts, gets, heads and lists objects by prefix', async () => {
      const storage = backend.create();
      assert.equal(await storage.get('a/missing'), undefined);
      assert.equal(await storage.head('a/missing'), undefined);
      const put = await storage.put('dt=2026-01-02/x.avro', [bytes('he'), bytes('llo')]);
      await storage.put('dt=2026-01-01/y.avro', bytes('y'));
      await storage.put('CURRENT', bytes('v1\n'));
      const got = await storage.get('dt=2026-01-02/x.avro');
      assert.equal(got?.body.toString(), 'hello');
      assert.equal(got?.etag, put.etag, 'the etag a put returns is the one a get sees');
      assert.equal((await storage.head('dt=2026-01-02/x.avro'))?.size, 5);
      assert.deepEqual(
        (await storage.list('dt=')).map((o) => o.key),
        ['dt=2026-01-01/y.avro', 'dt=2026-01-02/x.avro'],
      );
      assert.deepEqual(await storage.listDirs(''), ['dt=2026-01-01', 'dt=2026-01-02']);
      assert.deepEqual(await storage.listDirs('nothing/'), []);
    });

    it('getIfChanged answers unchanged for the etag it already has', async () => {
      const storage = backend.create();
      const first = await storage.put('CURRENT', bytes('v1\n'));
      assert.equal(await storage.getIfChanged('CURRENT', first.etag), 'unchanged');
      await storage.put('CURRENT', bytes('v2\n'));
      const changed = await storage.getIfChanged('CURRENT', first.etag);
      assert.ok(changed !== 'unchanged' && changed !== undefined);
      assert.equal(changed.body.toString(), 'v2\n');
      assert.equal(await storage.getIfChanged('absent', first.etag), undefined);
    });

    it('conditional puts: if-absent lets one of two writers win, if-match refuses a stale etag', async () => {
      const storage = backend.create();
      await storage.put('lock', bytes('first'), { ifAbsent: true });
      await assert.rejects(storage.put('lock', bytes('second'), { ifAbsent: true }), PreconditionFailedError);
      assert.equal((await storage.get('lock'))?.body.toString(), 'first');
      const read = (await storage.get('lock'))!;
      await storage.put('lock', bytes('third'), { ifMatch: read.etag });
      await assert.rejects(
        storage.put('lock', bytes('fourth'), { ifMatch: read.etag }),
        PreconditionFailedError,
      );
      assert.equal((await storage.get('lock'))?.body.toString(), 'third');
    });

    it('deletes keys and whole prefixes; scoped storage sees only its prefix', async () => {
      const storage = backend.create();
      await storage.put('dt=2026-01-01/a.avro', bytes('a'));
      await storage.put('dt=2026-01-01/b.avro', bytes('b'));
      await storage.put('dt=2026-01-02/c.avro', bytes('c'));
      await storage.delete(['dt=2026-01-01/a.avro', 'dt=2026-01-01/never-there.avro']);
      assert.deepEqual(
        (await storage.list('')).map((o) => o.key),
        ['dt=2026-01-01/b.avro', 'dt=2026-01-02/c.avro'],
      );
      await storage.deletePrefix('dt=2026-01-01/');
      assert.deepEqual(await storage.listDirs(''), ['dt=2026-01-02']);
      const scoped = storage.scoped('dt=2026-01-02');
      assert.deepEqual(
        (await scoped.list('')).map((o) => o.key),
        ['c.avro'],
      );
      assert.ok(scoped.locate('c.avro').endsWith('c.avro'));
    });
  });
}

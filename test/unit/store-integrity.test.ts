/**
 * Damaged timeline files: every truncation and every single-bit flip of a file the store wrote is
 * reported (never decoded into fewer or different sessions), the reader skips the file whole when
 * asked to, and a training run goes on without it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { sessionTimelineType } from '../../src/schemas/index.js';
import type { SessionTimeline } from '../../src/schemas/types.js';
import {
  type CorruptSegment,
  CorruptSegmentError,
  createTimelineStore,
  decodeContainer,
  encodeContainer,
} from '../../src/store/index.js';
import { trainOnce } from '../../src/trainer/run.js';
import { session } from '../helpers/events.js';
import { fillStoreFromGenerator } from '../helpers/store.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const T0 = Date.UTC(2026, 10, 3, 9, 0);

function sessions(n: number, prefix: string): SessionTimeline[] {
  return Array.from({ length: n }, (_, i) =>
    session(`${prefix}-s${i}`, T0 + i * 60_000, ['page_view', 'product_view', 'add_to_cart'], {
      cookie: `${prefix}-c${i}`,
    }),
  );
}

describe('timeline file integrity', () => {
  it('round-trips and records count and checksum in the header', async () => {
    const list = sessions(5, 'rt');
    const bytes = await encodeContainer(sessionTimelineType, list);
    const back = await decodeContainer<SessionTimeline>(bytes);
    assert.equal(back.length, 5);
    assert.ok(bytes.includes(Buffer.from('intentstream.crc32')), 'no checksum in the header');
  });

  it('reports every truncation and every single-bit flip (none decodes silently into other sessions)', async () => {
    // Two blocks' worth would need MBs; a small file still has header, one block and sync markers.
    const list = sessions(40, 'flip');
    const bytes = await encodeContainer(sessionTimelineType, list, { level: 1 });
    const original = JSON.stringify(await decodeContainer(bytes));
    let detected = 0;
    let identical = 0;
    for (let cut = 0; cut < bytes.length; cut += 1) {
      await assert.rejects(decodeContainer(bytes.subarray(0, cut)), `truncation at ${cut} decoded`);
      detected++;
    }
    for (let pos = 0; pos < bytes.length; pos++) {
      const bit = 1 << (pos % 8);
      const damaged = Buffer.from(bytes);
      damaged[pos]! ^= bit;
      try {
        const decoded = JSON.stringify(await decodeContainer(damaged));
        // Only a flip that changes nothing the reader uses may pass (none is expected with the checksum).
        assert.equal(decoded, original, `bit flip at byte ${pos} decoded into different sessions`);
        identical++;
      } catch {
        detected++;
      }
    }
    assert.ok(detected >= 2 * bytes.length - identical, 'some damage went unreported');
    // The checksum covers everything but its own entry: only a flip in its key's name
    // ("intentstream.crc32", 18 bytes, one flip per byte) leaves a file that reads as a foreign one,
    // with exactly the original sessions.
    assert.ok(
      identical <= 'intentstream.crc32'.length,
      `${identical} of ${bytes.length} flips went undetected`,
    );
  });

  it('read() throws naming the file by default and skips it whole with onCorrupt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-integrity-'));
    const store = createTimelineStore(dir);
    const [good] = await store.writeSegment('good', sessions(3, 'good'));
    const [bad] = await store.writeSegment('bad', sessions(3, 'bad'));
    const bytes = readFileSync(bad!);
    writeFileSync(bad!, bytes.subarray(0, bytes.length - 20));

    await assert.rejects(
      (async () => {
        for await (const _ of store.read());
      })(),
      (e: unknown) =>
        e instanceof CorruptSegmentError && e.segment.path === bad && /checksum mismatch/.test(e.message),
    );
    const reported: CorruptSegment[] = [];
    const read: string[] = [];
    for await (const s of store.read({}, { onCorrupt: (c) => reported.push(c) })) read.push(s.cookie_id);
    assert.deepEqual(read, ['good-c0', 'good-c1', 'good-c2']);
    assert.equal(reported.length, 1);
    assert.equal(reported[0]!.path, bad);
    assert.ok(good, 'the good file was written');
  });

  it('catches sessions that decode but cannot be what the store wrote (wrong day directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-integrity-'));
    const store = createTimelineStore(dir);
    const [path] = await store.writeSegment('moved', sessions(2, 'moved'));
    const day = readdirSync(dir)[0]!;
    const other = join(dir, 'dt=2020-01-01');
    mkdirSync(other);
    renameSync(path!, join(other, 'moved.avro'));
    const reported: CorruptSegment[] = [];
    for await (const _ of store.read({}, { onCorrupt: (c) => reported.push(c) }));
    assert.equal(reported.length, 1, `expected the moved file to be reported (was in ${day})`);
    assert.match(reported[0]!.reason, /outside the file's day 2020-01-01/);
  });

  it('a training run skips a corrupt file with a warning and still trains and promotes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-integrity-train-'));
    const { storeDir } = await fillStoreFromGenerator(dir, {
      seed: 21,
      cookies: 250,
      durationMs: 2 * 86_400_000,
    });
    const store = createTimelineStore(storeDir);
    const days = (await store.listDays()).slice(-3);
    const victimDir = join(storeDir, `dt=${days[0]}`);
    const victim = join(victimDir, readdirSync(victimDir)[0]!);
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
    writeFileSync(victim, bytes);

    const logger = createMemoryLogger('warn');
    const base = loadConfig({ env: {} });
    const config = {
      ...base,
      trainer: {
        ...tinyTrainerConfig(),
        modelsDir: join(dir, 'models'),
        checkpointDir: join(dir, 'checkpoints'),
        backend: 'cpu' as const,
      },
    };
    const outcome = await trainOnce({
      config,
      logger,
      store,
      registry: createModelRegistry(join(dir, 'models')),
      trigger: 'cli',
    });
    assert.equal(outcome.result, 'promoted', `${outcome.result}: ${outcome.reason}`);
    assert.deepEqual(
      outcome.skippedFiles?.map((f) => f.path),
      [victim],
    );
    const warning = logger.lines.find(
      (l) => l.msg === 'skipped a corrupt timeline file; training goes on without its sessions',
    );
    assert.ok(warning && warning.path === victim, JSON.stringify(logger.lines.slice(-5)));
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildProgram } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { candidateVersion } from '../../src/registry/candidate.js';
import { createTimelineStore } from '../../src/store/index.js';
import { trainingRange } from '../../src/trainer/range.js';

const quiet = createMemoryLogger('error');
import { T0, session } from '../helpers/events.js';

const DAY = 86_400_000;

describe('train command helpers', () => {
  it('is registered with its options', () => {
    const train = buildProgram().commands.find((c) => c.name() === 'train');
    assert.ok(train, 'train command registered');
    const flags = train.options.map((o) => o.long);
    for (const f of ['--from', '--to', '--days', '--resume', '--epochs', '--seed', '--backend', '--out']) {
      assert.ok(flags.includes(f), `${f} option`);
    }
  });

  it('names a candidate v<UTC yyyyMMddHHmmss>-<hash of config + data range>', () => {
    const config = loadConfig({ env: {} }).trainer;
    const range = { from: '2026-11-01T00:00:00.000Z', to: '2026-11-04T00:00:00.000Z' };
    const now = new Date(Date.UTC(2026, 10, 5, 3, 4, 5));
    const v = candidateVersion(now, config, range);
    assert.match(v, /^v20261105030405-[0-9a-f]{7}$/);
    assert.equal(candidateVersion(now, config, range), v, 'stable');
    assert.notEqual(candidateVersion(now, config, { ...range, to: '2026-11-05T00:00:00.000Z' }), v);
    assert.notEqual(candidateVersion(now, { ...config, seed: 2 }, range), v);
  });

  it('defaults the window to the last N days before the newest stored session', async () => {
    const store = createTimelineStore(join(mkdtempSync(join(tmpdir(), 'range-')), 'store'));
    await assert.rejects(trainingRange(store, { days: 3 }, quiet), /holds no sessions/);
    await store.writeSegment('t', [
      session('a', T0 - 10 * DAY, ['page_view']),
      session('b', T0 + 5_000, ['page_view']),
      session('c', T0, ['page_view']),
    ]);
    assert.deepEqual(await trainingRange(store, { days: 3 }, quiet), {
      from: T0 + 5_001 - 3 * DAY,
      to: T0 + 5_001,
    });
    assert.deepEqual(await trainingRange(store, { days: 3, from: T0 - DAY }, quiet), {
      from: T0 - DAY,
      to: T0 + 5_001,
    });
    assert.deepEqual(await trainingRange(store, { days: 2, to: T0 }, quiet), { from: T0 - 2 * DAY, to: T0 });
    assert.deepEqual(await trainingRange(store, { days: 2, from: 1, to: 2 }, quiet), { from: 1, to: 2 });
  });
});

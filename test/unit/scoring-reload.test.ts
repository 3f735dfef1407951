import assert from 'node:assert/strict';
import { mkdtemp, rename, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMemoryLogger } from '../../src/log/logger.js';
import { lstmModelFactory } from '../../src/scoring/lstm-model.js';
import type { StepModel } from '../../src/scoring/model.js';
import { createRegistryModelSource } from '../../src/scoring/registry-source.js';
import { createModelWatcher } from '../../src/scoring/reload.js';
import { shopEvent } from '../helpers/events.js';
import { waitFor } from '../helpers/kafka.js';
import { writeModelVersion } from '../helpers/models.js';

/** A registry of initialized LSTM versions (seeded by their position); `corrupt` ones get a truncated weights.bin. */
async function registry(versions: Record<string, { corrupt?: boolean }>) {
  const dir = await mkdtemp(join(tmpdir(), 'models-'));
  let seed = 0;
  for (const [version, opts] of Object.entries(versions)) {
    const versionDir = await writeModelVersion(dir, version, { seed: ++seed, scale: 3 });
    if (opts.corrupt) await truncate(join(versionDir, 'weights.bin'), 64);
  }
  const setCurrent = async (version: string) => {
    await writeFile(join(dir, '.CURRENT.tmp'), `${version}\n`);
    await rename(join(dir, '.CURRENT.tmp'), join(dir, 'CURRENT'));
  };
  return { dir, setCurrent };
}

function watch(dir: string, install: (m: StepModel) => Promise<void> = async () => undefined) {
  const installed: string[] = [];
  const refused: string[] = [];
  const disposed: string[] = [];
  const source = createRegistryModelSource(dir, async (versionDir) => {
    const model = await lstmModelFactory(versionDir);
    const dispose = model.dispose.bind(model);
    return Object.assign(model, {
      dispose: () => {
        disposed.push(model.version);
        dispose();
      },
    });
  });
  const watcher = createModelWatcher({
    source,
    intervalMs: 10,
    logger: createMemoryLogger(),
    install,
    onInstalled: (v) => installed.push(v),
    onRefused: (v) => refused.push(v),
  });
  return { watcher, installed, refused, disposed };
}

describe('model registry source and hot-reload watcher', () => {
  it('reads CURRENT and builds the LSTM step model of that version (its own weights)', async () => {
    const { dir, setCurrent } = await registry({ v1: {}, v2: {} });
    const source = createRegistryModelSource(dir, lstmModelFactory);
    assert.equal(await source.current(), undefined, 'no CURRENT yet');
    await setCurrent('v2');
    assert.equal(await source.current(), 'v2');
    const v2 = await source.load('v2');
    assert.equal(v2.version, 'v2');
    const input = { state: v2.initialState(), event: probe(), previous: undefined, sessionStart: 0 };
    const v1 = await source.load('v1');
    const input1 = { ...input, state: v1.initialState() };
    assert.notEqual(
      v2.step([input]).probabilities[0]![0]!,
      v1.step([input1]).probabilities[0]![0]!,
      'weights differ',
    );
    await assert.rejects(source.load('../etc'), /invalid model version/);
    await assert.rejects(source.load('v9'), /does not exist/);
  });

  it('installs a new CURRENT, refuses a corrupt version once (old model keeps serving), then takes the next good one', async () => {
    const { dir, setCurrent } = await registry({ v1: {}, v2: {}, v3: { corrupt: true }, v4: {} });
    const { watcher, installed, refused, disposed } = watch(dir);
    await setCurrent('v1');
    assert.equal(await watcher.waitForFirst(), true);
    assert.equal(watcher.served, 'v1');
    await watcher.check();
    assert.deepEqual(installed, ['v1'], 'an unchanged CURRENT is not reloaded');
    await setCurrent('v2');
    await watcher.check();
    assert.equal(watcher.served, 'v2');
    await setCurrent('v3');
    await watcher.check();
    await watcher.check();
    assert.equal(watcher.served, 'v2', 'the corrupt model is refused');
    assert.deepEqual(refused, ['v3'], 'refused once, not retried while CURRENT is unchanged');
    await setCurrent('v4');
    await watcher.check();
    assert.deepEqual(installed, ['v1', 'v2', 'v4']);
    assert.deepEqual(
      disposed,
      [],
      'the watcher never disposes installed models (the scorer disposes swapped-out ones)',
    );
    await watcher.stop();
  });

  it('refuses a model whose install throws (incompatible) and disposes it', async () => {
    const { dir, setCurrent } = await registry({ v1: {}, v2: {} });
    const { watcher, installed, refused, disposed } = watch(dir, async (m) => {
      if (m.version === 'v2') throw new Error('incompatible');
    });
    await setCurrent('v1');
    await watcher.waitForFirst();
    await setCurrent('v2');
    await watcher.check();
    assert.deepEqual([installed, refused, disposed, watcher.served], [['v1'], ['v2'], ['v2'], 'v1']);
    await watcher.stop();
  });

  it('polls in the background after start() and stops cleanly', async () => {
    const { dir, setCurrent } = await registry({ v1: {}, v2: {} });
    const { watcher } = watch(dir);
    await setCurrent('v1');
    await watcher.waitForFirst();
    watcher.start();
    await setCurrent('v2');
    await waitFor(() => watcher.served === 'v2', { timeoutMs: 5_000, intervalMs: 10, what: 'v2 served' });
    assert.equal(watcher.served, 'v2');
    await watcher.stop();
    await watcher.stop();
  });

  it('waitForFirst returns false when stopped before any model appears', async () => {
    const { dir } = await registry({});
    const { watcher } = watch(dir);
    const waiting = watcher.waitForFirst();
    await watcher.stop();
    assert.equal(await waiting, false);
  });
});

function probe() {
  return shopEvent({ cookie_id: 'c', event_id: 'e', event_type: 'page_view', event_time: 0 });
}

/**
 * The model registry with its models on S3 (the real server scripts/s3 starts), as trainers and
 * scorers on different machines use it: each machine has its own local models directory (candidates,
 * fetched copies) and they share only the bucket.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMemoryLogger } from '../../src/log/logger.js';
import {
  MODEL_FILES,
  RegistryError,
  createModelRegistry,
  createObjectModelStore,
  createRegistryView,
} from '../../src/registry/index.js';
import { lstmModelFactory } from '../../src/scoring/lstm-model.js';
import { createRegistryModelSource } from '../../src/scoring/registry-source.js';
import { createModelWatcher } from '../../src/scoring/reload.js';
import { type ObjectStorage, PreconditionFailedError } from '../../src/storage/index.js';
import { writeCandidateFiles, writeModelVersion } from '../helpers/models.js';
import { testS3Storage } from '../helpers/storage.js';

/** One machine: its own local directory and model cache, the shared bucket prefix. */
async function machine(storage: ObjectStorage) {
  const base = await mkdtemp(join(tmpdir(), 'machine-'));
  const root = join(base, 'models');
  const store = createObjectModelStore(storage, join(base, 'cache'));
  return { base, root, store, registry: createModelRegistry(root, { store }) };
}

const candidate = writeCandidateFiles;

describe('model registry on S3', () => {
  it('registers, promotes, lists and rolls back; another machine sees the same CURRENT and history', async () => {
    const storage = testS3Storage();
    const trainer = await machine(storage);
    const other = await machine(storage);
    const { registry } = trainer;
    assert.equal(await registry.current(), undefined);
    const a = await candidate(trainer.root, 'a', 0.8);
    await registry.register(a, 'v1');
    assert.equal(existsSync(a), false, 'the candidate moved into the registry');
    await registry.promote('v1', 'first model');
    await registry.register(await candidate(trainer.root, 'b', 0.85), 'v2');
    await registry.recordDecision('v2', { promote: true });
    await registry.promote('v2', 'better');
    assert.equal(await other.registry.current(), 'v2');
    assert.equal((await storage.get('CURRENT'))?.body.toString(), 'v2\n');
    assert.deepEqual(
      (await other.registry.list()).map((m) => [
        m.version,
        m.current,
        (m.metrics?.test as { rocAuc: number }).rocAuc,
      ]),
      [
        ['v1', false, 0.8],
        ['v2', true, 0.85],
      ],
    );
    assert.equal((await other.registry.rollback()).version, 'v1');
    assert.equal(await registry.current(), 'v1');
    assert.deepEqual(
      (await registry.history()).map((h) => [h.action, h.version, h.previous]),
      [
        ['promote', 'v1', null],
        ['promote', 'v2', 'v1'],
        ['rollback', 'v1', 'v2'],
      ],
    );
    await assert.rejects(
      registry.register(await candidate(trainer.root, 'c', 0.9), 'v2'),
      /already registered/,
    );
    await assert.rejects(registry.promote('v9'), RegistryError);
  });

  it('two trainers that read the same CURRENT cannot both switch it: the second write is refused', async () => {
    const storage = testS3Storage();
    const one = await machine(storage);
    const two = await machine(storage);
    await one.registry.register(await candidate(one.root, 'a', 0.8), 'v1');
    await one.registry.register(await candidate(one.root, 'b', 0.8), 'v2');
    const seenByOne = await one.store.readCurrent();
    const seenByTwo = await two.store.readCurrent();
    await one.store.writeCurrent('v1', seenByOne);
    await assert.rejects(two.store.writeCurrent('v2', seenByTwo), PreconditionFailedError);
    assert.equal(await two.registry.current(), 'v1');
    // With a CURRENT in place the condition is the etag read: a stale one loses again.
    const fresh = await two.store.readCurrent();
    await one.store.writeCurrent('v2', await one.store.readCurrent());
    await assert.rejects(two.store.writeCurrent('v1', fresh), PreconditionFailedError);
    assert.equal(await one.registry.current(), 'v2');
  });

  it('a scorer on another machine fetches the served version into its cache and hot-reloads a new CURRENT', async () => {
    const storage = testS3Storage();
    const trainer = await machine(storage);
    await writeModelVersion(trainer.root, 'v1', { seed: 1, scale: 3 }, { store: trainer.store });
    await writeModelVersion(trainer.root, 'v2', { seed: 2, scale: 3 }, { store: trainer.store });
    const scorerBase = await mkdtemp(join(tmpdir(), 'scorer-'));
    const view = createRegistryView(
      join(scorerBase, 'models'),
      createObjectModelStore(storage, join(scorerBase, 'cache')),
    );
    const source = createRegistryModelSource(view, lstmModelFactory);
    const installed: string[] = [];
    const watcher = createModelWatcher({
      source,
      intervalMs: 10,
      logger: createMemoryLogger(),
      install: async (model) => {
        installed.push(model.version);
        model.dispose();
      },
    });
    await watcher.check();
    assert.deepEqual(installed, [], 'no CURRENT yet: nothing served');
    await trainer.registry.promote('v1');
    await watcher.check();
    await watcher.check();
    assert.deepEqual(installed, ['v1'], 'loaded once; an unchanged CURRENT is not reloaded');
    assert.ok(existsSync(join(scorerBase, 'cache', 'v1', MODEL_FILES.model)), 'fetched into the local cache');
    await trainer.registry.promote('v2');
    await watcher.check();
    assert.deepEqual(installed, ['v1', 'v2']);
    await watcher.stop();
  });
});

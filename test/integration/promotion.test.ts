import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { createModelRegistry } from '../../src/registry/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { trainOnce } from '../../src/trainer/run.js';
import { runCli } from '../helpers/cli.js';
import { fillStoreFromGenerator } from '../helpers/store.js';

/** Small, fast trainer settings; `learningRate` decides whether the model learns anything. */
function trainerConfig(dir: string, storeDir: string, learningRate: number) {
  return loadConfig({
    env: {},
    overrides: {
      store: { dir: storeDir },
      trainer: {
        modelsDir: join(dir, 'models'),
        checkpointDir: join(dir, 'checkpoints'),
        backend: 'wasm',
        promotionMargin: 0.01,
        features: { maxSteps: 16, itemBuckets: 64, categoryBuckets: 16 },
        model: {
          lstmUnits: [12],
          embeddingDims: { eventType: 4, item: 2, category: 2, device: 2, referrer: 2 },
        },
        training: { epochs: 3, batchSize: 128, patience: 3, learningRate },
      },
    },
  });
}

describe('retraining promotes only a better model', () => {
  let dir: string;
  let storeDir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promotion-'));
    ({ storeDir } = await fillStoreFromGenerator(dir, { seed: 5, cookies: 250, durationMs: 2 * 86_400_000 }));
  });

  it('promotes the first model, keeps CURRENT when a worse candidate loses on the same test window, and rolls back', async () => {
    const logger = createMemoryLogger('warn');
    const store = createTimelineStore(storeDir);
    const good = trainerConfig(dir, storeDir, 0.01);
    const registry = createModelRegistry(good.trainer.modelsDir);

    const first = await trainOnce({ config: good, logger, store, registry, trigger: 'cli' });
    assert.equal(first.result, 'promoted', first.reason);
    assert.match(first.reason, /no champion yet/);
    const champion = await registry.current();
    assert.equal(champion, first.version);

    // A model that barely moves from its initialization scores ~0.5 on the same test sessions.
    const worse = await trainOnce({
      config: trainerConfig(dir, storeDir, 1e-7),
      logger,
      store,
      registry,
      trigger: 'cli',
    });
    assert.equal(worse.result, 'rejected', worse.reason);
    assert.equal(await registry.current(), champion, 'CURRENT untouched');
    const decision = JSON.parse(readFileSync(join(registry.dirOf(worse.version!), 'decision.json'), 'utf8'));
    assert.equal(decision.promote, false);
    assert.equal(decision.champion, champion);
    assert.ok(
      decision.championAuc > decision.candidateAuc,
      `champion ${decision.championAuc} vs ${decision.candidateAuc}`,
    );

    // By hand through the CLI: promote the worse one, list, roll back to the champion.
    const env = { INTENTSTREAM_TRAINER__MODELS_DIR: good.trainer.modelsDir };
    const promoted = await runCli(['models', 'promote', worse.version!, '--reason', 'test'], env);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(await registry.current(), worse.version);
    const listed = await runCli(['models', 'list', '--json'], env);
    const rows = listed.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((r) => [r.version, r.current]).sort(),
      [
        [champion, false],
        [worse.version, true],
      ].sort(),
    );
    const rolled = await runCli(['models', 'rollback'], env);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.equal(await registry.current(), champion, 'rollback restored the previous champion');
  });
});

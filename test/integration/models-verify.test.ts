/**
 * A damaged model is refused by `intentstream models promote` (and rollback): CURRENT stays, the
 * reason names the file. The model comes from a real training run on a generated store.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { ModelVerificationError, createModelRegistry, verifyModelDir } from '../../src/registry/index.js';
import { createTimelineStore } from '../../src/store/index.js';
import { trainOnce } from '../../src/trainer/run.js';
import { runCli } from '../helpers/cli.js';
import { fillStoreFromGenerator } from '../helpers/store.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

describe('corrupt models are refused', () => {
  let modelsDir = '';
  let good = '';

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'models-verify-'));
    const { storeDir } = await fillStoreFromGenerator(dir, {
      seed: 21,
      cookies: 250,
      durationMs: 2 * 86_400_000,
    });
    modelsDir = join(dir, 'models');
    const config = {
      ...loadConfig({ env: {} }),
      trainer: {
        ...tinyTrainerConfig(),
        modelsDir,
        checkpointDir: join(dir, 'checkpoints'),
        backend: 'cpu' as const,
      },
    };
    const outcome = await trainOnce({
      config,
      logger: createMemoryLogger('error'),
      store: createTimelineStore(storeDir),
      registry: createModelRegistry(modelsDir),
      trigger: 'cli',
    });
    assert.equal(outcome.result, 'promoted', outcome.reason);
    good = outcome.version!;
  });

  /** A copy of the trained model under a new version, damaged by `damage(dir)`. */
  function copyAs(version: string, damage: (dir: string) => void = () => {}): string {
    const dir = join(modelsDir, version);
    cpSync(join(modelsDir, good), dir, { recursive: true });
    damage(dir);
    return dir;
  }
  const promote = (version: string) =>
    runCli(['models', 'promote', version], { INTENTSTREAM_TRAINER__MODELS_DIR: modelsDir });
  const current = () => readFileSync(join(modelsDir, 'CURRENT'), 'utf8').trim();

  const damages: { name: string; damage: (dir: string) => void; reason: RegExp }[] = [
    {
      name: 'truncated weights',
      damage: (d) => truncateSync(join(d, 'weights.bin'), 100),
      reason: /weights\.bin .* does not match its checksum/,
    },
    {
      name: 'one flipped bit in the weights',
      damage: (d) => {
        const bytes = readFileSync(join(d, 'weights.bin'));
        bytes[bytes.length >> 1]! ^= 0x04;
        writeFileSync(join(d, 'weights.bin'), bytes);
      },
      reason: /weights\.bin .* does not match its checksum/,
    },
    {
      name: 'garbage topology',
      damage: (d) => writeFileSync(join(d, 'model.json'), '{"modelTopology": '),
      reason: /model\.json .* does not match its checksum/,
    },
    {
      name: 'a damaged file without a checksum list (older model)',
      damage: (d) => {
        writeFileSync(join(d, 'checksums.json'), '{"algorithm":"sha256","files":{}}');
        truncateSync(join(d, 'weights.bin'), 100);
      },
      reason: /does not load/,
    },
  ];

  for (const [i, c] of damages.entries()) {
    it(`models promote refuses ${c.name}; CURRENT stays`, async () => {
      const version = `v-damaged-${i}`;
      const dir = copyAs(version, c.damage);
      await assert.rejects(
        verifyModelDir(dir),
        (e: unknown) => e instanceof ModelVerificationError && c.reason.test(e.message),
      );
      const result = await promote(version);
      assert.notEqual(result.code, 0, 'promote succeeded');
      assert.match(result.stderr, new RegExp(`refused to promote ${version}`));
      assert.equal(current(), good);
    });
  }

  it('an intact copy is promoted (the refusals are about the damage) and a rollback target is verified too', async () => {
    copyAs('v-intact');
    const ok = await promote('v-intact');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(current(), 'v-intact');
    // Damage the previous champion: rolling back to it is refused as well.
    truncateSync(join(modelsDir, good, 'weights.bin'), 10);
    const back = await runCli(['models', 'rollback'], { INTENTSTREAM_TRAINER__MODELS_DIR: modelsDir });
    assert.notEqual(back.code, 0, 'rollback to a damaged model succeeded');
    assert.match(back.stderr, new RegExp(`refused to rollback ${good}`));
    assert.equal(current(), 'v-intact');
  });
});

/**
 * `intentstream train` refuses what would waste a run before any of it: an existing `--out` before the
 * store is read, and a label target no stored event plays (a shop whose purchase event is named
 * otherwise) with MissingTargetError before the first epoch. Real CLI, real file system, no broker.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { SHOP2_EVENT_TYPES, SHOP2_ROLES } from '../../src/generator/index.js';
import { logLines, runCli } from '../helpers/cli.js';
import { fillStoreFromGenerator } from '../helpers/store.js';

describe('intentstream train refuses before any work', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'train-refusals-'));
    const { storeDir } = await fillStoreFromGenerator(dir, {
      seed: 5,
      cookies: 60,
      durationMs: 86_400_000,
      taxonomy: 'shop2',
    });
    const config = join(dir, 'trainer.yaml');
    // YAML reads JSON: a small, fast model config for this shop's store.
    const trainer = {
      modelsDir: join(dir, 'models'),
      checkpointDir: join(dir, 'checkpoints'),
      backend: 'cpu',
      model: { lstmUnits: [4] },
      training: { epochs: 1 },
    };
    writeFileSync(config, JSON.stringify({ trainer }));
    env = { INTENTSTREAM_CONFIG: config, INTENTSTREAM_STORE__DIR: storeDir };
  });

  it('an existing --out: exit 2 naming it, before the store is read or a checkpoint written', async () => {
    const out = join(dir, 'taken');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine\n');
    const r = await runCli(['train', '--out', out], env);
    assert.equal(r.code, 2, r.stderr);
    const error = logLines(r.stderr).find((l) => l['level'] === 'error');
    assert.match(String(error?.['msg']), /--out .*taken already exists/);
    assert.ok(!logLines(r.stderr).some((l) => l['msg'] === 'training started'), 'no training started');
    assert.ok(!existsSync(join(dir, 'checkpoints')), 'no checkpoint written');
    assert.deepEqual(readdirSync(out), ['keep.txt'], 'the directory is left as it was');
  });

  it('a target role no stored event plays: MissingTargetError with the types seen, before the first epoch', async () => {
    // shop2 calls its purchase payment_done; the default roles look for `purchase`.
    const r = await runCli(['train'], env);
    assert.equal(r.code, 1, r.stderr);
    const lines = logLines(r.stderr);
    const error = lines.find((l) => l['level'] === 'error') as { msg: string; error: { name: string } };
    assert.equal(error.error.name, 'MissingTargetError');
    assert.match(error.msg, /label target role 'purchase'/);
    assert.match(error.msg, new RegExp(`${SHOP2_ROLES.purchase[0]} \\d+`), 'names the shop’s own types');
    assert.match(error.msg, /trainer\.roles\.purchase/, 'says how to map one');
    assert.ok(SHOP2_EVENT_TYPES.includes(SHOP2_ROLES.purchase[0]!));
    assert.ok(!lines.some((l) => /epoch/.test(String(l['msg']))), 'no epoch ran');
    assert.ok(!existsSync(join(dir, 'models')), 'no candidate written');
  });
});

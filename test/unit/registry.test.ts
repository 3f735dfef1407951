import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  MODEL_FILES,
  RegistryError,
  createModelRegistry,
  decidePromotion,
} from '../../src/registry/index.js';

async function candidate(base: string, name: string, auc: number): Promise<string> {
  const dir = join(base, 'candidates', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MODEL_FILES.model), '{}');
  await writeFile(join(dir, MODEL_FILES.encoder), '{}');
  await writeFile(join(dir, MODEL_FILES.metrics), JSON.stringify({ test: { rocAuc: auc } }));
  return dir;
}

describe('model registry', () => {
  it('registers, promotes atomically, lists, and rolls back to the previous champion', async () => {
    const base = await mkdtemp(join(tmpdir(), 'registry-'));
    const registry = createModelRegistry(join(base, 'models'));
    assert.equal(await registry.current(), undefined);
    await registry.register(await candidate(base, 'a', 0.8), 'v1');
    await registry.promote('v1', 'first model');
    await registry.register(await candidate(base, 'b', 0.85), 'v2');
    await registry.promote('v2', 'better');
    assert.equal(await registry.current(), 'v2');
    assert.equal((await readFile(join(base, 'models', 'CURRENT'), 'utf8')).trim(), 'v2');
    const list = await registry.list();
    assert.deepEqual(
      list.map((m) => [m.version, m.current, (m.metrics?.test as { rocAuc: number }).rocAuc]),
      [
        ['v1', false, 0.8],
        ['v2', true, 0.85],
      ],
    );
    const back = await registry.rollback();
    assert.equal(back.version, 'v1');
    assert.equal(back.previous, 'v2');
    assert.equal(await registry.current(), 'v1');
    assert.deepEqual(
      (await registry.history()).map((h) => [h.action, h.version]),
      [
        ['promote', 'v1'],
        ['promote', 'v2'],
        ['rollback', 'v1'],
      ],
    );
  });

  it('survives a history append cut short by a crash: the torn line is ignored, the next entry starts a new line', async () => {
    const base = await mkdtemp(join(tmpdir(), 'registry-'));
    const root = join(base, 'models');
    const registry = createModelRegistry(root);
    await registry.register(await candidate(base, 'a', 0.8), 'v1');
    await registry.promote('v1', 'first');
    await registry.register(await candidate(base, 'b', 0.85), 'v2');
    await writeFile(
      join(root, 'HISTORY.jsonl'),
      `${await readFile(join(root, 'HISTORY.jsonl'), 'utf8')}{"at":"2026-`,
      {
        flag: 'w',
      },
    );
    assert.deepEqual(
      (await registry.history()).map((h) => h.version),
      ['v1'],
    );
    await registry.promote('v2', 'after the crash');
    assert.deepEqual(
      (await registry.history()).map((h) => h.version),
      ['v1', 'v2'],
    );
    assert.equal((await registry.rollback()).version, 'v1');
  });

  it('refuses incomplete models, bad versions, and rollback without a predecessor', async () => {
    const base = await mkdtemp(join(tmpdir(), 'registry-'));
    const registry = createModelRegistry(join(base, 'models'));
    await assert.rejects(registry.rollback(), RegistryError);
    const dir = await candidate(base, 'a', 0.7);
    await registry.register(dir, 'v1');
    await registry.promote('v1');
    await assert.rejects(registry.rollback(), /no recorded predecessor/);
    await mkdir(join(base, 'models', 'broken'));
    await assert.rejects(registry.promote('broken'), /incomplete: model\.json is missing/);
    assert.equal(await registry.current(), 'v1', 'a refused promotion leaves CURRENT untouched');
    assert.throws(() => registry.dirOf('../etc'), /invalid model version/);
  });
});

describe('promotion decision', () => {
  const cases: [string, number, number | undefined, number, boolean][] = [
    ['no champion', 0.6, undefined, 0.01, true],
    ['clearly better', 0.85, 0.8, 0.01, true],
    ['better by exactly the margin', 0.81, 0.8, 0.01, true],
    ['better but within the margin', 0.805, 0.8, 0.01, false],
    ['worse', 0.75, 0.8, 0.0, false],
    ['NaN candidate', Number.NaN, 0.8, 0.0, false],
  ];
  for (const [name, cand, champ, margin, expected] of cases) {
    it(name, () => assert.equal(decidePromotion(cand, champ, margin).promote, expected));
  }
});

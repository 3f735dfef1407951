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
import { writeCandidateFiles } from '../helpers/models.js';

const candidate = writeCandidateFiles;

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

  it('fills in a switch a crash left unrecorded (CURRENT written, history entry not): one chain, rollback works', async () => {
    const base = await mkdtemp(join(tmpdir(), 'registry-'));
    const root = join(base, 'models');
    const registry = createModelRegistry(root);
    for (const [name, version] of [
      ['a', 'v1'],
      ['b', 'v2'],
      ['c', 'v3'],
    ] as const)
      await registry.register(await candidate(base, name, 0.8), version);
    await registry.promote('v1', 'first');
    // What a process SIGKILLed right after switching CURRENT to v2 leaves behind.
    await writeFile(join(root, 'CURRENT'), 'v2\n');
    const chain = (entries: { action: string; version: string; previous: string | null }[]) =>
      entries.map((h) => [h.action, h.version, h.previous]);
    assert.deepEqual(chain(await registry.history()), [
      ['promote', 'v1', null],
      ['promote', 'v2', 'v1'],
    ]);
    assert.match((await registry.history()).at(-1)!.reason, /unrecorded/);
    await registry.promote('v3', 'after the crash');
    assert.deepEqual(chain(await registry.history()), [
      ['promote', 'v1', null],
      ['promote', 'v2', 'v1'],
      ['promote', 'v3', 'v2'],
    ]);
    assert.equal((await registry.rollback()).version, 'v2');
    assert.equal((await registry.rollback()).version, 'v3', 'a second rollback undoes the first');
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

describe('model registry by hand: candidates and errors that say what to do', () => {
  it('lists a candidate, refuses to promote it before it is registered, registers it by version and promotes it', async () => {
    const root = join(await mkdtemp(join(tmpdir(), 'registry-')), 'models');
    const registry = createModelRegistry(root);
    const dir = await candidate(root, 'v7', 0.75);
    assert.deepEqual(
      (await registry.listCandidates()).map((m) => [m.version, m.dir]),
      [['v7', dir]],
    );
    assert.deepEqual(await registry.list(), [], 'candidates/ is not a registered model');
    await assert.rejects(registry.promote('v7'), (e: Error) => {
      assert.ok(e instanceof RegistryError);
      assert.ok(e.message.includes(`it is a candidate in ${dir}`), e.message);
      assert.ok(e.message.includes('`intentstream models register v7`'), e.message);
      return true;
    });
    assert.deepEqual(await registry.registerCandidate('v7'), { version: 'v7', dir: join(root, 'v7') });
    assert.deepEqual(await registry.listCandidates(), []);
    await registry.promote('v7');
    assert.equal(await registry.current(), 'v7');
    await assert.rejects(
      registry.registerCandidate('v7'),
      /no candidate v7: .*`intentstream models list` shows the candidates/,
    );
  });

  it('registers a candidate directory under the version its manifest names', async () => {
    const base = await mkdtemp(join(tmpdir(), 'registry-'));
    const registry = createModelRegistry(join(base, 'models'));
    const dir = await candidate(base, 'out', 0.7);
    await writeFile(join(dir, MODEL_FILES.manifest), JSON.stringify({ version: 'v20260101000000-abcdef0' }));
    assert.equal((await registry.registerCandidate(dir)).version, 'v20260101000000-abcdef0');
    assert.equal(
      (await registry.describe('v20260101000000-abcdef0')).manifest?.version,
      'v20260101000000-abcdef0',
    );
  });

  it('names where the model is and the command that fixes it', async () => {
    const base = await mkdtemp(join(tmpdir(), 'registry-'));
    const root = join(base, 'models');
    const registry = createModelRegistry(root);
    await assert.rejects(
      registry.rollback(),
      new RegExp(`no CURRENT model in ${root}; .*\`intentstream models promote <version>\``),
    );
    await assert.rejects(
      registry.promote('v9'),
      new RegExp(`no model v9 in ${root}: \`intentstream models list\``),
    );
    const half = join(base, 'half');
    await mkdir(half);
    await writeFile(join(half, MODEL_FILES.model), '{}');
    await assert.rejects(
      registry.register(half, 'v1'),
      new RegExp(`${half} is not a complete model: encoder.json is missing; .*\`intentstream train\``),
    );
    await registry.register(await candidate(base, 'a', 0.7), 'v1');
    await assert.rejects(
      registry.register(await candidate(base, 'b', 0.7), 'v1'),
      new RegExp(`already registered in ${join(root, 'v1')}; .*\`intentstream models promote v1\``),
    );
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

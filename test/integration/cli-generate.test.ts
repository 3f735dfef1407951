import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { logLines, runCli } from '../helpers/cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('intentstream generate (real process, file output)', () => {
  it('--seed 7 twice gives identical NDJSON bytes on stdout; --seed 8 differs', async () => {
    const args = ['generate', '--events', '3000', '--out', '-', '--log-level', 'warn'];
    const [a, b, c] = await Promise.all([
      runCli([...args, '--seed', '7']),
      runCli([...args, '--seed', '7']),
      runCli([...args, '--seed', '8']),
    ]);
    for (const r of [a, b, c]) assert.equal(r.code, 0, r.stderr);
    assert.equal(a.stdout.toString().trim().split('\n').length, 3000);
    assert.equal(sha(a.stdout), sha(b.stdout));
    assert.notEqual(sha(a.stdout), sha(c.stdout));
  });

  it('--seed 7 twice gives identical Avro container files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-'));
    const files = [join(dir, 'a.avro'), join(dir, 'b.avro')];
    for (const f of files) {
      const r = await runCli(['generate', '--seed', '7', '--events', '2000', '--out', f]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(logLines(r.stderr).some((l) => l.msg === 'generate finished' && l.count === 2000));
    }
    const [x, y] = files.map((f) => readFileSync(f));
    assert.ok(x!.length > 10_000);
    assert.equal(x!.subarray(0, 4).toString('latin1'), 'Obj\u0001');
    assert.equal(sha(x!), sha(y!));
  });

  it('writes the oracle of every generated session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-'));
    const oracle = join(dir, 'oracle.ndjson');
    const r = await runCli([
      'generate',
      '--seed',
      '2',
      '--events',
      '2000',
      '--out',
      join(dir, 'e.ndjson'),
      '--oracle',
      oracle,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sessions = readFileSync(oracle, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(sessions.length > 50);
    for (const s of sessions) {
      assert.ok(s.purchaseProbability >= 0 && s.purchaseProbability <= 1);
      assert.equal(typeof s.purchased, 'boolean');
    }
  });

  it("--taxonomy shop2 writes the shop's own names and a session_id column; an unknown one is refused", async () => {
    const r = await runCli([
      'generate',
      '--taxonomy',
      'shop2',
      '--events',
      '500',
      '--out',
      '-',
      '--log-level',
      'warn',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 500);
    assert.ok(
      rows.every((e) => typeof e.session_id === 'string' && e.session_id.startsWith(`${e.cookie_id}#`)),
    );
    assert.ok(rows.some((e) => e.event_type === 'product_page'));
    assert.ok(!rows.some((e) => e.event_type === 'product_view'));
    const bad = await runCli(['generate', '--taxonomy', 'shop3', '--out', '-']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--taxonomy must be one of ours, shop2, got shop3/);
  });

  it('rejects a bad option with a precise message and exit 1', async () => {
    const r = await runCli(['generate', '--encoding', 'xml', '--out', '-']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--encoding must be avro or json, got xml/);
  });

  it('fails at start-up naming an invalid config field (exit 2)', async () => {
    const r = await runCli(['generate', '--out', '-', '--events', '1'], {
      INTENTSTREAM_SESSIONS__MAX_EVENTS: 'many',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sessions\.maxEvents/);
    assert.match(r.stderr, /INTENTSTREAM_SESSIONS__MAX_EVENTS/);
  });
});

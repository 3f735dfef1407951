/**
 * `intentstream import` as a real process: the summary on stdout, the rejects file, the exit codes
 * and the flag checks that run before anything is written.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ImportSummary } from '../../src/ingest/import.js';
import { logLines, runCli } from '../helpers/cli.js';
import { T0S, tempDir, writeInput } from '../helpers/input-files.js';
import { storedSessions } from '../helpers/reference.js';

describe('intentstream import (real process)', () => {
  it('prints the summary on stdout, writes the rejects file, and exits 1 over --max-rejects-ratio after importing', async () => {
    const dir = tempDir();
    const file = writeInput(
      dir,
      'cli.csv',
      ['user,action,ts', `u1,view,${T0S}`, `u1,cart,${T0S + 60}`, `,view,${T0S + 90}`].join('\n'),
    );
    const store = join(dir, 'store');
    const rejectsFile = join(dir, 'rejects.ndjson');
    const args = [
      'import',
      file,
      '--map',
      'cookie_id=user,event_type=action,event_time=ts',
      '--event-type-map',
      'page_view=view,add_to_cart=cart',
      '--store',
      store,
      '--rejects',
      rejectsFile,
    ];
    const ok = await runCli([...args, '--max-rejects-ratio', '0.5']);
    assert.equal(ok.code, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout.toString()) as ImportSummary & { rejectsFile: string };
    assert.equal(summary.rows, 3);
    assert.equal(summary.accepted, 2);
    assert.deepEqual(summary.rejectedByReason, { missing_field: 1 });
    assert.equal(summary.sessions, 1);
    assert.equal(summary.rejectsFile, rejectsFile);
    const rejected = readFileSync(rejectsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rejected.map((r) => [r.line, r.reason, r.field, r.raw]),
      [[4, 'missing_field', 'cookie_id', `,view,${T0S + 90}`]],
    );
    assert.ok(
      logLines(ok.stderr).some((l) => l.msg === 'import finished' && l.count === 3),
      ok.stderr,
    );

    const over = await runCli(args); // default --max-rejects-ratio 0.1
    assert.equal(over.code, 1, over.stderr);
    assert.equal(JSON.parse(over.stdout.toString()).ok, false);
    assert.ok(
      logLines(over.stderr).some(
        (l) => l.level === 'error' && /more than --max-rejects-ratio 0.1/.test(String(l.msg)),
      ),
      over.stderr,
    );
    const sessions = await storedSessions(store);
    assert.equal(sessions.length, 1, 'the valid rows are imported, once');
    assert.deepEqual(
      sessions[0]!.events.map((e) => e.event_type),
      ['page_view', 'add_to_cart'],
    );

    const bad = await runCli(['import', join(dir, 'missing.csv'), '--store', store]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot read .*missing\.csv/);
  });

  it('refuses a reversed --event-type-map and a --store that is a file, naming the flag, before writing', async () => {
    const dir = tempDir();
    const file = writeInput(dir, 'shop.csv', ['user,action,ts', `u1,view,${T0S}`].join('\n'));
    const store = join(dir, 'store');
    const base = ['import', file, '--map', 'cookie_id=user,event_type=action,event_time=ts'];
    const reversed = await runCli([...base, '--event-type-map', 'view=page_view', '--store', store]);
    assert.equal(reversed.code, 1);
    assert.match(reversed.stderr, /looks reversed; write page_view=view \(--event-type-map\)/);
    assert.equal(existsSync(store), false);
    const notDir = await runCli([...base, '--store', file]);
    assert.equal(notDir.code, 1);
    assert.match(notDir.stderr, /--store .*shop\.csv is not a directory/);
  });
});

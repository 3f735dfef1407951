/** The real trainer process: how its HTTP server guards POST /train, and a token file it cannot read. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/kafka.js';

describe('the trainer process guards POST /train', () => {
  async function trainerAt(env: NodeJS.ProcessEnv) {
    const dir = mkdtempSync(join(tmpdir(), 'trainer-http-'));
    const child = spawnCli(['trainer', '--port', '0'], {
      INTENTSTREAM_STORE__DIR: join(dir, 'store'),
      INTENTSTREAM_TRAINER__MODELS_DIR: join(dir, 'models'),
      INTENTSTREAM_TRAINER__CHECKPOINT_DIR: join(dir, 'checkpoints'),
      ...env,
    });
    child.stdout!.resume();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const url = await waitFor(() => /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1], {
      what: 'trainer http url',
      timeoutMs: 30_000,
    });
    const stop = async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
      return stderr;
    };
    return { url, stop };
  }
  const post = async (url: string, authorization?: string) =>
    (await fetch(`${url}/train`, { method: 'POST', headers: authorization ? { authorization } : {} })).status;

  it('bound to all interfaces without a token: 403 and a start-up warning; with a token: 401 unless it is sent', async () => {
    const open = await trainerAt({ INTENTSTREAM_HTTP__HOST: '0.0.0.0' });
    let log = '';
    try {
      assert.equal(await post(open.url), 403);
    } finally {
      log = await open.stop();
    }
    assert.match(log, /POST \/train is disabled/);

    const token = 'tok-7f3a9c';
    const guarded = await trainerAt({ INTENTSTREAM_HTTP__HOST: '0.0.0.0', INTENTSTREAM_HTTP__TOKEN: token });
    try {
      assert.equal(await post(guarded.url), 401);
      assert.equal(await post(guarded.url, 'Bearer nope'), 401);
      assert.equal(await post(guarded.url, `Bearer ${token}`), 202);
      const metrics = await (await fetch(`${guarded.url}/metrics`)).text();
      assert.ok(!metrics.includes(token), 'the token appears in /metrics');
    } finally {
      log = await guarded.stop();
    }
    assert.ok(!log.includes(token), 'the token appears in the log');
  });

  it('a token file that cannot be read fails start-up with exit 2 naming http.tokenFile', async () => {
    const result = await runCli(['trainer', '--port', '0'], {
      INTENTSTREAM_HTTP__TOKEN_FILE: '/nonexistent/intentstream-token',
      INTENTSTREAM_TRAINER__MODELS_DIR: mkdtempSync(join(tmpdir(), 'trainer-http-')),
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /http\.tokenFile: cannot read \/nonexistent\/intentstream-token \(ENOENT\)/);
  });
});

/** The committed Prometheus config and alert rules, checked by the real promtool binary. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

describe('operations config', () => {
  it('promtool accepts config/prometheus.yml and config/alerts.yml', async () => {
    const config = await run('promtool', ['check', 'config', 'prometheus.yml'], {
      cwd: `${REPO_ROOT}config`,
    });
    assert.match(config.stdout + config.stderr, /SUCCESS/);
    const rules = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: `${REPO_ROOT}config` });
    assert.match(rules.stdout + rules.stderr, /SUCCESS: \d+ rules found/);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DASHBOARDS, toGrafana } from '../../src/ops/dashboards.js';
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

  it('committed Grafana dashboards equal the ones generated from the metric-name constants', () => {
    for (const spec of DASHBOARDS) {
      const committed = JSON.parse(
        readFileSync(`${REPO_ROOT}config/grafana/dashboards/${spec.uid}.json`, 'utf8'),
      );
      assert.deepEqual(
        committed,
        toGrafana(spec),
        `${spec.uid}.json is stale: run \`intentstream ops dashboards\``,
      );
    }
  });
});

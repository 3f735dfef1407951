import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DASHBOARDS, toGrafana } from '../../src/ops/dashboards.js';
import { REPO_ROOT } from '../helpers/cli.js';

describe('operations config', () => {
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

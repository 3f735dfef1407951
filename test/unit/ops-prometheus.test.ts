import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { SCORER_METRICS } from '../../src/metrics/scorer-metrics.js';
import { FIRST_LOOK_QUERIES, graphLinks, localPrometheusConfig } from '../../src/ops/prometheus.js';

const CONFIG_DIR = join(import.meta.dirname, '../../config');
const template = readFileSync(join(CONFIG_DIR, 'prometheus.yml'), 'utf8');
const targets = { ingest: '127.0.0.1:1', scorer: '127.0.0.1:2', trainer: '127.0.0.1:3' };

describe('local Prometheus config', () => {
  it('points each job at its process and resolves rule files against the template, changing nothing else', () => {
    const out = YAML.parse(localPrometheusConfig({ template, configDir: CONFIG_DIR, targets }));
    const original = YAML.parse(template);
    const byJob = Object.fromEntries(
      out.scrape_configs.map((j: { job_name: string; static_configs: { targets: string[] }[] }) => [
        j.job_name,
        j.static_configs.flatMap((s) => s.targets),
      ]),
    );
    assert.deepEqual(byJob, {
      'intentstream-ingest': ['127.0.0.1:1'],
      'intentstream-scorer': ['127.0.0.1:2'],
      'intentstream-trainer': ['127.0.0.1:3'],
    });
    assert.deepEqual(out.rule_files, [join(CONFIG_DIR, 'alerts.yml')]);
    assert.deepEqual(out.global, original.global);
  });

  it('overrides the intervals when asked', () => {
    const out = YAML.parse(
      localPrometheusConfig({ template, configDir: CONFIG_DIR, targets, scrapeInterval: '1s' }),
    );
    assert.equal(out.global.scrape_interval, '1s');
    assert.equal(out.global.evaluation_interval, '1s');
  });

  it('refuses a template whose jobs are not the three services, naming what it found', () => {
    const edited = template.replace('intentstream-trainer', 'my-trainer');
    assert.throws(
      () => localPrometheusConfig({ template: edited, configDir: CONFIG_DIR, targets }),
      /must scrape exactly the jobs intentstream-ingest, intentstream-scorer, intentstream-trainer \(found: intentstream-ingest, intentstream-scorer, my-trainer\)/,
    );
  });

  it('graph links carry each query URL-encoded', () => {
    const links = graphLinks('http://127.0.0.1:9090/');
    assert.equal(links.length, FIRST_LOOK_QUERIES.length);
    const predictions = links.find((l) => l.expr.includes(SCORER_METRICS.predictions))!;
    const url = new URL(predictions.url);
    assert.equal(url.origin + url.pathname, 'http://127.0.0.1:9090/graph');
    assert.equal(url.searchParams.get('g0.expr'), predictions.expr);
  });
});

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { SCORER_METRICS } from '../../src/metrics/scorer-metrics.js';
import { TRAINER_METRICS } from '../../src/metrics/trainer-metrics.js';
import { DASHBOARDS } from '../../src/ops/dashboards.js';
import { JOB_PROCESS, type ScrapedProcess, localPrometheusConfig } from '../../src/ops/prometheus.js';
import { REPO_ROOT, type RunningService, runCli, startService } from '../helpers/cli.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.js';
import { sample } from '../helpers/metrics.js';
import { tinyTrainerConfig } from '../helpers/trainer.js';

const CONFIG_DIR = join(REPO_ROOT, 'config');
const DASHBOARD_DIR = join(CONFIG_DIR, 'grafana', 'dashboards');
/** Test scrape interval; Grafana's $__rate_interval is at least 4 of them. */
const SCRAPE = '1s';
/** What Grafana would put for its built-in variables with a 1s-scrape datasource. */
const GRAFANA_VARIABLES: Record<string, string> = {
  $__rate_interval: '10s',
  $__interval: '2s',
  $__range: '5m',
};
interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function substituteVariables(expr: string): string {
  return expr.replace(/\$__\w+/g, (name) => {
    const value = GRAFANA_VARIABLES[name];
    assert.ok(
      value !== undefined,
      `dashboard query uses Grafana variable ${name} that the test does not know`,
    );
    return value;
  });
}

/** Panel target expressions of every dashboard JSON file, as Grafana would send them. */
function dashboardQueries(): { dashboard: string; panel: string; expr: string }[] {
  const out: { dashboard: string; panel: string; expr: string }[] = [];
  for (const file of readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as {
      uid: string;
      panels: { title: string; targets?: { expr?: string }[] }[];
    };
    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? []) {
        assert.ok(target.expr, `${file} panel "${panel.title}" has a target without expr`);
        out.push({ dashboard: dashboard.uid, panel: panel.title, expr: target.expr });
      }
  }
  return out;
}

/** config/prometheus.yml with only the scrape targets (and intervals) changed, as `ops prometheus-config` writes it. */
function prometheusConfigFor(targets: Record<ScrapedProcess, string>): string {
  return localPrometheusConfig({
    template: readFileSync(join(CONFIG_DIR, 'prometheus.yml'), 'utf8'),
    configDir: CONFIG_DIR,
    targets,
    scrapeInterval: SCRAPE,
  });
}

describe('operations end to end', () => {
  it(
    'Prometheus scrapes ingest, scorer and trainer via config/prometheus.yml; every dashboard query evaluates and the main panels show data',
    {
      timeout: 240_000,
    },
    async (t) => {
      const kafka = testKafka();
      const base = uniqueName('ops-e2e');
      const topics = { events: base, predictions: `${base}.predictions`, deadLetter: `${base}.dlq` };
      for (const topic of Object.values(topics)) await createTopic(kafka, topic, 2);
      const dir = mkdtempSync(join(tmpdir(), 'ops-e2e-'));
      const models = join(dir, 'models');
      // The trainer trains its first model once the store holds 300 sessions (checked every 500 ms).
      const config = {
        topics: { ...topics, partitions: 2 },
        kafka: { sessionTimeout: '6s' },
        store: { dir: join(dir, 'timelines') },
        ingest: {
          groupId: `${base}-ingest`,
          checkpointDir: join(dir, 'checkpoints'),
          flushInterval: '500ms',
        },
        scorer: { groupId: `${base}-scorer`, modelDir: models, reloadInterval: '200ms', emit: 'every' },
        http: { host: '127.0.0.1', ports: { ingest: 0, scorer: 0, trainer: 0 } },
        trainer: {
          ...tinyTrainerConfig({ training: { epochs: 1 } }),
          modelsDir: models,
          checkpointDir: join(dir, 'trainer-checkpoints'),
          backend: 'wasm',
          firstModel: { minSessions: 300, checkInterval: 500 },
        },
      };
      const configFile = join(dir, 'intentstream.yaml');
      writeFileSync(configFile, YAML.stringify(config));

      const services: Partial<Record<'ingest' | 'scorer' | 'trainer', RunningService>> = {};
      let prometheus: ChildProcess | undefined;
      let promLog = '';
      let generator: ReturnType<typeof runCli> | undefined;
      try {
        const [ingest, scorer, trainer] = await Promise.all([
          startService(['ingest', '--config', configFile]),
          startService(['score', '--config', configFile]),
          startService(['trainer', '--config', configFile]),
        ]);
        Object.assign(services, { ingest, scorer, trainer });
        // No model yet (no events, no sessions): the scorer is alive but not ready, and says why.
        const notReady = await fetch(`${scorer.url}/readyz`);
        const notReadyBody = (await notReady.json()) as { failing: string[] };
        assert.equal(notReady.status, 503, 'scorer not ready without a model');
        assert.ok(notReadyBody.failing.includes('model_loaded'), `failing: ${notReadyBody.failing}`);
        assert.equal((await fetch(`${scorer.url}/healthz`)).status, 200, 'but alive');

        const promPort = await freePort();
        const promConfig = join(dir, 'prometheus.yml');
        writeFileSync(
          promConfig,
          prometheusConfigFor(
            Object.fromEntries(Object.entries(services).map(([k, s]) => [k, new URL(s.url).host])) as Record<
              ScrapedProcess,
              string
            >,
          ),
        );
        prometheus = spawn(
          'prometheus',
          [
            `--config.file=${promConfig}`,
            `--storage.tsdb.path=${join(dir, 'tsdb')}`,
            `--web.listen-address=127.0.0.1:${promPort}`,
            '--log.level=warn',
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        prometheus.stderr!.setEncoding('utf8').on('data', (d: string) => {
          promLog += d;
        });
        const prom = `http://127.0.0.1:${promPort}`;
        const api = async <T>(path: string): Promise<PromResponse<T>> =>
          (await fetch(`${prom}${path}`)).json() as Promise<PromResponse<T>>;
        const query = (expr: string) =>
          api<{ resultType: string; result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);

        // Traffic: 300 cookies over half a day of event time, capped at 1500 events/s so it is still
        // flowing while Prometheus scrapes; sessions close in event time, the store fills.
        generator = runCli([
          'generate',
          '--config',
          configFile,
          '--seed',
          '11',
          '--cookies',
          '300',
          '--duration',
          '12h',
          '--rate',
          '1500',
          '--malformed-rate',
          '0.002',
          '--log-level',
          'warn',
        ]);

        await waitFor(async () => (await fetch(`${prom}/-/ready`)).ok, {
          timeoutMs: 30_000,
          what: 'Prometheus ready',
        });
        const targets = await waitFor(
          async () => {
            const r = await api<{
              activeTargets: { labels: { job: string }; health: string; lastError: string }[];
            }>('/api/v1/targets');
            const active = r.data.activeTargets;
            return active.length === 3 && active.every((a) => a.health === 'up') ? active : undefined;
          },
          { timeoutMs: 30_000, what: 'all three scrape targets up' },
        );
        assert.deepEqual(targets.map((a) => a.labels.job).sort(), Object.keys(JOB_PROCESS).sort());

        // The trainer's first model (tiny LSTM) is promoted, the scorer loads what the trainer wrote.
        const version = await waitFor(
          async () => {
            const text = await (await fetch(`${trainer.url}/metrics`)).text();
            const failed = sample(text, TRAINER_METRICS.runs, 'result="failed"');
            assert.ok(!failed, `a training run failed: ${trainer.stderr().slice(-3000)}`);
            return readFileSync(join(models, 'CURRENT'), 'utf8').trim() || undefined;
          },
          { timeoutMs: 120_000, intervalMs: 500, what: 'the first model to be promoted' },
        );
        await waitFor(
          async () => {
            const text = await (await fetch(`${scorer.url}/metrics`)).text();
            return (
              sample(text, SCORER_METRICS.modelInfo, `version="${version}"`) === 1 &&
              (sample(text, SCORER_METRICS.predictions) ?? 0) > 0
            );
          },
          { timeoutMs: 60_000, intervalMs: 250, what: `the scorer to serve ${version} and emit predictions` },
        );
        for (const [name, s] of Object.entries(services)) {
          const ready = await fetch(`${s.url}/readyz`);
          assert.equal(ready.status, 200, `${name} /readyz: ${await ready.text()}`);
        }

        // Every panel query of every dashboard evaluates without error.
        const queries = dashboardQueries();
        assert.ok(queries.length >= 20, `dashboards hold ${queries.length} queries`);
        for (const q of queries) {
          const r = await query(substituteVariables(q.expr));
          assert.equal(r.status, 'success', `${q.dashboard} / ${q.panel}: ${q.expr}: ${r.error}`);
        }

        // The main panels of the pipeline, scoring and model dashboards return data.
        const main = DASHBOARDS.flatMap((d) =>
          d.panels
            .filter((p) => p.main)
            .map((p) => ({ dashboard: d.uid, panel: p.title, queries: p.queries })),
        );
        assert.deepEqual(
          [...new Set(main.map((m) => m.dashboard))].sort(),
          ['intentstream-model', 'intentstream-pipeline', 'intentstream-scoring'],
          'each dashboard has main panels',
        );
        for (const panel of main) {
          const first = panel.queries[0]!;
          const result = await waitFor(
            async () => {
              const r = await query(substituteVariables(first.expr));
              return r.data.result.length > 0 ? r.data.result : undefined;
            },
            {
              timeoutMs: 30_000,
              intervalMs: 500,
              what: `data in ${panel.dashboard} / ${panel.panel} (${first.expr})`,
            },
          );
          t.diagnostic(
            `${panel.dashboard} / ${panel.panel}: ${result.map((s) => `${JSON.stringify(s.metric)}=${s.value[1]}`).join(' ')}`,
          );
        }
        // The figures behind them are real: events and predictions flowed, the served version is the trainer's.
        const served = await query(`max by (version) (${SCORER_METRICS.modelInfo})`);
        assert.deepEqual(
          served.data.result.map((s) => s.metric.version),
          [version],
          'the scoring dashboard shows the promoted version',
        );
        await waitFor(
          async () =>
            (
              await query(
                `sum(${SCORER_METRICS.predictions}) > 0 and sum(${TRAINER_METRICS.championAuc}) > 0`,
              )
            ).data.result.length > 0,
          { timeoutMs: 30_000, intervalMs: 500, what: 'Prometheus to hold predictions and the champion AUC' },
        );

        // The repo's alert rules are loaded and evaluate without errors.
        const alertsYaml = YAML.parse(readFileSync(join(CONFIG_DIR, 'alerts.yml'), 'utf8')) as {
          groups: { rules: unknown[] }[];
        };
        const ruleCount = alertsYaml.groups.reduce((n, g) => n + g.rules.length, 0);
        const rules = await waitFor(
          async () => {
            const r = await api<{
              groups: { rules: { name: string; health: string; lastError?: string }[] }[];
            }>('/api/v1/rules');
            const all = r.data.groups.flatMap((g) => g.rules);
            return all.length === ruleCount && all.every((x) => x.health !== 'unknown') ? all : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 500, what: `all ${ruleCount} alert rules evaluated` },
        );
        for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
        const generated = await generator;
        assert.equal(generated.code, 0, generated.stderr);
      } finally {
        generator?.catch(() => undefined);
        const codes = await Promise.all(
          Object.entries(services).map(async ([name, s]) => [name, await s.stop(), s] as const),
        );
        if (prometheus && prometheus.exitCode === null) {
          prometheus.kill('SIGTERM');
          await once(prometheus, 'exit');
        }
        for (const [name, code, s] of codes)
          assert.equal(code, 0, `${name} drained and exited 0: ${s.stderr().slice(-2000)}`);
        t.diagnostic(`prometheus log tail: ${promLog.slice(-500)}`);
      }
    },
  );
});

import { mkdir, writeFile } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DASHBOARDS, toGrafana } from '../ops/dashboards.js';
import { type ScrapedProcess, graphLinks, localPrometheusConfig } from '../ops/prometheus.js';
import {
  type ProcessName,
  type RenderOptions,
  SUMMARY_PROCESSES,
  type Snapshot,
  parseExposition,
  renderLine,
  renderScreen,
  summarize,
} from '../ops/summary.js';
import { parseDuration } from '../util/duration.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { action, contextFrom } from './context.js';

interface SummaryFlags {
  interval?: string;
  for?: string;
  logs?: string;
  notes?: string;
}

export const DEFAULT_DASHBOARD_DIR = 'config/grafana/dashboards';

/** `intentstream ops dashboards`: regenerates the Grafana dashboards from the metric-name constants. */
export function registerOps(program: Command): void {
  const ops = program.command('ops').description('operations helpers');
  ops
    .command('dashboards')
    .description('write the Grafana dashboards (built from the exported metric names) as JSON files')
    .option('--out <dir>', 'output directory', DEFAULT_DASHBOARD_DIR)
    .action(
      action(async (opts: { out: string }) => {
        await mkdir(opts.out, { recursive: true });
        for (const spec of DASHBOARDS) {
          const file = join(opts.out, `${spec.uid}.json`);
          await writeFile(file, `${JSON.stringify(toGrafana(spec), null, 2)}\n`);
          process.stdout.write(`${file}\n`);
        }
      }),
    );
  ops
    .command('prometheus-config')
    .description(
      'write config/prometheus.yml with its scrape targets pointed at this machine (http.host and http.ports), to run Prometheus without Docker',
    )
    .requiredOption('--out <file>', 'where to write the Prometheus config')
    .option('--template <file>', 'the scrape config to start from', 'config/prometheus.yml')
    .option('--scrape-interval <duration>', "scrape and rule evaluation interval (default: the template's)")
    .action(
      action(async (opts: { out: string; template: string; scrapeInterval?: string }, cmd: Command) => {
        const { config } = contextFrom(cmd, 'ops');
        const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
        const targets = Object.fromEntries(
          (['ingest', 'scorer', 'trainer'] as const).map((p) => [p, `${host}:${config.http.ports[p]}`]),
        ) as Record<ScrapedProcess, string>;
        const template = resolve(opts.template);
        await writeFile(
          opts.out,
          localPrometheusConfig({
            template: await readFile(template, 'utf8'),
            configDir: dirname(template),
            targets,
            ...(opts.scrapeInterval !== undefined ? { scrapeInterval: opts.scrapeInterval } : {}),
          }),
        );
        process.stdout.write(`${opts.out}\n`);
      }),
    );
  ops
    .command('graph-links')
    .description(
      "print Prometheus graph links for events/s, predictions/s, the scorer's p99 latency and consumer lag",
    )
    .option('--prometheus <url>', 'Prometheus base URL', 'http://127.0.0.1:9090')
    .action(
      action(async (opts: { prometheus: string }) => {
        process.stdout.write(
          graphLinks(opts.prometheus)
            .map((l) => `${l.name}: ${l.url}\n`)
            .join(''),
        );
      }),
    );
  ops
    .command('summary')
    .description(
      'live one-screen summary of ingest, scorer and trainer from their /metrics (redrawn on a terminal, a line per interval otherwise)',
    )
    .option('--interval <duration>', 'refresh interval (default 2s on a terminal, 10s otherwise)')
    .option('--for <duration>', 'stop after this long (default: until Ctrl-C)')
    .option('--logs <dir>', 'where the processes write their logs (shown on the screen)')
    .option('--notes <file>', 'a text file shown under the screen (e.g. how to try the running system)')
    .action(
      action(async (opts: SummaryFlags, cmd: Command) => {
        const { config, logger } = contextFrom(cmd, 'summary');
        const tty = process.stdout.isTTY === true;
        const intervalMs = parseDuration(opts.interval ?? (tty ? '2s' : '10s'));
        const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
        const urls = Object.fromEntries(
          SUMMARY_PROCESSES.map((p) => [p, `http://${host}:${config.http.ports[p]}`]),
        ) as Record<ProcessName, string>;
        const startedAt = Date.now();
        const render: RenderOptions = {
          urls,
          minSessions: config.trainer.firstModel.minSessions,
          startedAt,
          ...(opts.logs ? { logsDir: opts.logs } : {}),
          ...(opts.notes ? { notes: (await readFile(opts.notes, 'utf8')).trimEnd().split('\n') } : {}),
        };
        const until = opts.for ? startedAt + parseDuration(opts.for) : Number.POSITIVE_INFINITY;
        let stop = false;
        let wake: (() => void) | undefined;
        onShutdownSignal(logger, async () => {
          stop = true;
          wake?.();
        });
        const scrape = async (): Promise<Snapshot> => {
          const metrics: Snapshot['metrics'] = {};
          await Promise.all(
            SUMMARY_PROCESSES.map(async (p) => {
              try {
                const res = await fetch(`${urls[p]}/metrics`, { signal: AbortSignal.timeout(1_500) });
                if (res.ok) metrics[p] = parseExposition(await res.text());
              } catch {
                // not up (yet): shown as such
              }
            }),
          );
          return { at: Date.now(), metrics };
        };
        if (!tty)
          process.stdout.write(
            `[summary] /metrics: ${SUMMARY_PROCESSES.map((p) => `${p} ${urls[p]}/metrics`).join(', ')}\n`,
          );
        let prev: Snapshot | undefined;
        while (!stop && Date.now() < until) {
          const cur = await scrape();
          const view = summarize(prev, cur);
          if (tty) process.stdout.write(`\x1b[H\x1b[2J${renderScreen(view, cur, render).join('\n')}\n`);
          else if (prev) process.stdout.write(`[summary] ${renderLine(view, render)}\n`);
          prev = cur;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(intervalMs, Math.max(0, until - Date.now())));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      }),
    );
}

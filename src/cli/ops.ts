import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DASHBOARDS, toGrafana } from '../ops/dashboards.js';
import { action } from './context.js';

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
}

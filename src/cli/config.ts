import type { Command } from 'commander';
import { listEnvVariables, redactSecrets } from '../config/index.js';
import { action, contextFrom } from './context.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('show, check and document the configuration');
  config
    .command('show')
    .description(
      'print the effective configuration (defaults + --config file + environment) as JSON, secrets redacted',
    )
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config: effective } = contextFrom(cmd, 'config');
        process.stdout.write(`${JSON.stringify(redactSecrets(effective), null, 2)}\n`);
      }),
    );
  config
    .command('check')
    .description('validate the configuration; exit 2 naming each invalid field')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        contextFrom(cmd, 'config');
        process.stdout.write('configuration is valid\n');
      }),
    );
  config
    .command('env')
    .description('list the environment variables that override configuration fields')
    .action(
      action(async () => {
        for (const v of listEnvVariables()) process.stdout.write(`${v.name}\t${v.path}\n`);
      }),
    );
}

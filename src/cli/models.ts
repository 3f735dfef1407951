import type { Command } from 'commander';
import { createModelRegistry, createModelStoreFromConfig, verifyModelDir } from '../registry/index.js';
import { action, contextFrom } from './context.js';

/** `intentstream models list|register|promote|rollback`: the model registry by hand. */
export function registerModels(program: Command): void {
  const models = program.command('models').description('list, register, promote and roll back models');
  const registryFrom = (cmd: Command) => {
    const { config } = contextFrom(cmd, 'models');
    return createModelRegistry(config.trainer.modelsDir, {
      verify: verifyModelDir,
      store: createModelStoreFromConfig(config, config.trainer.modelsDir),
    });
  };
  models
    .command('list')
    .description('registered models and unregistered candidates with their test metrics; * marks CURRENT')
    .option('--json', 'one JSON object per model')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const registry = registryFrom(cmd);
        const rows = [
          ...(await registry.list()).map((m) => ({ ...m, registered: true })),
          ...(await registry.listCandidates()).map((m) => ({ ...m, registered: false })),
        ];
        for (const m of rows) {
          const splits = (m.metrics?.splits ?? {}) as { test?: { rocAuc?: number | null } };
          const auc = splits.test?.rocAuc;
          if (opts.json)
            process.stdout.write(
              `${JSON.stringify({ version: m.version, current: m.current, registered: m.registered, testRocAuc: auc ?? null, dir: m.dir })}\n`,
            );
          else
            process.stdout.write(
              `${m.current ? '*' : ' '} ${m.version}\ttest ROC-AUC ${auc == null ? 'n/a' : auc.toFixed(4)}${m.registered ? '' : `\tcandidate: register with \`intentstream models register ${m.version}\``}\n`,
            );
        }
      }),
    );
  models
    .command('register <candidate>')
    .description(
      'move a candidate (its directory, or its version under <modelsDir>/candidates/) into the registry; promote it next',
    )
    .action(
      action(async (candidate: string, _opts: unknown, cmd: Command) => {
        const registered = await registryFrom(cmd).registerCandidate(candidate);
        process.stdout.write(`${JSON.stringify(registered)}\n`);
      }),
    );
  models
    .command('promote <version>')
    .description('make <version> the CURRENT model (atomic switch; recorded for rollback)')
    .option('--reason <text>', 'why, recorded in HISTORY.jsonl', 'manual promotion')
    .action(
      action(async (version: string, opts: { reason: string }, cmd: Command) => {
        const entry = await registryFrom(cmd).promote(version, opts.reason);
        process.stdout.write(`${JSON.stringify(entry)}\n`);
      }),
    );
  models
    .command('rollback')
    .description('restore the champion that preceded the CURRENT model')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const entry = await registryFrom(cmd).rollback();
        process.stdout.write(`${JSON.stringify(entry)}\n`);
      }),
    );
}

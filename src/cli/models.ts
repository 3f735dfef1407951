import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  MODEL_FILES,
  RegistryError,
  createModelRegistry,
  createModelStoreFromConfig,
  verifyModelDir,
} from '../registry/index.js';
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
    .command('show [version]')
    .description("print a model's card (default: CURRENT; candidates too) and the paths of its plots")
    .action(
      action(async (version: string | undefined, _opts: unknown, cmd: Command) => {
        const registry = registryFrom(cmd);
        const wanted = version ?? (await registry.current());
        if (wanted === undefined) {
          throw new RegistryError(
            `no model is CURRENT in ${registry.location}: name one (\`intentstream models list\` shows them), or promote one with \`intentstream models promote <version>\``,
          );
        }
        // A registered model may be on object storage: read it from the local copy (fetched first), where
        // its plots can also be opened.
        const dir = (await registry.list()).some((e) => e.version === wanted)
          ? await registry.localDirOf(wanted)
          : (await registry.listCandidates()).find((e) => e.version === wanted)?.dir;
        if (dir === undefined) {
          throw new RegistryError(
            `model ${wanted} is neither registered nor a candidate in ${registry.location}; \`intentstream models list\` shows what is there`,
          );
        }
        const card = await readFile(join(dir, MODEL_FILES.card), 'utf8').catch(() => undefined);
        if (card === undefined) {
          throw new RegistryError(
            `model ${wanted} in ${dir} has no ${MODEL_FILES.card}; it was written by a version without cards, or is incomplete (\`intentstream models list\`)`,
          );
        }
        const plots = (await readdir(dir)).filter((f) => f.endsWith('.svg')).sort();
        process.stdout.write(
          `${card}\n${plots.length ? `Plots (SVG, open in a browser):\n${plots.map((f) => `  ${join(dir, f)}`).join('\n')}\n` : 'No plots (the model was written before they existed).\n'}`,
        );
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

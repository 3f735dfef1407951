import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerConfig } from './config.js';
import { registerConsume } from './consume.js';
import { registerGenerate } from './generate.js';
import { registerImport } from './import.js';
import { registerIngest } from './ingest.js';
import { registerModels } from './models.js';
import { registerOps } from './ops.js';
import { registerScore } from './score.js';
import { registerTopics } from './topics.js';
import { registerTrain } from './train.js';
import { registerTrainer } from './trainer.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Builds the `intentstream` command tree (exported so tests can check docker-compose commands against it). */
export function buildProgram(): Command {
  const program = new Command('intentstream')
    .description('classify live e-commerce sessions from their event timelines')
    .version(pkg.version)
    .option('-c, --config <file>', 'YAML file layered over config/default.yaml (or INTENTSTREAM_CONFIG)')
    .option('--log-level <level>', 'debug | info | warn | error (overrides log.level)')
    .showHelpAfterError();
  registerGenerate(program);
  registerConsume(program);
  registerImport(program);
  registerIngest(program);
  registerScore(program);
  registerTopics(program);
  registerTrain(program);
  registerConfig(program);
  registerOps(program);
  registerTrainer(program);
  registerModels(program);
  return program;
}

const isEntryPoint = process.argv[1] && /(?:main\.[jt]s|intentstream(?:\.js)?)$/.test(process.argv[1]);
if (isEntryPoint) {
  await buildProgram().parseAsync(process.argv);
}

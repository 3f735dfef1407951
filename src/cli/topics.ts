import type { Command } from 'commander';
import { createKafka } from '../kafka/client.js';
import { ensureTopics } from '../kafka/topics.js';
import { action, contextFrom } from './context.js';

export function registerTopics(program: Command): void {
  const topics = program.command('topics').description('manage the pipeline topics');
  topics
    .command('create')
    .description('create the events, predictions, dead-letter (and sessions) topics if missing')
    .option('--with-sessions', 'also create the sessions topic')
    .action(
      action(async (opts: { withSessions?: boolean }, cmd: Command) => {
        const { config, logger } = contextFrom(cmd, 'topics');
        const kafka = createKafka({ config, logger });
        const t = config.topics;
        const names = [t.events, t.predictions, t.deadLetter, ...(opts.withSessions ? [t.sessions] : [])];
        const created = await ensureTopics(kafka, config, logger, names);
        process.stdout.write(
          `${JSON.stringify({ created, existing: names.filter((n) => !created.includes(n)) })}\n`,
        );
      }),
    );
}

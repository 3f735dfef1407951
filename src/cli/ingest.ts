import type { Command } from 'commander';
import { createCheckpointStore } from '../ingest/checkpoint.js';
import { createIngest } from '../ingest/ingest.js';
import { createKafka } from '../kafka/client.js';
import { brokerReadiness } from '../kafka/reachability.js';
import { ensureTopics } from '../kafka/topics.js';
import { createIngestMetrics } from '../metrics/ingest-metrics.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { startHttpServer } from '../metrics/server.js';
import { createTimelineStore } from '../store/index.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { action, contextFrom } from './context.js';

/** `intentstream ingest`: the events → timeline store process (see src/ingest/ingest.ts). */
export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description(
      'sessionize the events topic in event time and store closed sessions as timelines (group ingest.groupId)',
    )
    .option('--store <dir>', 'timeline store directory (default: store.dir)')
    .option('--checkpoints <dir>', 'checkpoint directory (default: ingest.checkpointDir)')
    .option(
      '--port <port>',
      'HTTP port for /metrics, /healthz, /readyz (default: http.ports.ingest; 0 = any)',
    )
    .action(
      action(async (opts: { store?: string; checkpoints?: string; port?: string }, cmd: Command) => {
        const overrides = {
          ...(opts.store ? { store: { dir: opts.store } } : {}),
          ...(opts.checkpoints ? { ingest: { checkpointDir: opts.checkpoints } } : {}),
          ...(opts.port !== undefined ? { http: { ports: { ingest: Number(opts.port) } } } : {}),
        };
        const { config, logger } = contextFrom(cmd, 'ingest', overrides);
        const kafka = createKafka({ config, logger });
        await ensureTopics(kafka, config, logger, [
          config.topics.events,
          config.topics.deadLetter,
          ...(config.ingest.publishSessions ? [config.topics.sessions] : []),
        ]);
        const registry = createMetricsRegistry('ingest');
        const ingest = createIngest({
          kafka,
          config,
          logger,
          metrics: createIngestMetrics(registry),
          store: createTimelineStore(config.store.dir),
          checkpoints: createCheckpointStore(config.ingest.checkpointDir),
        });
        const broker = brokerReadiness({ config, logger });
        const http = await startHttpServer({
          registry,
          host: config.http.host,
          port: config.http.ports.ingest,
          logger,
          readiness: [broker, { name: 'partitions_assigned', check: () => ingest.ready }],
        });
        // Handlers go in before start so a SIGTERM during start-up still drains instead of killing.
        const starting: { promise?: Promise<void> } = {};
        const stopped = new Promise<void>((resolve) => {
          onShutdownSignal(logger, async () => {
            await starting.promise?.catch(() => undefined);
            await ingest.stop();
            await http.close();
            await broker.close();
            resolve();
          });
        });
        starting.promise = ingest.start();
        await starting.promise;
        await stopped;
      }),
    );
}

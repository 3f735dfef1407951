import type { Command } from 'commander';
import { createCheckpointStore } from '../ingest/checkpoint.js';
import { createIngest } from '../ingest/ingest.js';
import { createKafka } from '../kafka/client.js';
import { createIngestMetrics } from '../metrics/ingest-metrics.js';
import { createMetricsRegistry } from '../metrics/prometheus-registry.js';
import { createStorageFromConfig } from '../storage/index.js';
import { createTimelineStore } from '../store/index.js';
import { checkVendorShims } from '../vendor-shims/check.js';
import { action, contextFrom } from './context.js';
import { runService } from './run-service.js';

/** `intentstream ingest`: the events → timeline store process (see src/ingest/ingest.ts). */
export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description(
      'sessionize the events topic in event time and store closed sessions as timelines (group ingest.groupId)',
    )
    .option(
      '--store <dir>',
      'timeline store directory, local even where storage.backend is s3 (default: store.dir, or the bucket)',
    )
    .option(
      '--checkpoints <dir>',
      'checkpoint directory, local even where storage.backend is s3 (default: ingest.checkpointDir, or the bucket)',
    )
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
        await checkVendorShims(['kafkajs', 'avsc'], logger);
        const kafka = createKafka({ config, logger });
        const registry = createMetricsRegistry('ingest');
        const metrics = createIngestMetrics(registry);
        await runService({
          config,
          logger,
          kafka,
          registry,
          port: config.http.ports.ingest,
          topics: [
            config.topics.events,
            config.topics.deadLetter,
            ...(config.ingest.publishSessions ? [config.topics.sessions] : []),
          ],
          create: (onFatal) =>
            createIngest({
              kafka,
              config,
              logger,
              metrics,
              // An explicit directory is that local directory whatever storage.backend says, as in train and import.
              store: createTimelineStore(createStorageFromConfig(config, 'timelines', opts.store)),
              checkpoints: createCheckpointStore(
                createStorageFromConfig(config, 'checkpoints', opts.checkpoints),
              ),
              onFatal,
            }),
          readiness: (ingest) => [{ name: 'partitions_assigned', check: () => ingest()?.ready ?? false }],
        });
      }),
    );
}

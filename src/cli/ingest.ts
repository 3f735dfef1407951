import type { Command } from 'commander';
import { createCheckpointStore } from '../ingest/checkpoint.js';
import { type IngestProcess, createIngest } from '../ingest/ingest.js';
import { createKafka } from '../kafka/client.js';
import { StartAbortedError, untilDone } from '../kafka/connect.js';
import { brokerReadiness } from '../kafka/reachability.js';
import { ensureTopics } from '../kafka/topics.js';
import { createIngestMetrics } from '../metrics/ingest-metrics.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { startHttpServer } from '../metrics/server.js';
import { createStorageFromConfig } from '../storage/index.js';
import { createTimelineStore } from '../store/index.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { checkVendorShims } from '../vendor-shims/check.js';
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
        await checkVendorShims(['kafkajs', 'avsc'], logger);
        const kafka = createKafka({ config, logger });
        // Handlers go in first, so a SIGTERM during start-up (also while the broker is unreachable) exits cleanly.
        let stopRequested = false;
        const running: { ingest?: IngestProcess; starting?: Promise<void>; close: (() => Promise<void>)[] } =
          {
            close: [],
          };
        const stopped = new Promise<void>((resolve) => {
          onShutdownSignal(logger, async () => {
            stopRequested = true;
            running.ingest?.abortStart();
            await running.starting?.catch(() => undefined);
            await running.ingest?.stop();
            for (const close of running.close) await close();
            resolve();
          });
        });
        const registry = createMetricsRegistry('ingest');
        const broker = brokerReadiness({ config, logger });
        const http = await startHttpServer({
          registry,
          host: config.http.host,
          port: config.http.ports.ingest,
          logger,
          readiness: [broker, { name: 'partitions_assigned', check: () => running.ingest?.ready ?? false }],
        });
        running.close.push(
          () => http.close(),
          () => broker.close(),
        );
        const topics = [
          config.topics.events,
          config.topics.deadLetter,
          ...(config.ingest.publishSessions ? [config.topics.sessions] : []),
        ];
        try {
          await untilDone(
            'create the topics',
            async () => void (await ensureTopics(kafka, config, logger, topics)),
            {
              logger,
              shouldStop: () => stopRequested,
            },
          );
        } catch (error) {
          if (!(error instanceof StartAbortedError)) throw error;
          return stopped;
        }
        if (stopRequested) return stopped;
        running.ingest = createIngest({
          kafka,
          config,
          logger,
          metrics: createIngestMetrics(registry),
          store: createTimelineStore(createStorageFromConfig(config, 'timelines')),
          checkpoints: createCheckpointStore(createStorageFromConfig(config, 'checkpoints')),
        });
        running.starting = running.ingest.start();
        await running.starting.catch((error: unknown) => {
          if (!(error instanceof StartAbortedError)) throw error;
        });
        await stopped;
      }),
    );
}

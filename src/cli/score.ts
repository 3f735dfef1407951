import * as tf from '@tensorflow/tfjs';
import type { Command } from 'commander';
import { createKafka } from '../kafka/client.js';
import { StartAbortedError, untilDone } from '../kafka/connect.js';
import { brokerReadiness } from '../kafka/reachability.js';
import { ensureTopics } from '../kafka/topics.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { createScorerMetrics } from '../metrics/scorer-metrics.js';
import { startHttpServer } from '../metrics/server.js';
import { selectBackend } from '../model/backend.js';
import { createRegistryViewFromConfig } from '../registry/index.js';
import { createRegistryModelSource, createScorer, lstmModelFactory } from '../scoring/index.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { checkVendorShims } from '../vendor-shims/check.js';
import { action, contextFrom } from './context.js';
import { missingNodeFlags } from './node-flags.js';

/** `intentstream score`: the live scorer (see src/scoring/scorer.ts). */
export function registerScore(program: Command): void {
  program
    .command('score')
    .description(
      'score live sessions event by event and emit predictions to the predictions topic (group scorer.groupId)',
    )
    .option(
      '--models <dir>',
      'model registry directory whose CURRENT names the served version (default: scorer.modelDir)',
    )
    .option('--emit <policy>', 'every | delta | threshold (default: scorer.emit)')
    .option(
      '--port <port>',
      'HTTP port for /metrics, /healthz, /readyz (default: http.ports.scorer; 0 = any)',
    )
    .action(
      action(async (opts: { models?: string; emit?: string; port?: string }, cmd: Command) => {
        const overrides = {
          ...(opts.models || opts.emit
            ? {
                scorer: {
                  ...(opts.models ? { modelDir: opts.models } : {}),
                  ...(opts.emit ? { emit: opts.emit } : {}),
                },
              }
            : {}),
          ...(opts.port !== undefined ? { http: { ports: { scorer: Number(opts.port) } } } : {}),
        };
        const { config, logger } = contextFrom(cmd, 'scorer', overrides);
        await checkVendorShims(['kafkajs', 'avsc', 'tfjs'], logger);
        const missing = missingNodeFlags();
        if (missing.length > 0)
          logger.warn(
            'node was started without the V8 flags bin/intentstream.js sets: expect about 25% more memory with many open sessions (BENCHMARKS.md)',
            { missing, hint: `node ${missing.join(' ')} bin/intentstream.js score` },
          );
        const kafka = createKafka({ config, logger });
        const registry = createMetricsRegistry('scorer');
        // The LSTM step model runs one matMul per layer and round: wasm (XNNPACK SIMD, single-threaded,
        // always installed) is the fast deterministic choice here; PROD keeps tfjs's hints off stderr.
        tf.env().set('PROD', true);
        await selectBackend({ requested: 'wasm', logger });
        const scorer = createScorer({
          kafka,
          config,
          logger,
          metrics: createScorerMetrics(registry),
          source: createRegistryModelSource(createRegistryViewFromConfig(config), lstmModelFactory),
        });
        const broker = brokerReadiness({ config, logger });
        const http = await startHttpServer({
          registry,
          host: config.http.host,
          port: config.http.ports.scorer,
          logger,
          readiness: [
            broker,
            { name: 'partitions_assigned', check: () => scorer.assignedPartitions.length > 0 },
            { name: 'model_loaded', check: () => scorer.modelVersion !== undefined },
            { name: 'running', check: () => scorer.ready },
          ],
        });
        // Handlers go in before start so a SIGTERM during start-up (even while waiting for the broker or a
        // model) drains and exits 0.
        let stopRequested = false;
        const stopped = new Promise<void>((resolve) => {
          onShutdownSignal(logger, async () => {
            stopRequested = true;
            await scorer.stop();
            await http.close();
            await broker.close();
            resolve();
          });
        });
        const topics = [config.topics.events, config.topics.predictions, config.topics.deadLetter];
        try {
          await untilDone(
            'create the topics',
            async () => void (await ensureTopics(kafka, config, logger, topics)),
            { logger, shouldStop: () => stopRequested },
          );
          await scorer.start();
        } catch (error) {
          if (!(error instanceof StartAbortedError)) throw error;
        }
        await stopped;
      }),
    );
}

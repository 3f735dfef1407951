import * as tf from '@tensorflow/tfjs';
import type { Command } from 'commander';
import { createKafka } from '../kafka/client.js';
import { createMetricsRegistry } from '../metrics/prometheus-registry.js';
import { createScorerMetrics } from '../metrics/scorer-metrics.js';
import { selectBackend } from '../model/backend.js';
import { createRegistryViewFromConfig } from '../registry/index.js';
import { createRegistryModelSource, createScorer, lstmModelFactory } from '../scoring/index.js';
import { checkVendorShims } from '../vendor-shims/check.js';
import { action, contextFrom } from './context.js';
import { missingNodeFlags } from './node-flags.js';
import { runService } from './run-service.js';

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
        const metrics = createScorerMetrics(registry);
        await runService({
          config,
          logger,
          kafka,
          registry,
          port: config.http.ports.scorer,
          topics: [config.topics.events, config.topics.predictions, config.topics.deadLetter],
          create: (onFatal) =>
            createScorer({
              kafka,
              config,
              logger,
              metrics,
              source: createRegistryModelSource(createRegistryViewFromConfig(config), lstmModelFactory),
              onFatal,
            }),
          readiness: (scorer) => [
            { name: 'partitions_assigned', check: () => (scorer()?.assignedPartitions.length ?? 0) > 0 },
            { name: 'model_loaded', check: () => scorer()?.modelVersion !== undefined },
            { name: 'running', check: () => scorer()?.ready ?? false },
          ],
        });
      }),
    );
}

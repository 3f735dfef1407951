import type { Command } from 'commander';
import { createRouteGuard, resolveHttpToken } from '../metrics/http-auth.js';
import { createMetricsRegistry } from '../metrics/prometheus-registry.js';
import { startHttpServer } from '../metrics/server.js';
import { createTrainerMetrics } from '../metrics/trainer-metrics.js';
import {
  createModelRegistry,
  createModelStoreFromConfig,
  trainLockPath,
  verifyModelDir,
} from '../registry/index.js';
import { createStorageFromConfig } from '../storage/index.js';
import { createTimelineStore } from '../store/index.js';
import { reportChampion, storeHoldsAtLeast } from '../trainer/champion.js';
import { trainOnce } from '../trainer/run.js';
import { createTrainerService } from '../trainer/service.js';
import { trainRoute } from '../trainer/train-route.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { checkVendorShims } from '../vendor-shims/check.js';
import { action, contextFrom } from './context.js';

/**
 * `intentstream trainer`: the retraining process. node-cron runs a training
 * run on `trainer.schedule`; POST /train runs one now; never two at once (also
 * across processes, through a lock file in trainer.modelsDir). Serves /metrics.
 */
export function registerTrainer(program: Command): void {
  program
    .command('trainer')
    .description('retrain on a schedule (trainer.schedule) and on POST /train; promote only better models')
    .option(
      '--port <port>',
      'HTTP port for /metrics, /healthz, /readyz, POST /train (default http.ports.trainer)',
    )
    .option('--run-now', 'start one training run right away, then keep the schedule')
    .action(
      action(async (opts: { port?: string; runNow?: boolean }, cmd: Command) => {
        const { config, logger } = contextFrom(
          cmd,
          'trainer',
          opts.port !== undefined ? { http: { ports: { trainer: Number(opts.port) } } } : {},
        );
        await checkVendorShims(['avsc', 'tfjs'], logger);
        const registry = createModelRegistry(config.trainer.modelsDir, {
          verify: verifyModelDir,
          store: createModelStoreFromConfig(config, config.trainer.modelsDir),
        });
        const store = createTimelineStore(createStorageFromConfig(config, 'timelines'));
        const metricsRegistry = createMetricsRegistry('trainer');
        const metrics = createTrainerMetrics(metricsRegistry);
        let stopping = false;
        const { minSessions, checkInterval } = config.trainer.firstModel;
        await reportChampion(registry, metrics, logger);
        const service = createTrainerService({
          runOnce: (trigger) =>
            trainOnce({ config, logger, store, registry, trigger, shouldStop: () => stopping }).finally(() =>
              reportChampion(registry, metrics, logger),
            ),
          lockPath: trainLockPath(config.trainer.modelsDir),
          schedule: config.trainer.schedule,
          metrics,
          logger,
          firstModel: {
            intervalMs: checkInterval,
            due: async () =>
              (await registry.current()) === undefined && storeHoldsAtLeast(store, minSessions),
          },
        });
        const routes = trainRoute({
          guard: createRouteGuard(config.http.host, resolveHttpToken(config.http)),
          host: config.http.host,
          service,
          logger,
        });
        const http = await startHttpServer({
          registry: metricsRegistry,
          host: config.http.host,
          port: config.http.ports.trainer,
          logger,
          readiness: [{ name: 'scheduled', check: () => !stopping }],
          routes,
        });
        service.start();
        if (opts.runNow) void service.trigger('cli');
        await new Promise<void>((resolve) => {
          onShutdownSignal(logger, async () => {
            stopping = true;
            await service.stop();
            await http.close();
            resolve();
          });
        });
      }),
    );
}

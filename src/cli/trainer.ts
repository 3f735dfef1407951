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
        const guard = createRouteGuard(config.http.host, resolveHttpToken(config.http));
        if (guard.disabled) {
          logger.warn(
            'POST /train is disabled: the HTTP server is not on a loopback address and no token is set',
            {
              host: config.http.host,
              enableWith: 'http.token (INTENTSTREAM_HTTP__TOKEN) or http.tokenFile',
            },
          );
        }
        const http = await startHttpServer({
          registry: metricsRegistry,
          host: config.http.host,
          port: config.http.ports.trainer,
          logger,
          readiness: [{ name: 'scheduled', check: () => !stopping }],
          routes: (method, path, respond, request) => {
            if (method !== 'POST' || path !== '/train') return false;
            const verdict = guard.check(request);
            if (!verdict.ok) {
              logger.warn('POST /train refused', {
                status: verdict.status,
                remote: request.socket.remoteAddress,
              });
              respond(verdict.status, { error: verdict.error });
              return true;
            }
            if (service.running) {
              respond(409, { result: 'skipped', reason: 'a training run is already in progress' });
              return true;
            }
            void service.trigger('http');
            respond(202, { accepted: true, note: 'training started; watch intentstream_trainer_runs_total' });
            return true;
          },
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

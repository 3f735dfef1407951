import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import { exitCodeOf } from '../errors.js';
import { StartAbortedError, untilDone } from '../kafka/connect.js';
import type { ConsumerCrashedError, PartitionedService } from '../kafka/partitioned-consumer.js';
import { brokerReadiness } from '../kafka/reachability.js';
import { ensureTopics } from '../kafka/topics.js';
import type { Logger } from '../log/logger.js';
import { type ReadinessCheck, startHttpServer } from '../metrics/server.js';
import { onShutdownSignal } from '../util/shutdown.js';

/** A long-running consumer process as runService() drives it. */
export type Service = Pick<PartitionedService, 'start' | 'stop'>;

export interface RunServiceOptions<S extends Service> {
  config: Readonly<Config>;
  logger: Logger;
  kafka: Kafka;
  registry: Registry;
  /** HTTP port for /metrics, /healthz, /readyz. */
  port: number;
  /** Topics created if missing before the service starts. */
  topics: string[];
  /** Builds the service; `onFatal` must be handed to its partitioned consumer. */
  create: (onFatal: (error: ConsumerCrashedError) => void) => S;
  /** The service's own readiness checks (the broker check is always there). */
  readiness: (service: () => S | undefined) => ReadinessCheck[];
}

/**
 * Start-up, readiness and shutdown of a consumer process (ingest, score): the signal handlers go in
 * first, so a SIGTERM during start-up (even while the broker is unreachable) drains and exits 0; then
 * /metrics and /readyz, the topics, the service. Resolves once the service drained after a signal.
 * Rejects with the crash when the service's consumer stopped for good, so the process exits non-zero
 * and a supervisor restarts it (its committed state makes that safe).
 */
export async function runService<S extends Service>(options: RunServiceOptions<S>): Promise<void> {
  const { config, logger, kafka, registry, port, topics, create, readiness } = options;
  let stopRequested = false;
  let service: S | undefined;
  const close: (() => Promise<void>)[] = [];
  let crashed: (error: ConsumerCrashedError) => void = () => undefined;
  const stopped = new Promise<void>((resolve, reject) => {
    crashed = reject;
    onShutdownSignal(logger, async () => {
      stopRequested = true;
      // A stop that fails still closes the HTTP server and the broker probe, then exits non-zero.
      const failed = await service?.stop().then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      for (const c of close) await c();
      if (failed) reject(failed.error);
      else resolve();
    });
  });
  // A crash may come before anything awaits `stopped`: handled here, still rethrown by the await below.
  stopped.catch(() => undefined);
  const broker = brokerReadiness({ config, logger });
  const http = await startHttpServer({
    registry,
    host: config.http.host,
    port,
    logger,
    readiness: [broker, ...readiness(() => service)],
  });
  close.push(
    () => http.close(),
    () => broker.close(),
  );
  try {
    await untilDone(
      'create the topics',
      async () => void (await ensureTopics(kafka, config, logger, topics)),
      {
        logger,
        shouldStop: () => stopRequested,
      },
    );
    if (stopRequested) return await stopped;
    service = create((error) => {
      logger.error('consumer stopped for good: exiting non-zero so a supervisor restarts the process', {
        error,
        exitCode: exitCodeOf(error),
      });
      crashed(error);
    });
    await service.start();
  } catch (error) {
    if (!(error instanceof StartAbortedError)) throw error;
  }
  await stopped;
}

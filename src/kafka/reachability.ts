import { type Admin, logLevel } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { createKafka } from './client.js';

/** A readiness check (the HTTP server's shape, kept here so kafka/ does not depend on metrics/). */
export interface BrokerReadiness {
  readonly name: 'broker';
  check(): Promise<boolean>;
  close(): Promise<void>;
}

export interface BrokerReadinessOptions {
  config: Pick<Config, 'kafka'>;
  logger: Logger;
  timeoutMs?: number;
  cacheMs?: number;
}

/**
 * The "broker reachable" readiness check: a metadata request (describeCluster)
 * on a dedicated admin client (one attempt, no retries, kafkajs logs off: the
 * process's own clients already log a broker outage), made when /readyz is
 * asked (never in the background), answered from a cache younger than
 * `cacheMs`, and counted as unreachable after `timeoutMs`.
 */
export function brokerReadiness({
  config,
  logger,
  timeoutMs = 3_000,
  cacheMs = 2_000,
}: BrokerReadinessOptions): BrokerReadiness {
  const kafka = createKafka({
    config,
    logger,
    clientId: `${config.kafka.clientId}-readiness`,
    level: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  let admin: Admin | undefined;
  let connected: Promise<void> | undefined;
  let last: { at: number; ok: boolean } | undefined;
  let inFlight: Promise<boolean> | undefined;

  async function probe(): Promise<boolean> {
    admin ??= kafka.admin();
    const a = admin;
    connected ??= a.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answered = connected
      .then(() => a.describeCluster())
      .then(
        (cluster) => cluster.brokers.length > 0,
        () => false,
      );
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    name: 'broker',
    async check() {
      if (last && Date.now() - last.at < cacheMs) return last.ok;
      inFlight ??= probe().finally(() => {
        inFlight = undefined;
      });
      const ok = await inFlight;
      last = { at: Date.now(), ok };
      return ok;
    },
    async close() {
      await inFlight?.catch(() => undefined);
      await admin?.disconnect().catch(() => undefined);
    },
  };
}

/**
 * A private local broker for tests that must stop, restart or reconfigure one (broker outages,
 * SASL/TLS) without disturbing the shared broker the rest of the suite uses: `scripts/kafka` with
 * its own ports and data directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './cli.js';

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface PrivateBroker {
  /** host:port clients connect to. */
  bootstrap: string;
  dataDir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

export async function privateBroker(extraEnv: NodeJS.ProcessEnv = {}): Promise<PrivateBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'private-broker-'));
  const [port, controller, internal] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    KAFKA_BROKERS: '',
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controller),
    KAFKA_INTERNAL_PORT: String(internal),
    KAFKA_DATA_DIR: dir,
    ...extraEnv,
  };
  const script = join(REPO_ROOT, 'scripts/kafka');
  const broker: PrivateBroker = {
    bootstrap: `127.0.0.1:${port}`,
    dataDir: dir,
    start: async () => void (await run(script, ['start'], { env, timeout: 180_000 })),
    stop: async () => void (await run(script, ['stop'], { env, timeout: 90_000 })),
    destroy: async () => {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

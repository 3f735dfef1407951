import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { brokerReadiness } from '../../src/kafka/reachability.js';
import { createMemoryLogger } from '../../src/log/logger.js';

describe('broker readiness check', () => {
  it('answers false when nothing listens at the broker address, probe after probe, and closes', async () => {
    // A port that was free a moment ago: connections are refused.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    const config = loadConfig({ env: {}, overrides: { kafka: { brokers: [`127.0.0.1:${port}`] } } });
    const check = brokerReadiness({
      config,
      logger: createMemoryLogger('error'),
      timeoutMs: 500,
      cacheMs: 0,
    });
    assert.equal(check.name, 'broker');
    assert.equal(await check.check(), false, 'unreachable broker is not ready');
    assert.equal(await check.check(), false, 'and again on the next probe (a failed connect is retried)');
    await check.close();
  });
});

/**
 * Kafka SASL/SCRAM over TLS against a real broker: a second local broker started by `scripts/kafka`
 * with KAFKA_SECURITY=sasl_ssl (self-signed certificate for 127.0.0.1, SCRAM users created at
 * format time). The real CLI processes connect with kafka.tls / kafka.sasl from the environment or
 * files; wrong credentials and an untrusted certificate fail with the broker's reason; the password
 * never shows in logs, `config show` or /metrics.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { createKafka } from '../../src/kafka/client.js';
import { type PrivateBroker, privateBroker } from '../helpers/broker.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { committedTotal, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';

describe('Kafka over SASL/SCRAM and TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-secure-'));
  const user = 'intentstream-test';
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let broker: PrivateBroker;
  let clientEnv: Record<string, string> = {};
  const topic = uniqueName('secure-events');

  before(async () => {
    broker = await privateBroker({
      KAFKA_SECURITY: 'sasl_ssl',
      KAFKA_SCRAM_USER: user,
      KAFKA_SCRAM_PASSWORD: password,
    });
    clientEnv = {
      KAFKA_BROKERS: broker.bootstrap,
      INTENTSTREAM_KAFKA__TLS__ENABLED: 'true',
      INTENTSTREAM_KAFKA__TLS__CA_FILE: join(broker.dataDir, 'tls/ca.pem'),
      INTENTSTREAM_KAFKA__SASL__MECHANISM: 'scram-sha-512',
      INTENTSTREAM_KAFKA__SASL__USERNAME: user,
      INTENTSTREAM_KAFKA__SASL__PASSWORD: password,
      INTENTSTREAM_TOPICS__EVENTS: topic,
      INTENTSTREAM_TOPICS__DEAD_LETTER: `${topic}-dlq`,
      INTENTSTREAM_TOPICS__PREDICTIONS: `${topic}-predictions`,
      INTENTSTREAM_TOPICS__SESSIONS: `${topic}-sessions`,
    };
  });

  after(async () => {
    await broker.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates topics, produces, ingests and commits through the real CLI; the password stays out of output', async () => {
    const created = await runCli(['topics', 'create'], clientEnv);
    assert.equal(created.code, 0, `topics create failed: ${created.stderr}`);

    // The producer takes its password from a file (a mounted secret), SCRAM-SHA-256 this time.
    const passwordFile = join(dir, 'kafka-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const { INTENTSTREAM_KAFKA__SASL__PASSWORD: _, ...fileEnv } = clientEnv;
    const generated = await runCli(['generate', '--seed', '5', '--events', '600', '--cookies', '40'], {
      ...fileEnv,
      INTENTSTREAM_KAFKA__SASL__MECHANISM: 'scram-sha-256',
      INTENTSTREAM_KAFKA__SASL__PASSWORD_FILE: passwordFile,
    });
    assert.equal(generated.code, 0, `generate failed: ${generated.stderr}`);

    const storeDir = join(dir, 'store');
    const group = uniqueName('secure-ingest');
    const ingest = spawnCli(['ingest', '--port', '0'], {
      ...clientEnv,
      INTENTSTREAM_INGEST__GROUP_ID: group,
      INTENTSTREAM_STORE__DIR: storeDir,
      INTENTSTREAM_INGEST__CHECKPOINT_DIR: join(dir, 'checkpoints'),
      INTENTSTREAM_INGEST__FLUSH_INTERVAL: '200ms',
      // 600 events cover little event time: a short gap lets sessions close and reach the store.
      INTENTSTREAM_SESSIONS__INACTIVITY_GAP: '1m',
      INTENTSTREAM_SESSIONS__GRACE: '10s',
    });
    ingest.stdout!.resume();
    let stderr = '';
    ingest.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const config = loadConfig({ env: clientEnv });
    const kafka = createKafka({ config, logger: testLogger });
    let metricsText = '';
    try {
      await waitFor(async () => (await committedTotal(kafka, group, topic)) >= 600 || undefined, {
        what: 'ingest to commit all 600 events over SASL_SSL',
        timeoutMs: 60_000,
      });
      const url = /"msg":"http server listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1];
      assert.ok(url, `ingest logged no metrics url: ${stderr.slice(-2000)}`);
      metricsText = await (await fetch(`${url}/metrics`)).text();
    } finally {
      ingest.kill('SIGTERM');
      await new Promise((resolve) => ingest.once('close', resolve));
    }
    assert.ok(
      existsSync(storeDir) && readdirSync(storeDir).length > 0,
      `ingest stored no sessions: ${metricsText
        .split('\n')
        .filter((l) => /^intentstream_ingest_(events|sessions)/.test(l))
        .join('; ')}`,
    );
    const config2 = await runCli(['config', 'show'], clientEnv);
    assert.equal(config2.code, 0, config2.stderr);
    const shown = JSON.parse(config2.stdout.toString()) as { kafka: { sasl: { password: string } } };
    assert.equal(shown.kafka.sasl.password, '<redacted>');
    for (const [what, text] of [
      ['topics create output', created.stderr + created.stdout.toString()],
      ['generate output', generated.stderr + generated.stdout.toString()],
      ['ingest log', stderr],
      ['ingest /metrics', metricsText],
      ['config show', config2.stdout.toString() + config2.stderr],
    ] as const) {
      assert.ok(!text.includes(password), `the SASL password appears in the ${what}`);
    }
  });

  it('refuses wrong credentials with the broker reason and without echoing the password', async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const result = await runCli(['topics', 'create'], {
      ...clientEnv,
      INTENTSTREAM_KAFKA__SASL__PASSWORD: wrong,
    });
    assert.notEqual(result.code, 0, 'topics create succeeded with a wrong password');
    assert.match(result.stderr, /authentication failed/i);
    assert.ok(!result.stderr.includes(wrong), 'the wrong password was echoed');
  });

  it('refuses a broker certificate it does not trust (no caFile: system CAs only)', async () => {
    const { INTENTSTREAM_KAFKA__TLS__CA_FILE: _, ...noCa } = clientEnv;
    const config = loadConfig({ env: noCa });
    const admin = createKafka({ config, logger: testLogger }).admin();
    await assert.rejects(admin.connect(), /self[- ]signed certificate|unable to verify/i);
    await admin.disconnect();
  });

  it('fails at start-up naming the field when a secret file is missing or SASL is half configured', async () => {
    const missing = await runCli(['topics', 'create'], {
      ...clientEnv,
      INTENTSTREAM_KAFKA__SASL__PASSWORD: '',
      INTENTSTREAM_KAFKA__TLS__CA_FILE: join(dir, 'no-such-ca.pem'),
    });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /kafka\.sasl\.password/);
    const noFile = await runCli(['topics', 'create'], {
      ...clientEnv,
      INTENTSTREAM_KAFKA__TLS__CA_FILE: join(dir, 'no-such-ca.pem'),
    });
    assert.equal(noFile.code, 2, noFile.stderr);
    assert.match(noFile.stderr, /kafka\.tls\.caFile: cannot read .*no-such-ca\.pem \(ENOENT\)/);
    const { INTENTSTREAM_KAFKA__SASL__USERNAME: _, ...noUser } = clientEnv;
    const half = await runCli(['topics', 'create'], noUser);
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /kafka\.sasl\.username: required when mechanism is scram-sha-512/);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, envNameFor, listEnvVariables, loadConfig } from '../../src/config/index.js';

function expectConfigError(fn: () => unknown, path: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    const issue = error.issues.find((i) => i.path === path);
    assert.ok(issue, `expected an issue at ${path}, got ${JSON.stringify(error.issues)}`);
    assert.match(issue.message, pattern);
    assert.match(error.message, new RegExp(path.replace(/\./g, '\\.')));
    return true;
  });
}

describe('config', () => {
  it('loads the defaults with durations normalized to milliseconds', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.sessions.inactivityGap, 30 * 60_000);
    assert.equal(config.sessions.maxDuration, 24 * 3_600_000);
    assert.equal(config.sessions.grace, 120_000);
    assert.equal(config.sessions.maxEvents, 2000);
    assert.deepEqual(config.kafka.brokers, ['127.0.0.1:19092']);
    assert.ok(Object.isFrozen(config.sessions));
  });

  it('applies INTENTSTREAM_ overrides by path and KAFKA_BROKERS', () => {
    const config = loadConfig({
      env: {
        INTENTSTREAM_SESSIONS__INACTIVITY_GAP: '45m',
        INTENTSTREAM_TOPICS__PARTITIONS: '12',
        INTENTSTREAM_KAFKA__SCHEMA_REGISTRY_URL: 'http://registry:8081',
        KAFKA_BROKERS: 'a:9092, b:9093',
      },
    });
    assert.equal(config.sessions.inactivityGap, 45 * 60_000);
    assert.equal(config.topics.partitions, 12);
    assert.equal(config.kafka.schemaRegistryUrl, 'http://registry:8081');
    assert.deepEqual(config.kafka.brokers, ['a:9092', 'b:9093']);
  });

  it('layers a YAML file over the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'sessions:\n  maxEvents: 50\ntopics:\n  events: my.events\n');
    const config = loadConfig({ file, env: {} });
    assert.equal(config.sessions.maxEvents, 50);
    assert.equal(config.topics.events, 'my.events');
    assert.equal(config.topics.predictions, 'shop.predictions');
  });

  const invalid: [string, Record<string, string>, string, RegExp][] = [
    ['bad duration', { INTENTSTREAM_SESSIONS__GRACE: 'soon' }, 'sessions.grace', /duration/],
    [
      'zero gap',
      { INTENTSTREAM_SESSIONS__INACTIVITY_GAP: '0' },
      'sessions.inactivityGap',
      /greater than zero/,
    ],
    [
      'negative max events',
      { INTENTSTREAM_SESSIONS__MAX_EVENTS: '-3' },
      'sessions.maxEvents',
      /greater than 0/,
    ],
    ['broker without port', { KAFKA_BROKERS: 'localhost' }, 'kafka.brokers.0', /host:port/],
    ['bad topic name', { INTENTSTREAM_TOPICS__EVENTS: 'a topic' }, 'topics.events', /topic name/],
    ['bad log level', { INTENTSTREAM_LOG__LEVEL: 'loud' }, 'log.level', /debug/],
    ['port out of range', { INTENTSTREAM_HTTP__PORTS__INGEST: '70000' }, 'http.ports.ingest', /65535/],
    [
      'a label target that is an event type, not a role',
      { INTENTSTREAM_TRAINER__LABELS__TARGET: 'order_done' },
      'trainer.labels.target',
      /a role: one of productView, addToCart, removeFromCart, checkout, purchase \(trainer\.roles maps/,
    ],
    [
      'an event type in two roles',
      { INTENTSTREAM_TRAINER__ROLES__CHECKOUT: '[purchase]' },
      'trainer.roles',
      /one role only: purchase \(checkout, purchase\)/,
    ],
    [
      'an event-type vocabulary of size zero',
      { INTENTSTREAM_TRAINER__FEATURES__EVENT_TYPES__MAX_SIZE: '0' },
      'trainer.features.eventTypes.maxSize',
      /greater than 0/,
    ],
  ];
  for (const [name, env, path, pattern] of invalid) {
    it(`fails fast on ${name}, naming ${path}`, () =>
      expectConfigError(() => loadConfig({ env }), path, pattern));
  }

  it('names the source of a bad value', () => {
    assert.throws(
      () => loadConfig({ env: { INTENTSTREAM_SESSIONS__GRACE: 'soon' } }),
      /from env INTENTSTREAM_SESSIONS__GRACE/,
    );
  });

  it('rejects unknown keys in a file and unknown INTENTSTREAM_ variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'sessions:\n  inactivityGapp: 5m\n');
    expectConfigError(() => loadConfig({ file, env: {} }), 'sessions', /inactivityGapp/);
    assert.throws(
      () => loadConfig({ env: { INTENTSTREAM_SESSIONS__GAP: '1m' } }),
      /unknown environment variable/,
    );
  });

  it('documents one variable per leaf field', () => {
    const names = listEnvVariables().map((v) => v.name);
    assert.ok(names.includes('INTENTSTREAM_SESSIONS__INACTIVITY_GAP'));
    assert.ok(names.includes('INTENTSTREAM_HTTP__PORTS__SCORER'));
    assert.equal(envNameFor(['kafka', 'maxMessageBytes']), 'INTENTSTREAM_KAFKA__MAX_MESSAGE_BYTES');
  });

  it("maps the shop's event types to roles, the generator's names by default", () => {
    assert.deepEqual(loadConfig({ env: {} }).trainer.roles, {
      productView: ['product_view'],
      addToCart: ['add_to_cart'],
      removeFromCart: ['remove_from_cart'],
      checkout: ['checkout'],
      purchase: ['purchase'],
    });
    const config = loadConfig({
      env: { INTENTSTREAM_TRAINER__ROLES__PURCHASE: '[order_done, payment_ok]' },
    });
    assert.deepEqual(config.trainer.roles.purchase, ['order_done', 'payment_ok']);
  });
});

describe('config: scorer section', () => {
  it('has defaults with durations in milliseconds', () => {
    const { scorer } = loadConfig({ env: {} });
    assert.equal(scorer.groupId, 'scorer');
    assert.equal(scorer.emit, 'every');
    assert.equal(scorer.reloadInterval, 2_000);
    assert.equal(scorer.maxOpenSessions, 500_000);
    assert.equal(scorer.maxBufferedEvents, 50);
    assert.equal(scorer.exactlyOnce, true);
  });

  it('rejects an unknown emission policy and a threshold outside (0, 1)', () => {
    expectConfigError(
      () => loadConfig({ env: { INTENTSTREAM_SCORER__EMIT: 'sometimes' } }),
      'scorer.emit',
      /every/,
    );
    expectConfigError(
      () => loadConfig({ env: { INTENTSTREAM_SCORER__THRESHOLD: '1.5' } }),
      'scorer.threshold',
      /1/,
    );
  });
});
